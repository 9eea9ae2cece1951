"""Attributes of a forwarded message; event time read leniently from the payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.attributes import (
    attribute_problem,
    estimated_message_bytes,
    message_attributes,
    skid_id_from_topic,
    source_ts_of,
    truncate_utf8,
)
from schemas.telemetry import TelemetryReading

RECEIVED = datetime(2026, 7, 1, 16, 0, 5, 250000, tzinfo=UTC)


def _reading_payload(**changes: object) -> bytes:
    reading = TelemetryReading(
        skid_id="ATL-01",
        source_ts=datetime(2026, 7, 1, 12, 0, 1, 500000, tzinfo=timezone(timedelta(hours=-4))),
        seq=7,
    )
    document = json.loads(reading.model_dump_json())
    document.update(changes)
    return json.dumps(document).encode()


def test_reading_gets_every_attribute() -> None:
    attributes = message_attributes(
        topic="dra/atl-pilot/ATL-01/telemetry",
        qos=1,
        retain=False,
        payload=_reading_payload(),
        received_at=RECEIVED,
        skid_id_level=2,
        user_properties=[("rtu", "rtu-7"), ("fw", "1.2")],
    )
    assert attributes == {
        "mqtt_topic": "dra/atl-pilot/ATL-01/telemetry",
        "mqtt_qos": "1",
        "mqtt_retain": "false",
        "skid_id": "ATL-01",
        "bridge_received_ts": "2026-07-01T16:00:05.250000Z",
        # 12:00:01.5 at UTC-4 is 16:00:01.5 UTC
        "ts": "2026-07-01T16:00:01.500000Z",
        "mqtt_user_rtu": "rtu-7",
        "mqtt_user_fw": "1.2",
    }


def test_repeated_user_property_keeps_every_value_in_order() -> None:
    attributes = message_attributes(
        topic="a/b/c",
        qos=0,
        retain=True,
        payload=b"{}",
        received_at=RECEIVED,
        skid_id_level=2,
        user_properties=[("tag", "x"), ("tag", "y")],
    )
    assert json.loads(attributes["mqtt_user_tag"]) == ["x", "y"]
    assert attributes["mqtt_retain"] == "true"
    assert attributes["mqtt_qos"] == "0"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json at all",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'{"skid_id": "ATL-01"}',
        b'{"source_ts": 1751371200}',
        b'{"source_ts": "yesterday"}',
        b'{"source_ts": "2026-07-01T12:00:00"}',  # naive: unknown zone, no event time
        b"",
    ],
)
def test_unreadable_payload_has_no_ts_but_is_not_rejected(payload: bytes) -> None:
    assert source_ts_of(payload) is None
    attributes = message_attributes(
        topic="dra/s/K1/telemetry",
        qos=1,
        retain=False,
        payload=payload,
        received_at=RECEIVED,
        skid_id_level=2,
    )
    assert "ts" not in attributes
    assert attributes["skid_id"] == "K1"


def test_ts_does_not_require_a_valid_reading() -> None:
    """Lenient: an out-of-range reading still carries its event time; the pipeline
    dead-letters it with the time it belongs to."""
    payload = _reading_payload(line_flow_bph=-9999, unknown_field=True)
    assert source_ts_of(payload) == datetime(2026, 7, 1, 16, 0, 1, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("topic", "level", "expected"),
    [
        ("dra/atl-pilot/ATL-01/telemetry", 2, "ATL-01"),
        ("dra/atl-pilot", 2, None),
        ("dra/atl-pilot//telemetry", 2, None),
        ("ATL-01", 0, "ATL-01"),
    ],
)
def test_skid_id_from_topic(topic: str, level: int, expected: str | None) -> None:
    assert skid_id_from_topic(topic, level) == expected


def test_estimated_size_is_an_upper_bound_of_the_real_request() -> None:
    from google.pubsub_v1 import types as gapic_types

    payload = _reading_payload()
    attributes = {"mqtt_topic": "dra/s/K/telemetry", "ts": "2026-07-01T16:00:01.500000Z"}
    real = gapic_types.PublishRequest(
        topic="projects/some-project-id/topics/telemetry",
        messages=[gapic_types.PubsubMessage(data=payload, attributes=attributes)],
    )._pb.ByteSize()
    assert real <= estimated_message_bytes(payload, attributes) <= real + 600


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"a": "x" * 1024, "b": "é" * 512}, None),
        ({"a": "é" * 513}, "attribute 'a' is 1026 bytes; Pub/Sub allows 1024"),
        ({"k" * 257: "v"}, "bytes; Pub/Sub allows 256"),
        ({f"k{i}": "v" for i in range(101)}, "101 attributes; Pub/Sub allows 100"),
    ],
)
def test_attribute_problem_applies_pubsub_limits_in_utf8_bytes(
    attributes: dict[str, str], problem: str | None
) -> None:
    found = attribute_problem(attributes)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_truncate_utf8_never_splits_a_character() -> None:
    assert truncate_utf8("abc", 10) == "abc"
    assert truncate_utf8("aé", 2) == "a"
    assert truncate_utf8("éé", 4) == "éé"
