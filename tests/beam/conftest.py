"""Helpers shared by the Beam tests: readings at chosen times, simulated telemetry with
transport faults, streaming options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineResult, PipelineState
from pydantic import ValidationError

from beam.pipeline import run
from schemas.site_config import SiteConfig
from schemas.telemetry import TelemetryReading
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind, FaultSpec, SimulatedMessage, SimulationSpec, simulate

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
"""A grid-aligned start time (minute boundary) for hand-made readings."""


def reading(offset_s: float, seq: int, skid_id: str = "ATL-01", **signals: Any) -> TelemetryReading:
    """A valid reading ``offset_s`` after ``T0``; unspecified signals get typical values."""
    values: dict[str, Any] = {
        "product_code": "ULSD",
        "line_flow_bph": 50_000.0,
        "dra_injection_gph": 21.0,
        "suction_psig": 40.0,
        "discharge_psig": 700.0,
        "downstream_psig": 60.0,
        "temperature_degf": 60.0,
        "pumps_running": 3,
        "injection_pump_running": True,
    }
    values.update(signals)
    return TelemetryReading(
        skid_id=skid_id, source_ts=T0 + timedelta(seconds=offset_s), seq=seq, **values
    )


def streaming_options() -> PipelineOptions:
    options = PipelineOptions(runner="BundleBasedDirectRunner")
    options.view_as(StandardOptions).streaming = True
    return options


def is_valid_reading(payload: bytes) -> bool:
    """Whether a payload passes the contract: the tests' independent count of what the
    job must use, as opposed to what it must dead-letter."""
    try:
        TelemetryReading.model_validate_json(payload)
    except ValidationError:
        return False
    return True


def assert_every_message_accounted_for(payloads: list[bytes], url: str) -> None:
    """Messages in = distinct readings used + duplicates + dead letters, exactly, each
    term held against the tests' own count from the payloads (``is_valid_reading``);
    nothing too late. The warehouse's raw table keeps every delivered copy."""
    from collections import Counter

    from warehouse import open_warehouse

    valid = [p for p in payloads if is_valid_reading(p)]
    expected_duplicates = sum(n - 1 for n in Counter(valid).values())
    expected_dead = len(payloads) - len(valid)
    assert expected_duplicates > 0 and expected_dead > 0
    wh = open_warehouse(url)
    (counts,) = wh.query(
        "SELECT (SELECT COUNT(*) FROM raw_readings) AS raw, COUNT(*) AS distinct_used "
        "FROM (SELECT DISTINCT skid_id, source_ts, seq FROM raw_readings)"
    )
    stages = {
        r["stage"]: r["n"]
        for r in wh.query("SELECT stage, COUNT(*) AS n FROM dead_letters GROUP BY stage")
    }
    dead = sum(stages.values())
    duplicates = counts["raw"] - counts["distinct_used"]
    assert "TOO_LATE" not in stages
    assert counts["distinct_used"] == len(set(valid))
    assert duplicates == expected_duplicates
    assert dead == expected_dead
    assert counts["distinct_used"] + duplicates + dead == len(payloads)


def simulate_transport_faults(
    config: SiteConfig,
    start: datetime,
    minutes: int,
    seed: int,
    fault_minutes: dict[FaultKind, tuple[int, int]],
) -> list[SimulatedMessage]:
    """The pilot skid at 1 s for ``minutes`` from ``start``, with each fault kind
    injected between the given minutes (from, to) after ``start``."""
    faults = tuple(
        FaultSpec(
            kind=kind,
            skid_id="ATL-01",
            start=start + timedelta(minutes=a),
            end=start + timedelta(minutes=b),
        )
        for kind, (a, b) in fault_minutes.items()
    )
    spec = SimulationSpec(
        start=start,
        duration_s=minutes * 60,
        interval_s=1.0,
        seed=seed,
        skid_ids=("ATL-01",),
        faults=faults,
    )
    return simulate(config, spec).messages


def run_backfill(source: str, url: str, *extra: str) -> PipelineResult:
    """``dra-twin backfill``'s pipeline from ``source`` into the warehouse at ``url``
    on the FnApiRunner, run to success."""
    result = run(
        [
            f"--config={REFERENCE_CONFIG}",
            f"--input={source}",
            f"--warehouse={url}",
            "--runner=FnApiRunner",
            *extra,
        ]
    )
    assert result.wait_until_finish() == PipelineState.DONE
    return result
