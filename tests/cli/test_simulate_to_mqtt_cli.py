"""``dra-twin simulate --to-mqtt``: the simulator's messages reach a real broker intact,
in order, at the pace asked for; bad arguments are clear errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cli.local_services import Mosquitto
from cli.main import main
from tests.conftest import REFERENCE_CONFIG

BASE = ["simulate", "--config", str(REFERENCE_CONFIG), "--start", "2026-07-01T00:00:00+00:00"]


@pytest.mark.integration
def test_messages_arrive_byte_identical_and_in_order_at_the_asked_speed(
    mqtt_broker: Mosquitto, tmp_path: Path
) -> None:
    received: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-sim-to-mqtt")
    client.on_message = lambda _c, _u, msg: received.append(msg.payload)
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.subscribe("dra/atl-pilot/+/telemetry", qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(5)
        # 120 s of telemetry at 2 s, with a malformed minute, at 120x: about 1 s of wall time
        args = [*BASE, "--hours", str(120 / 3600), "--interval-s", "2", "--seed", "3"]
        args += ["--fault", "malformed:ATL-01:30s:60s", "--out", str(tmp_path)]
        started = time.monotonic()
        assert main([*args, "--to-mqtt", f"127.0.0.1:{mqtt_broker.port}", "--speed", "120"]) == 0
        elapsed_s = time.monotonic() - started
        expected = (tmp_path / "readings.jsonl").read_bytes().splitlines()
        deadline = time.monotonic() + 10
        while len(received) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    assert len(expected) == 60
    assert received == expected
    # paced by source time: the last message is 118 s after the first, i.e. 0.98 s at 120x
    assert elapsed_s >= 118 / 120


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate-hz", "10", "--out", "x"], "give --to-mqtt too"),
        ([], "give --out DIR, --to-mqtt HOST:PORT, or both"),
        (["--to-mqtt", "127.0.0.1:1", "--rate-hz", "0"], "rate_hz must be > 0"),
        (["--to-mqtt", "127.0.0.1:1"], "cannot connect to MQTT broker 127.0.0.1:1"),
    ],
)
def test_bad_to_mqtt_use_is_a_clear_error_with_exit_2(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, "--hours", "0.01", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--to-mqtt", "localhost"], "expected HOST:PORT"),
        (["--to-mqtt", "localhost:99999"], "expected HOST:PORT"),
        (["--to-mqtt", "h:1", "--rate-hz", "5", "--speed", "2"], "not allowed with"),
    ],
)
def test_malformed_to_mqtt_arguments_are_usage_errors(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([*BASE, "--hours", "0.01", *extra])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
