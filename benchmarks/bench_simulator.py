"""Simulator speed: one skid-day at 1 s (86,400 readings).

Baseline, measured in the same run: validating and serialising the same 86,400
readings record by record through the pydantic model (Rust core), i.e. the cost of
the output alone. The simulator computes the physics too; the goal (>= 0.33x) says
the vectorised physics and encoding together cost at most 3x what serialising the
output costs, which keeps a skid-day at 1 s to about a second.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._harness import Comparison, compare
from schemas.site_config import load_site_config
from schemas.telemetry import TelemetryReading
from twin.simulator import SimulationSpec, simulate

_CONFIG = Path(__file__).resolve().parent.parent / "config" / "atlanta-pilot.yaml"


def main() -> list[Comparison]:
    config = load_site_config(_CONFIG)
    spec = SimulationSpec(start=datetime(2026, 7, 1, tzinfo=UTC), duration_s=86_400, seed=1)
    docs = [json.loads(m.payload) for m in simulate(config, spec).messages]

    def naive() -> None:
        for doc in docs:
            TelemetryReading.model_validate(doc).model_dump_json()

    return [
        compare(
            "simulate 1 skid-day at 1 s vs pydantic per-record serialisation",
            lambda: simulate(config, spec),
            naive,
            work_units=len(docs),
            unit="readings",
            goal_ratio=0.33,
        )
    ]
