"""The telemetry contract rejects what cannot be trusted and keeps what is absent as null."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.telemetry import TelemetryReading

GOOD = {
    "skid_id": "ATL-01",
    "source_ts": "2026-07-01T12:00:00Z",
    "seq": 7,
    "product_code": "ULSD",
    "line_flow_bph": 52000.0,
    "dra_injection_gph": 21.8,
    "discharge_psig": 700.5,
    "pumps_running": 3,
    "injection_pump_running": True,
}


def test_valid_reading_parses_and_absent_signals_are_none() -> None:
    r = TelemetryReading.model_validate(GOOD)
    assert r.source_ts == datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert r.suction_psig is None and r.temperature_degf is None


def test_offset_timestamps_are_normalised_to_utc() -> None:
    r = TelemetryReading.model_validate({**GOOD, "source_ts": "2026-07-01T08:00:00-04:00"})
    assert r.source_ts == datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert r.source_ts.utcoffset() is not None and r.source_ts.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source_ts": "2026-07-01T12:00:00"}, "source_ts"),  # naive
        ({"line_flow_bph": -9999.0}, "line_flow_bph"),  # sentinel
        ({"discharge_psig": -9999}, "discharge_psig"),
        ({"seq": -1}, "seq"),
        ({"seq": 2**63}, "seq"),  # fits no INT64 column
        ({"pumps_running": "three"}, "pumps_running"),
        ({"line_flow_bph": float("nan")}, "line_flow_bph"),
        ({"flow": 1.0}, "flow"),  # unknown field: a typo must not pass silently
        ({"skid_id": ""}, "skid_id"),
        ({"source_ts": "0001-01-01T00:00:00+01:00"}, "source_ts"),  # before year 1 in UTC
        ({"source_ts": "9999-12-31T23:30:00-01:00"}, "source_ts"),  # after 9999 in UTC
    ],
)
def test_bad_readings_are_rejected_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        TelemetryReading.model_validate({**GOOD, **change})
    assert field in {str(e["loc"][0]) for e in err.value.errors()}


def test_missing_required_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as err:
        TelemetryReading.model_validate({"skid_id": "ATL-01"})
    assert {str(e["loc"][0]) for e in err.value.errors()} == {"source_ts", "seq"}


def test_json_round_trip_is_lossless() -> None:
    r = TelemetryReading.model_validate(GOOD)
    assert TelemetryReading.model_validate_json(r.model_dump_json()) == r
