"""The steady operating-point model behind what-if, baselines and counterfactuals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.site_config import SiteConfig
from twin.energy import hydraulic_kw, wire_to_water_efficiency
from twin.operating_point import DraLimitError, evaluate_operating_point

WEEKDAY_PEAK = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # 16:00 in Atlanta, on-peak


def test_zero_ppm_has_no_drag_reduction_and_equal_costs(site_config: SiteConfig) -> None:
    p = evaluate_operating_point(site_config, "ATL-01", 50_000.0, 0.0, "ULSD", 60.0, WEEKDAY_PEAK)
    assert p.dr_expected_pct == 0.0
    assert p.friction_loss_psi == p.friction_loss_psi_no_dra
    assert p.electric_kw == p.electric_kw_no_dra
    assert p.energy_cost_usd_per_h == p.energy_cost_usd_per_h_no_dra
    assert p.dra_cost_usd_per_h == 0.0
    assert p.net_benefit_usd_per_h == 0.0


def test_costs_consistent_with_power_flow_and_tariff(site_config: SiteConfig) -> None:
    p = evaluate_operating_point(site_config, "ATL-01", 55_000.0, 10.0, "RBOB", 60.0, WEEKDAY_PEAK)
    assert p.tariff_usd_per_kwh == pytest.approx(0.186)
    assert p.kwh_per_bbl == pytest.approx(p.electric_kw / 55_000.0)
    assert p.energy_cost_usd_per_h == pytest.approx(p.electric_kw * 0.186)
    assert p.energy_cost_usd_per_h_no_dra == pytest.approx(p.electric_kw_no_dra * 0.186)
    assert p.dra_cost_usd_per_h == pytest.approx(10e-6 * 55_000 * 42 * 9.5)
    assert p.net_benefit_usd_per_h == pytest.approx(
        p.energy_cost_usd_per_h_no_dra - p.energy_cost_usd_per_h - p.dra_cost_usd_per_h
    )
    # Friction with DRA is the no-DRA friction times (1 - DR).
    assert p.friction_loss_psi == pytest.approx(
        p.friction_loss_psi_no_dra * (1 - p.dr_expected_pct / 100)
    )
    # Discharge = delivery + elevation + friction; power = Q dP / efficiency.
    seg = site_config.skid("ATL-01").segment
    assert p.discharge_psig_required == pytest.approx(
        seg.delivery_psig + p.elevation_head_psi + p.friction_loss_psi
    )
    eta = wire_to_water_efficiency(site_config.skid("ATL-01").pumps[0], 55_000.0)
    dp = p.discharge_psig_required - site_config.skid("ATL-01").nominal_suction_psig
    assert p.electric_kw == pytest.approx(hydraulic_kw(55_000.0, dp) / eta)


def test_dra_makes_a_flow_possible_that_breaks_maop_without_it(site_config: SiteConfig) -> None:
    p = evaluate_operating_point(site_config, "ATL-01", 55_000.0, 10.0, "ULSD", 60.0, WEEKDAY_PEAK)
    assert p.within_maop and not p.within_maop_no_dra


def test_any_dra_in_jet_fuel_is_refused(site_config: SiteConfig) -> None:
    with pytest.raises(DraLimitError, match="forbidden"):
        evaluate_operating_point(site_config, "ATL-01", 40_000.0, 0.5, "JET", 60.0, WEEKDAY_PEAK)
    with pytest.raises(DraLimitError, match="exceeds"):
        evaluate_operating_point(site_config, "ATL-01", 40_000.0, 16.0, "ULSD", 60.0, WEEKDAY_PEAK)


def test_warmer_product_is_less_viscous_so_reynolds_rises(site_config: SiteConfig) -> None:
    cold = evaluate_operating_point(
        site_config, "ATL-01", 40_000.0, 0.0, "ULSD", 40.0, WEEKDAY_PEAK
    )
    warm = evaluate_operating_point(
        site_config, "ATL-01", 40_000.0, 0.0, "ULSD", 80.0, WEEKDAY_PEAK
    )
    assert warm.reynolds > cold.reynolds
    assert warm.darcy_friction_factor < cold.darcy_friction_factor


def test_unknown_skid_and_product_name_the_known_ones(site_config: SiteConfig) -> None:
    with pytest.raises(KeyError, match="ATL-01"):
        evaluate_operating_point(site_config, "NOPE", 40_000.0, 0.0, "ULSD", 60.0, WEEKDAY_PEAK)
    with pytest.raises(KeyError, match="JET"):
        evaluate_operating_point(site_config, "ATL-01", 40_000.0, 0.0, "AVGAS", 60.0, WEEKDAY_PEAK)
