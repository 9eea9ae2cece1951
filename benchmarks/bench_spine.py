"""Time-spine arithmetic: the vectorised ``twin.spine`` against the per-signal code it
replaced (kept as the oracle of ``tests/twin/test_spine_reference.py``), same process,
same simulated readings.

Two shapes: a streaming firing (20 grid points from 300 readings, then the
fingerprint and the record of every emitted row, as ``SpineFn`` does) and a backfill
day chunk (1,440 points from 8,640 readings, as ``SpineChunkFn`` does). The goals
(>= 2x per firing, >= 1.5x per chunk) are the speed-up the rewrite was made for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks._harness import Comparison, compare
from schemas.site_config import load_site_config
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from tests.twin.test_spine_reference import (
    reference_compute_spine,
    reference_row_fingerprint,
    reference_to_spine_point,
)
from twin.simulator import SimulationSpec, simulate
from twin.spine import (
    ReadingColumns,
    SpineBlock,
    columns_from_readings,
    compute_spine,
    row_fingerprint,
    to_spine_point,
)

_CONFIG = Path(__file__).resolve().parent.parent / "config" / "atlanta-pilot.yaml"
_INTERVAL_S = 60
_LIMITS_S = np.full(len(NUMERIC_SIGNALS), 120.0)
_FIRINGS = 200
_CHUNKS = 20


def _readings(hours: float, interval_s: float) -> ReadingColumns:
    config = load_site_config(_CONFIG)
    spec = SimulationSpec(
        start=datetime(2026, 7, 1, tzinfo=UTC),
        duration_s=hours * 3600,
        interval_s=interval_s,
        seed=3,
        skid_ids=("ATL-01",),
    )
    return columns_from_readings(
        [
            TelemetryReading.model_validate(json.loads(m.payload))
            for m in simulate(config, spec).messages
        ]
    )


def _firing(
    spine: Callable[..., SpineBlock],
    fingerprint: Callable[[SpineBlock, int], object],
    record: Callable[..., object],
    cols: ReadingColumns,
    first: int,
) -> None:
    now = datetime.now(UTC)
    block = spine(cols, first, first + 19, _INTERVAL_S, _LIMITS_S, 3600.0)
    for i in np.flatnonzero(block.emit).tolist():
        fingerprint(block, i)
        record(block, i, "ATL-01", 0, now)


def main() -> list[Comparison]:
    stream = _readings(1200 / 3600, 4.0)  # 300 readings over 20 minutes
    stream_first = int(stream.ts_s.min()) // _INTERVAL_S
    day = _readings(24, 10.0)  # 8,640 readings
    day_first = int(day.ts_s.min()) // _INTERVAL_S

    def firings(new: bool) -> Callable[[], None]:
        spine, fingerprint, record = (
            (compute_spine, row_fingerprint, to_spine_point)
            if new
            else (reference_compute_spine, reference_row_fingerprint, reference_to_spine_point)
        )

        def run() -> None:
            for _ in range(_FIRINGS):
                _firing(spine, fingerprint, record, stream, stream_first)

        return run

    def chunks(spine: Callable[..., SpineBlock]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(_CHUNKS):
                spine(day, day_first, day_first + 1439, _INTERVAL_S, _LIMITS_S, 3600.0)

        return run

    return [
        compare(
            "spine firing (20 points, 300 readings, rows out) vs per-signal code",
            firings(new=True),
            firings(new=False),
            work_units=_FIRINGS,
            unit="firings",
            goal_ratio=2.0,
        ),
        compare(
            "spine day chunk (1,440 points, 8,640 readings) vs per-signal code",
            chunks(compute_spine),
            chunks(reference_compute_spine),
            work_units=_CHUNKS,
            unit="chunks",
            goal_ratio=1.5,
        ),
    ]
