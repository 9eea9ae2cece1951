"""``dra-twin bridge``: config errors at start, no secrets printed; health endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.metrics import parse_prometheus_text
from cli.local_services import Mosquitto, PubSubEmulator, free_port
from cli.main import main
from tests.bridge._support import (
    bridge_in_process,
    config_dict,
    create_topics,
    http_get,
    local_config,
    wait_until,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "bridge" / "bridge.example.yaml"


def test_example_config_checks_and_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRA_BRIDGE_MQTT__USERNAME", "bridge")
    monkeypatch.setenv("DRA_BRIDGE_MQTT__PASSWORD", "pa55-word-value")
    assert main(["bridge", "--config", str(EXAMPLE), "--check"]) == 0
    out = capsys.readouterr().out
    assert '"client_id": "dra-bridge-0"' in out
    assert "pa55-word-value" not in out
    assert '"password": "**********"' in out


def test_bad_config_fails_at_start_with_field_and_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRA_BRIDGE_PUBSUB__DEAD_LETTER_TOPIC", "dra-local-telemetry")
    monkeypatch.setenv("DRA_BRIDGE_MAX_IN_FLIGHT", "-3")
    assert main(["bridge", "--config", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {EXAMPLE}: invalid bridge config")
    assert "  pubsub: Value error, dead_letter_topic must differ from topic" in err
    assert "  max_in_flight: Input should be greater than or equal to 1" in err
    assert "Traceback" not in err


@pytest.mark.integration
def test_ready_only_when_connected_to_broker_and_pubsub(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator
) -> None:
    create_topics(pubsub.project, "health-tel", "health-tel-dlq")
    common = {"emulator_host": pubsub.host, "project": pubsub.project}
    no_broker = config_dict("health", broker_port=free_port(), **common)
    with bridge_in_process(no_broker) as bridge:
        port = bridge.health_port
        assert port is not None
        assert http_get(port, "/healthz") == (200, "ok\n")
        status, body = http_get(port, "/readyz")
        assert (status, body) == (
            503,
            "not ready: not connected and subscribed to the MQTT broker\n",
        )
    no_pubsub = config_dict(
        "health",
        broker_port=mqtt_broker.port,
        **{**common, "emulator_host": f"127.0.0.1:{free_port()}"},
    )
    with bridge_in_process(no_pubsub) as bridge:
        port = bridge.health_port
        assert port is not None
        wait_until(lambda: bridge.metrics.mqtt_connected == 1, 10, "broker connection")
        status, body = http_get(port, "/readyz")
        assert status == 503 and body.startswith("not ready: Pub/Sub channel"), body
    with bridge_in_process(local_config("health", mqtt_broker, pubsub)) as bridge:
        port = bridge.health_port
        assert port is not None
        wait_until(lambda: http_get(port, "/readyz")[0] == 200, 20, "ready")
        status, text = http_get(port, "/metrics")
        metrics = parse_prometheus_text(text)
        assert status == 200
        assert metrics["dra_bridge_mqtt_connected"] == 1
        assert metrics["dra_bridge_pubsub_ready"] == 1
        assert metrics["dra_bridge_received_total"] == 0
        assert "# TYPE dra_bridge_in_flight gauge" in text
        assert http_get(port, "/nope")[0] == 404
