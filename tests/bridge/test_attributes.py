"""Attributes of a forwarded message; event time read leniently from the payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.attributes import (
    attribute_problem,
    estimated_message_bytes,
    message_attributes,
    skid_id_from_topic,
    source_ts_of,
    source_ts_of_standard,
    truncate_utf8,
)
from schemas.site_config import load_site_config
from schemas.telemetry import TelemetryReading
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind, FaultSpec, SimulationSpec, simulate

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


# --- the fast JSON path for ts agrees with the standard library's parser ---------------

_TRICKY_PAYLOADS = [
    b'{"source_ts":"2026-07-01T00:00:05Z"}',
    b'{"source_ts":"2026-07-01T00:00:05Z","source_ts":"2026-07-01T09:00:00+02:00"}',
    b'{"source_ts":"2026-07-01T00:00:05Z","source_ts":7}',
    b'{"source\\u005fts":"2026-07-01T00:00:05Z"}',  # escaped key
    b'{"source_ts":"2026\\u002d07-01T00:00:05Z"}',  # escaped value
    b'{"nested":{"source_ts":"2026-07-01T00:00:05Z"}}',
    b'{"note":"\\"source_ts\\":\\"2026-07-01T00:00:05Z\\""}',  # the key inside a string
    b'\xef\xbb\xbf{"source_ts":"2026-07-01T00:00:05Z"}',  # UTF-8 byte-order mark
    '{"source_ts":"2026-07-01T00:00:05Z"}'.encode("utf-16"),
    '{"source_ts":"2026-07-01T00:00:05Z"}'.encode("utf-32-le"),
    b'{"s":"\\ud800","source_ts":"2026-07-01T00:00:05Z"}',  # lone surrogate
    b'{"v":NaN,"w":-Infinity,"x":1e400,"source_ts":"2026-07-01T00:00:05Z"}',
    b'{"big":123456789012345678901234567890,"source_ts":"2026-07-01T00:00:05Z"}',
    b'{"source_ts":"2026-07-01T00:00:05Z"} trailing',
    b'{"source_ts":"2026-07-01T00:00:05Z",}',
    b'{"source_ts":"2026-07-01T00:00:05Z"\x00}',
    b'{"source_ts":"2026-07-01T00:00:05Z","d":"\xff"}',
    b'{"source_ts":"2026-07-01T00:00:05Z","d":"\x01"}',
    b'{"d":' + b"[" * 5_000 + b"]" * 5_000 + b',"source_ts":"2026-07-01T00:00:05Z"}',
    b"[" * 100_000 + b"]" * 100_000,  # too deep for either parser: no ts, no crash
    b' \n{"source_ts" : "2026-07-01T00:00:05+00:00"}\n ',
    b'{"source_ts":"2026-07-01T00:00:05"}',
    b'{"source_ts":"2026-13-01T00:00:05Z"}',
    b'{"source_ts":null}',
    b"",
    b"null",
]


@pytest.mark.parametrize("payload", _TRICKY_PAYLOADS)
def test_fast_ts_path_agrees_with_the_standard_parser_on_tricky_payloads(payload: bytes) -> None:
    assert source_ts_of(payload) == source_ts_of_standard(payload)


def test_fast_ts_path_agrees_with_the_standard_parser_on_simulator_payloads() -> None:
    """Every payload the simulator makes, readings and its malformed ones (truncated,
    not JSON, naive time, ...), and each of them cut short and with a byte changed."""
    start = datetime(2026, 7, 1, tzinfo=UTC)
    faults = tuple(
        FaultSpec(kind=kind, skid_id="ATL-01", start=start + timedelta(minutes=m), end=end)
        for kind, m, end in (
            (FaultKind.MALFORMED, 5, start + timedelta(minutes=25)),
            (FaultKind.DUPLICATE, 30, start + timedelta(minutes=32)),
        )
    )
    spec = SimulationSpec(
        start=start, duration_s=2_400, interval_s=1.0, seed=3, skid_ids=("ATL-01",), faults=faults
    )
    payloads = [m.payload for m in simulate(load_site_config(REFERENCE_CONFIG), spec).messages]
    assert sum(source_ts_of_standard(p) is None for p in payloads) > 100  # malformed ones
    variants = []
    for i, payload in enumerate(payloads):
        variants += [payload, payload[: i % max(len(payload), 1)]]
        if payload:
            j = (i * 7) % len(payload)
            variants.append(payload[:j] + bytes([(payload[j] + i) % 256]) + payload[j + 1 :])
    for payload in variants:
        assert source_ts_of(payload) == source_ts_of_standard(payload), payload


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    document=st.dictionaries(st.sampled_from(["source_ts", "skid_id", "x"]), _json_values),
    when=st.datetimes(timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=5)))),
    ensure_ascii=st.booleans(),
    cut=st.integers(min_value=0, max_value=400),
)
def test_fast_ts_path_agrees_with_the_standard_parser_on_generated_json(
    document: dict[str, object], when: datetime, ensure_ascii: bool, cut: int
) -> None:
    if "source_ts" in document and document["source_ts"] is None:
        document["source_ts"] = when.isoformat()
    payload = json.dumps(document, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    for candidate in (payload, payload[:cut]):
        assert source_ts_of(candidate) == source_ts_of_standard(candidate)
