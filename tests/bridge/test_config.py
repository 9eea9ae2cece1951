"""Bridge config: file + environment, bad values named at start, password never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from bridge.config import BridgeConfigError, load_bridge_config

MINIMAL = {
    "mqtt": {"host": "broker.example", "client_id": "bridge-0"},
    "pubsub": {"project": "proj", "topic": "telemetry", "dead_letter_topic": "telemetry-dlq"},
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_file_values_with_defaults(tmp_path: Path) -> None:
    config = load_bridge_config(_write(tmp_path, MINIMAL), environ={})
    assert config.mqtt.port == 1883
    assert config.mqtt.protocol == "5"
    assert config.mqtt.subscriptions() == ["dra/+/+/telemetry"]
    assert config.pubsub.max_message_bytes == 10_000_000


def test_environment_overrides_the_file_field_by_field(tmp_path: Path) -> None:
    env = {
        "DRA_BRIDGE_MQTT__PORT": "8883",
        "DRA_BRIDGE_MQTT__USERNAME": "skids",
        "DRA_BRIDGE_MQTT__PASSWORD": "s3cret-value",
        "DRA_BRIDGE_MQTT__TOPIC_FILTERS": "dra/+/+/telemetry, dra/+/+/status",
        "DRA_BRIDGE_MQTT__SHARED_GROUP": "bridges",
        "DRA_BRIDGE_PUBSUB__ORDERING_BY_SKID": "true",
        "UNRELATED": "x",
    }
    config = load_bridge_config(_write(tmp_path, MINIMAL), environ=env)
    assert config.mqtt.port == 8883
    assert config.mqtt.host == "broker.example"
    assert config.pubsub.ordering_by_skid is True
    assert config.mqtt.subscriptions() == [
        "$share/bridges/dra/+/+/telemetry",
        "$share/bridges/dra/+/+/status",
    ]
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "s3cret-value"


def test_environment_alone_is_enough() -> None:
    env = {
        "DRA_BRIDGE_MQTT__HOST": "h",
        "DRA_BRIDGE_MQTT__CLIENT_ID": "c",
        "DRA_BRIDGE_PUBSUB__PROJECT": "p",
        "DRA_BRIDGE_PUBSUB__TOPIC": "tel",
        "DRA_BRIDGE_PUBSUB__DEAD_LETTER_TOPIC": "tel-dlq",
    }
    assert load_bridge_config(None, environ=env).pubsub.topic == "tel"


def test_password_never_in_repr_dump_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = {**MINIMAL, "mqtt": {**MINIMAL["mqtt"], "username": "u", "password": "hunter2-pw"}}
    config = load_bridge_config(_write(tmp_path, data), environ={})
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("config %s", config)
    assert "hunter2-pw" not in repr(config)
    assert "hunter2-pw" not in config.model_dump_json()
    assert "hunter2-pw" not in caplog.text


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"mqtt": {"port": 70000}}, "mqtt.port", "less than or equal to 65535"),
        ({"mqtt": {"client_id": ""}}, "mqtt.client_id", "at least 1 character"),
        ({"mqtt": {"topic_filters": ["dra/#/x"]}}, "mqtt.topic_filters.0", "'#' must be"),
        ({"mqtt": {"topic_filters": ["dra/a+/x"]}}, "mqtt.topic_filters.0", "'+' must be"),
        ({"mqtt": {"protocol": "3.1.1", "shared_group": "g"}}, "mqtt", "needs protocol '5'"),
        ({"mqtt": {"password": "x"}}, "mqtt", "without username"),
        ({"mqtt": {"tls": {"ca_file": "/nonexistent/ca.pem"}}}, "mqtt.tls.ca_file", "not found"),
        ({"mqtt": {"hostname": "typo"}}, "mqtt.hostname", "Extra inputs"),
        ({"pubsub": {"dead_letter_topic": "telemetry"}}, "pubsub", "must differ"),
        ({"pubsub": {"max_message_bytes": 20_000_000}}, "pubsub.max_message_bytes", "less than"),
        ({"max_in_flight": 0}, "max_in_flight", "greater than or equal to 1"),
    ],
)
def test_bad_value_names_field_and_reason(
    tmp_path: Path, change: dict[str, object], field: str, reason: str
) -> None:
    data: dict[str, object] = {k: dict(v) for k, v in MINIMAL.items()}
    for key, value in change.items():
        if isinstance(value, dict):
            data[key] = {**data[key], **value}  # type: ignore[dict-item]
        else:
            data[key] = value
    with pytest.raises(BridgeConfigError) as info:
        load_bridge_config(_write(tmp_path, data), environ={})
    assert any(f == field and reason in r for f, r in info.value.problems), info.value.problems


def test_bad_environment_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(BridgeConfigError) as info:
        load_bridge_config(_write(tmp_path, MINIMAL), environ={"DRA_BRIDGE_MQTT__PORT": "abc"})
    assert [f for f, _ in info.value.problems] == ["mqtt.port"]


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(BridgeConfigError, match="No such file"):
        load_bridge_config(tmp_path / "nope.yaml", environ={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("mqtt: [unclosed\n")
    with pytest.raises(BridgeConfigError, match=r"\(yaml\)"):
        load_bridge_config(bad, environ={})
