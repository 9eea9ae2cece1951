"""``plan_vs_actual`` on DuckDB: the latest plan per hour beside the realised hour,
against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas import EnergyRow, PlanRow, PlanSummary
from tests.warehouse.rows import representative_rows
from warehouse import DuckDBWarehouse

H10 = datetime(2026, 7, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
_ROWS = representative_rows()


def _row(plan_id: str, hour: datetime, flow: float, ppm: float, kwh: float, cost: float) -> PlanRow:
    """The representative plan row with the figures this test works out by hand."""
    return PlanRow.model_validate(
        _ROWS["plan_rows"].model_dump()
        | {
            "plan_id": plan_id,
            "hour_start": hour,
            "line_flow_bph": flow,
            "dra_ppm": ppm,
            "electric_kwh": kwh,
            "energy_cost_usd": cost,
            "dra_cost_usd": 10.0,
        }
    )


def _summary(plan_id: str, created: datetime) -> PlanSummary:
    return PlanSummary.model_validate(
        _ROWS["plan_summaries"].model_dump() | {"plan_id": plan_id, "created_ts": created}
    )


def _energy(ts: datetime, revision: int, volume: float, gal: float, kwh: float) -> EnergyRow:
    return EnergyRow(
        skid_id="ATL-01",
        grid_ts=ts,
        interval_s=1800,
        revision=revision,
        volume_bbl=volume,
        dra_gal=gal,
        electric_kwh=kwh,
        energy_cost_usd=kwh * 0.1,
        dra_cost_usd=gal * 9.5,
    )


def test_plan_vs_actual_uses_the_latest_plan_and_latest_revisions(tmp_path: Path) -> None:
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    # Plan A (older) covers 10:00 and 11:00; plan B (newer) re-plans 11:00 only.
    wh.insert_rows("plan_summaries", [_summary("A", H10), _summary("B", H10 + HOUR)])
    wh.insert_rows(
        "plan_rows",
        [
            _row("A", H10, 50_000.0, 10.0, 12_000.0, 1_200.0),
            _row("A", H10 + HOUR, 50_000.0, 10.0, 12_000.0, 1_200.0),
            _row("B", H10 + HOUR, 48_000.0, 8.0, 11_000.0, 1_100.0),
        ],
    )
    wh.insert_rows(
        "energy_rows",
        [
            # 10:00: two half-hours; the first has a superseded revision 0.
            _energy(H10, 0, 1.0, 0.0, 1.0),
            _energy(H10, 1, 24_000.0, 10.08, 6_000.0),
            _energy(H10 + HOUR / 2, 0, 25_000.0, 10.50, 6_500.0),
            # 11:00: no data yet.
        ],
    )
    rows = wh.query("SELECT * FROM plan_vs_actual ORDER BY hour_start", {})
    assert [(r["plan_id"], r["planned_flow_bph"]) for r in rows] == [
        ("A", 50_000.0),
        ("B", 48_000.0),
    ]
    ten, eleven = rows
    # 10:00 actual: 49,000 bbl; 20.58 gal / (49,000 * 42 gal) = 10.0 ppm; 12,500 kWh;
    # cost 1,250 energy + 195.51 DRA = 1,445.51 against 1,200 + 10 planned.
    assert ten["actual_flow_bph"] == pytest.approx(49_000.0)
    assert ten["actual_ppm"] == pytest.approx(10.0)
    assert ten["actual_kwh"] == pytest.approx(12_500.0)
    assert ten["actual_cost_usd"] == pytest.approx(1_445.51)
    assert ten["planned_cost_usd"] == pytest.approx(1_210.0)
    assert ten["flow_delta_bph"] == pytest.approx(-1_000.0)
    assert ten["kwh_delta"] == pytest.approx(500.0)
    assert ten["cost_delta_usd"] == pytest.approx(235.51)
    assert eleven["planned_ppm"] == 8.0 and eleven["actual_kwh"] is None
