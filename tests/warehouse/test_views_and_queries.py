"""Every view under bigquery/views and every query under bigquery/queries, run on the
DuckDB warehouse over seeded rows, against figures worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas import EnergyRow, Quality, SignalStats, SpinePoint
from tests.warehouse.rows import stats
from warehouse import DuckDBWarehouse
from warehouse.sql_files import QUERIES_DIR, VIEWS_DIR

DAY1 = datetime(2026, 7, 1, tzinfo=UTC)
H10 = DAY1 + timedelta(hours=10)
MIN = timedelta(minutes=1)


def _energy(skid: str, ts: datetime, revision: int = 0, **values: Any) -> EnergyRow:
    return EnergyRow(skid_id=skid, grid_ts=ts, interval_s=1800, revision=revision, **values)


def _ulsd(ppm: float, obs: float, exp: float, **values: Any) -> dict[str, Any]:
    return dict(
        product_code="ULSD",
        dra_ppm=ppm,
        dr_observed_pct=obs,
        dr_expected_pct=exp,
        dra_effectiveness=obs / exp,
        **values,
    )


ENERGY = [
    # ATL-01 10:00, revision 0 is superseded by revision 1 everywhere.
    _energy("ATL-01", H10, 0, electric_kwh=100.0, volume_bbl=1.0, **_ulsd(10, 10, 30)),
    _energy(
        "ATL-01",
        H10,
        1,
        electric_kwh=200.0,
        electric_kwh_no_dra=260.0,
        volume_bbl=1000.0,
        energy_cost_usd=20.0,
        energy_cost_usd_no_dra=26.0,
        dra_gal=5.0,
        dra_cost_usd=2.0,
        net_benefit_usd=4.0,
        **_ulsd(10, 25, 30),
    ),
    _energy(
        "ATL-01",
        H10 + 30 * MIN,
        electric_kwh=220.0,
        electric_kwh_no_dra=280.0,
        volume_bbl=1100.0,
        energy_cost_usd=22.0,
        energy_cost_usd_no_dra=28.0,
        dra_gal=6.0,
        dra_cost_usd=2.5,
        net_benefit_usd=3.5,
        **_ulsd(12, 27, 30),
    ),
    # ATL-01 11:00: the meter was missing, so no kWh, cost or saving; DRA still flowed.
    _energy(
        "ATL-01",
        H10 + 60 * MIN,
        product_code="ULSD",
        volume_bbl=900.0,
        dra_gal=4.0,
        dra_cost_usd=1.5,
    ),
    # ATL-01 next day, jet fuel: no DRA, no effectiveness.
    _energy(
        "ATL-01",
        DAY1 + timedelta(days=1),
        product_code="JET",
        dra_ppm=0.0,
        electric_kwh=150.0,
        electric_kwh_no_dra=150.0,
        volume_bbl=800.0,
        energy_cost_usd=15.0,
        energy_cost_usd_no_dra=15.0,
        dra_gal=0.0,
        dra_cost_usd=0.0,
        net_benefit_usd=0.0,
    ),
    _energy(
        "ATL-02",
        H10,
        electric_kwh=50.0,
        electric_kwh_no_dra=70.0,
        volume_bbl=500.0,
        energy_cost_usd=5.0,
        energy_cost_usd_no_dra=7.0,
        dra_gal=1.0,
        dra_cost_usd=0.4,
        net_benefit_usd=1.6,
        **_ulsd(8, 20, 25),
    ),
]


def _pumps(count: float) -> SignalStats:
    return SignalStats(mean=count, min=count, max=count, last=count, count=60, quality=Quality.GOOD)


def _spine(skid: str, ts: datetime, revision: int = 0, **signals: Any) -> SpinePoint:
    return SpinePoint(
        skid_id=skid,
        grid_ts=ts,
        interval_s=60,
        revision=revision,
        emitted_ts=ts + MIN * (1 + revision),
        **signals,
    )


SPINE = [
    _spine(
        "ATL-01",
        H10,
        0,
        product_code="ULSD",
        line_flow_bph=stats(50_000.0),
        pumps_running=_pumps(3.0),
    ),
    _spine(
        "ATL-01",
        H10,
        1,
        product_code="ULSD",
        line_flow_bph=stats(51_000.0, Quality.INTERPOLATED, 0),
        discharge_psig=stats(700.0),
        dra_tank_level_gal=stats(8_000.0),
    ),
    _spine(
        "ATL-01",
        H10 + MIN,
        product_code="ULSD",
        batch_id="B-1",
        line_flow_bph=stats(52_000.0),
        discharge_psig=stats(701.0),
        pumps_running=_pumps(2.0),
    ),
    _spine(
        "ATL-01",
        H10 + 2 * MIN,
        product_code="ULSD",
        line_flow_bph=stats(52_000.0, Quality.CARRIED_FORWARD, 0),
    ),
    _spine("ATL-01", H10 + 3 * MIN),  # silent: every signal MISSING
    _spine("ATL-02", H10, product_code="ULSD", line_flow_bph=stats(30_000.0)),
    # ATL-03 was last heard of two days ago: outside the one-day look-back.
    _spine("ATL-03", DAY1 - timedelta(days=2), line_flow_bph=stats(10_000.0)),
]

CHECKED_VIEWS = {
    "spine_latest",
    "energy_latest",
    "energy_hourly",
    "energy_daily",
    "dra_effectiveness_by_product",
    "data_quality",
    "plan_vs_actual",  # figures checked in tests/warehouse/test_plan_vs_actual.py
}
CHECKED_QUERIES = {"skid_status", "energy_range", "latest_spine_state"}


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(tmp_path_factory.mktemp("views") / "twin.duckdb")
    warehouse.insert_rows("energy_rows", ENERGY)
    warehouse.insert_rows("spine_points", SPINE)
    return warehouse


def _view(wh: DuckDBWarehouse, name: str, order_by: str) -> list[dict[str, Any]]:
    assert name in CHECKED_VIEWS
    return wh.query(f"SELECT * FROM {name} ORDER BY {order_by}")


def _query(wh: DuckDBWarehouse, name: str, **params: Any) -> list[dict[str, Any]]:
    assert name in CHECKED_QUERIES
    return wh.run_named_query(name, params)


def test_spine_latest_keeps_the_highest_revision(wh: DuckDBWarehouse) -> None:
    rows = _view(wh, "spine_latest", "skid_id, grid_ts")
    assert [(r["skid_id"], r["grid_ts"], r["revision"]) for r in rows] == [
        ("ATL-01", H10, 1),
        ("ATL-01", H10 + MIN, 0),
        ("ATL-01", H10 + 2 * MIN, 0),
        ("ATL-01", H10 + 3 * MIN, 0),
        ("ATL-02", H10, 0),
        ("ATL-03", DAY1 - timedelta(days=2), 0),
    ]
    assert rows[0]["line_flow_bph"]["quality"] == "INTERPOLATED"


def test_energy_latest_keeps_the_highest_revision(wh: DuckDBWarehouse) -> None:
    rows = _view(wh, "energy_latest", "skid_id, grid_ts")
    assert len(rows) == 5
    assert (rows[0]["revision"], rows[0]["electric_kwh"]) == (1, 200.0)


# Hourly, by hand. ATL-01 10:00 = revision 1 of 10:00 + 10:30:
#   kWh 200+220=420, no-DRA 260+280=540, volume 2100, kWh/bbl 420/2100=0.2,
#   cost 42, no-DRA cost 54, DRA 11 gal / $4.5, saving 54-42=12, net 4+3.5=7.5.
# ATL-01 11:00: no meter: kWh, cost, kWh/bbl, saving, net unknown; DRA 4 gal / $1.5.
# ATL-01 next day 00:00: 150 kWh / 800 bbl = 0.1875, no saving.
# ATL-02 10:00: 50/500 = 0.1 kWh/bbl, saving 7-5=2, net 1.6.
HOURLY = [
    ("ATL-01", H10, 2, 2, 2100.0, 420.0, 540.0, 0.2, 42.0, 54.0, 11.0, 4.5, 12.0, 7.5),
    ("ATL-01", H10 + 60 * MIN, 1, 0, 900.0, None, None, None, None, None, 4.0, 1.5, None, None),
    (
        "ATL-01",
        DAY1 + timedelta(days=1),
        1,
        1,
        800.0,
        150.0,
        150.0,
        0.1875,
        15.0,
        15.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ),
    ("ATL-02", H10, 1, 1, 500.0, 50.0, 70.0, 0.1, 5.0, 7.0, 1.0, 0.4, 2.0, 1.6),
]
FIGURES = (
    "interval_count",
    "intervals_with_energy",
    "volume_bbl",
    "electric_kwh",
    "electric_kwh_no_dra",
    "kwh_per_bbl",
    "energy_cost_usd",
    "energy_cost_usd_no_dra",
    "dra_gal",
    "dra_cost_usd",
    "energy_saving_usd",
    "net_saving_usd",
)


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[f] for f in FIGURES)


def test_energy_hourly_matches_hand_figures(wh: DuckDBWarehouse) -> None:
    rows = _view(wh, "energy_hourly", "skid_id, hour_start")
    assert [(r["skid_id"], r["hour_start"]) for r in rows] == [h[:2] for h in HOURLY]
    for row, expected in zip(rows, HOURLY, strict=True):
        assert _figures(row) == pytest.approx(expected[2:])


def test_energy_daily_matches_hand_figures(wh: DuckDBWarehouse) -> None:
    # ATL-01 on 1 July = its 10:00 and 11:00 hours: volume 3000 but kWh/bbl stays
    # 420/2100, since the 900 bbl of 11:00 have no kWh; DRA 15 gal / $6.
    rows = _view(wh, "energy_daily", "skid_id, day_utc")
    assert [(r["skid_id"], r["day_utc"]) for r in rows] == [
        ("ATL-01", date(2026, 7, 1)),
        ("ATL-01", date(2026, 7, 2)),
        ("ATL-02", date(2026, 7, 1)),
    ]
    assert _figures(rows[0]) == pytest.approx(
        (3, 2, 3000.0, 420.0, 540.0, 0.2, 42.0, 54.0, 15.0, 6.0, 12.0, 7.5)
    )
    assert _figures(rows[1]) == pytest.approx(HOURLY[2][2:])
    assert _figures(rows[2]) == pytest.approx(HOURLY[3][2:])


def test_dra_effectiveness_by_product_matches_hand_figures(wh: DuckDBWarehouse) -> None:
    # ULSD on 1 July, latest revisions with DRA: (ppm, observed, expected) =
    # (10, 25, 30), (12, 27, 30), (8, 20, 25). Means: ppm 10, observed 24,
    # expected 85/3; effectiveness (25/30 + 27/30 + 20/25)/3 = 0.84444, min 0.8,
    # pooled 24 / (85/3) = 0.847059. Jet (no DRA) and the superseded revision are out.
    (row,) = _view(wh, "dra_effectiveness_by_product", "product_code, day_utc")
    assert (row["product_code"], row["day_utc"]) == ("ULSD", date(2026, 7, 1))
    assert (row["interval_count"], row["skid_count"]) == (3, 2)
    assert row["dra_ppm_mean"] == pytest.approx(10.0)
    assert row["dr_observed_pct_mean"] == pytest.approx(24.0)
    assert row["dr_expected_pct_mean"] == pytest.approx(85 / 3)
    assert row["dra_effectiveness_mean"] == pytest.approx((25 / 30 + 27 / 30 + 20 / 25) / 3)
    assert row["dra_effectiveness_min"] == pytest.approx(0.8)
    assert row["dra_effectiveness_pooled"] == pytest.approx(24 / (85 / 3))


def test_data_quality_matches_hand_figures(wh: DuckDBWarehouse) -> None:
    rows = _view(wh, "data_quality", "skid_id, day_utc, signal")
    assert len(rows) == 3 * 12, "one row per skid-day per signal"
    by_key = {(r["skid_id"], r["signal"]): r for r in rows}
    shares = ("good_share", "interpolated_share", "carried_forward_share", "missing_share")
    # ATL-01 line flow over 4 points (latest revisions): INTERPOLATED, GOOD,
    # CARRIED_FORWARD, MISSING -> a quarter each (revision 0's GOOD is superseded).
    flow = by_key[("ATL-01", "line_flow_bph")]
    assert flow["point_count"] == 4
    assert tuple(flow[s] for s in shares) == pytest.approx((0.25, 0.25, 0.25, 0.25))
    # Discharge: GOOD at 10:00 (rev 1) and 10:01, MISSING after.
    discharge = by_key[("ATL-01", "discharge_psig")]
    assert tuple(discharge[s] for s in shares) == pytest.approx((0.5, 0.0, 0.0, 0.5))
    # Pumps running was GOOD only in revision 0 at 10:00 and at 10:01.
    pumps = by_key[("ATL-01", "pumps_running")]
    assert tuple(pumps[s] for s in shares) == pytest.approx((0.25, 0.0, 0.0, 0.75))
    assert by_key[("ATL-01", "density_kg_m3")]["missing_share"] == 1.0


def test_skid_status_joins_the_newest_spine_and_energy_rows(wh: DuckDBWarehouse) -> None:
    as_of = H10 + timedelta(seconds=45)
    rows = _query(wh, "skid_status", skid_ids=["ATL-01", "ATL-02", "ATL-03"], as_of=as_of)
    # ATL-03's last row is two days old: outside the one-day window, so absent.
    assert [r["skid_id"] for r in rows] == ["ATL-01", "ATL-02"]
    atl1, atl2 = rows
    assert (atl1["grid_ts"], atl1["age_s"], atl1["spine_revision"]) == (H10, 45, 1)
    assert (atl1["line_flow_bph"], atl1["line_flow_quality"]) == (51_000.5, "INTERPOLATED")
    assert (atl1["energy_revision"], atl1["net_benefit_usd"]) == (1, 4.0)
    assert atl1["dra_effectiveness"] == pytest.approx(25 / 30)
    assert (atl2["line_flow_bph"], atl2["net_benefit_usd"]) == (30_000.5, 1.6)


def test_skid_status_of_a_silent_skid_shows_missing(wh: DuckDBWarehouse) -> None:
    (row,) = _query(wh, "skid_status", skid_ids=["ATL-01"], as_of=H10 + 3 * MIN)
    assert row["grid_ts"] == H10 + 3 * MIN
    assert (row["line_flow_bph"], row["line_flow_quality"]) == (None, "MISSING")
    assert row["energy_revision"] is None


def test_energy_range_equals_the_hourly_view_over_the_range(wh: DuckDBWarehouse) -> None:
    rows = _query(wh, "energy_range", skid_id="ATL-01", start=H10, end=H10 + 60 * MIN)
    assert [r["hour_start"] for r in rows] == [H10]
    assert _figures(rows[0]) == pytest.approx(HOURLY[0][2:])
    everything = _query(
        wh, "energy_range", skid_id="ATL-01", start=DAY1, end=DAY1 + timedelta(days=2)
    )
    hourly = wh.query("SELECT * FROM energy_hourly WHERE skid_id = 'ATL-01' ORDER BY hour_start")
    assert everything == hourly


def test_latest_spine_state_takes_each_signal_from_its_latest_known_point(
    wh: DuckDBWarehouse,
) -> None:
    as_of = H10 + 3 * MIN + timedelta(seconds=30)
    rows = _query(wh, "latest_spine_state", skid_ids=["ATL-01", "ATL-03"], as_of=as_of)
    (state,) = rows  # ATL-03 is outside the one-day look-back
    assert state["skid_id"] == "ATL-01"
    assert state["latest_grid_ts"] == H10 + 3 * MIN
    # Flow: 10:03 is MISSING, 10:02 CARRIED_FORWARD 52,000 (last = mean + 0.5).
    assert (state["line_flow_bph"], state["line_flow_ts"]) == (52_000.5, H10 + 2 * MIN)
    # Tank: only revision 1 of 10:00 had it.
    assert (state["dra_tank_level_gal"], state["dra_tank_level_ts"]) == (8_000.5, H10)
    # Pumps: 2 at 10:01 (the 3 of the superseded 10:00 revision is ignored).
    assert (state["pumps_running"], state["pumps_running_ts"]) == (2, H10 + MIN)
    assert (state["dra_injection_gph"], state["dra_injection_ts"]) == (None, None)
    assert (state["product_code"], state["product_ts"]) == ("ULSD", H10 + 2 * MIN)
    assert state["batch_id"] == "B-1"


def test_every_view_and_query_has_figures_checked_here() -> None:
    """A new .sql file fails this until it has a test above (and is listed)."""
    assert {p.stem for p in VIEWS_DIR.glob("*.sql")} == CHECKED_VIEWS
    assert {p.stem for p in QUERIES_DIR.glob("*.sql")} == CHECKED_QUERIES
