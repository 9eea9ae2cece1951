"""Energy rows of spine points, checked against the what-if operating point.

The operating point (``twin.operating_point``, itself tested against Crane TP-410 and
hand-worked power) gives the discharge a skid needs for a flow and ppm; a spine row
that measures exactly that discharge must show the same drag reduction, power and
cost per hour, and a DR effectiveness of 1. Hand-worked: 23.1 gal/h into
55,000 bbl/h is 23.1 / 2,310,000 = 10 ppm.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.energy import PowerSource
from schemas.site_config import SiteConfig
from schemas.spine import Quality, SignalStats, SpinePoint
from twin.operating_point import evaluate_operating_point
from twin.spine_energy import energy_rows

AT = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # 16:00 New York, weekday on-peak


def _stats(value: float | None) -> SignalStats:
    if value is None:
        return SignalStats()
    return SignalStats(mean=value, min=value, max=value, last=value, count=60, quality=Quality.GOOD)


def _point(
    discharge_psig: float, pump_power_kw: float | None = None, product: str | None = "ULSD"
) -> SpinePoint:
    return SpinePoint(
        skid_id="ATL-01",
        grid_ts=AT,
        interval_s=60,
        revision=2,
        emitted_ts=AT,
        product_code=product,
        reading_count=60,
        line_flow_bph=_stats(55_000.0),
        dra_injection_gph=_stats(23.1),
        suction_psig=_stats(40.0),
        discharge_psig=_stats(discharge_psig),
        downstream_psig=_stats(50.0),
        temperature_degf=_stats(60.0),
        pump_power_kw=_stats(pump_power_kw),
        pumps_running=_stats(3.0),
    )


def test_row_matches_the_operating_point_it_measures(site_config: SiteConfig) -> None:
    op = evaluate_operating_point(site_config, "ATL-01", 55_000.0, 10.0, "ULSD", 60.0, AT)
    (row,) = energy_rows([_point(op.discharge_psig_required)], site_config)
    assert row.revision == 2
    assert row.dra_ppm == pytest.approx(10.0)
    assert row.reynolds == pytest.approx(op.reynolds)
    assert row.darcy_friction_factor == pytest.approx(op.darcy_friction_factor)
    assert row.friction_loss_psi == pytest.approx(op.friction_loss_psi)
    assert row.friction_loss_psi_no_dra == pytest.approx(op.friction_loss_psi_no_dra)
    assert row.dr_observed_pct == pytest.approx(op.dr_expected_pct)
    assert row.dr_expected_pct == pytest.approx(op.dr_expected_pct)
    assert row.dra_effectiveness == pytest.approx(1.0)
    assert row.power_source == PowerSource.MODELLED
    assert row.electric_kw == pytest.approx(op.electric_kw)
    assert row.electric_kw_no_dra == pytest.approx(op.electric_kw_no_dra)
    assert row.tariff_usd_per_kwh == 0.186
    # One minute is 1/60 of the operating point's hourly figures.
    assert row.electric_kwh == pytest.approx(op.electric_kw / 60)
    assert row.energy_cost_usd == pytest.approx(op.energy_cost_usd_per_h / 60)
    assert row.dra_cost_usd == pytest.approx(op.dra_cost_usd_per_h / 60)
    assert row.net_benefit_usd == pytest.approx(op.net_benefit_usd_per_h / 60)
    assert row.volume_bbl == pytest.approx(55_000 / 60)
    assert row.kwh_per_bbl == pytest.approx(op.kwh_per_bbl)


def test_metered_power_is_used_and_scaled_for_the_counterfactual(
    site_config: SiteConfig,
) -> None:
    op = evaluate_operating_point(site_config, "ATL-01", 55_000.0, 10.0, "ULSD", 60.0, AT)
    (row,) = energy_rows([_point(op.discharge_psig_required, pump_power_kw=15_000.0)], site_config)
    assert row.power_source == PowerSource.MEASURED
    assert row.electric_kw == 15_000.0
    # Same flow and efficiency: kW scales with pump dP.
    dp = op.discharge_psig_required - 40.0
    dp_no = op.discharge_psig_required_no_dra - 40.0
    assert row.electric_kw_no_dra == pytest.approx(15_000.0 * dp_no / dp)


def test_half_the_expected_friction_saving_is_half_effective(site_config: SiteConfig) -> None:
    op = evaluate_operating_point(site_config, "ATL-01", 55_000.0, 10.0, "ULSD", 60.0, AT)
    saved = op.friction_loss_psi_no_dra - op.friction_loss_psi
    (row,) = energy_rows([_point(op.discharge_psig_required + saved / 2)], site_config)
    assert row.dra_effectiveness == pytest.approx(0.5)


def test_missing_inputs_leave_figures_empty_not_guessed(site_config: SiteConfig) -> None:
    point = _point(700.0, product=None)
    point.discharge_psig = SignalStats()
    (row,) = energy_rows([point], site_config)
    assert row.dr_observed_pct is None and row.reynolds is None
    assert row.electric_kw is None and row.power_source == PowerSource.NONE
    assert row.net_benefit_usd is None
    assert row.dra_ppm == pytest.approx(10.0)
    assert row.dra_cost_usd == pytest.approx(23.1 / 60 * 9.5)


def test_rows_keep_their_order_across_products(site_config: SiteConfig) -> None:
    points = [_point(700.0, product=p) for p in ("ULSD", "RBOB", "ULSD", None)]
    rows = energy_rows(points, site_config)
    assert [r.product_code for r in rows] == ["ULSD", "RBOB", "ULSD", None]


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu", "Australia/Adelaide"])
def test_tariff_of_each_row_is_the_price_at_its_minute(site_config: SiteConfig, zone: str) -> None:
    """Prices are looked up once per UTC quarter hour: right for zones whose offset is
    not whole hours (+5:45, +9:30) and across a weekend and a DST change (2026-11-01)."""
    config = site_config.model_copy(
        update={"tariff": site_config.tariff.model_copy(update={"timezone": zone})}
    )
    start = datetime(2026, 10, 30, tzinfo=UTC)
    points = [
        _point(700.0).model_copy(update={"grid_ts": start + timedelta(minutes=m)})
        for m in range(0, 4 * 24 * 60, 7)
    ]
    rows = energy_rows(points, config)
    expected = [config.tariff.price_usd_per_kwh(p.grid_ts) for p in points]
    assert [r.tariff_usd_per_kwh for r in rows] == expected
    assert len(set(expected)) > 1
