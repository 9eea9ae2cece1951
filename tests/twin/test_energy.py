"""Power and energy, hand-worked (SI definitions; 1 bbl = 0.158987 m3, 1 psi = 6894.757 Pa)."""

from __future__ import annotations

import math

import pytest

from schemas.site_config import PumpConfig
from twin.energy import (
    electric_kw,
    hydraulic_kw,
    kwh_for_interval,
    kwh_per_bbl,
    pump_efficiency,
    pump_head_ft,
    scale_kw_to_dp,
    wire_to_water_efficiency,
)

PUMP = PumpConfig(
    pump_id="P",
    head_coeffs_ft=(1100.0, 0.0, -0.08),
    efficiency_coeffs=(0.61, 0.01, -0.0001),
    min_flow_bph=15_000.0,
    max_flow_bph=70_000.0,
    motor_efficiency=0.96,
    drive_efficiency=0.97,
    rated_power_kw=6500.0,
)


def test_hand_worked_pump_power() -> None:
    """55,000 bbl/h against 700 psi.

    Q = 55,000 * 0.158987294928 / 3600 = 2.428972 m3/s
    dP = 700 * 6894.757293 = 4,826,330 Pa
    P_hyd = Q dP = 11,723.03 kW
    eff at 55 kbbl/h = 0.61 + 0.55 - 0.3025 = 0.8575; x 0.96 x 0.97 = 0.798504
    P_el = 11,723.03 / 0.798504 = 14,681.2 kW; one minute: 244.69 kWh
    """
    p_hyd = hydraulic_kw(55_000.0, 700.0)
    assert p_hyd == pytest.approx(11_723.03, rel=1e-5)
    assert pump_efficiency(PUMP, 55_000.0) == pytest.approx(0.8575)
    eta = wire_to_water_efficiency(PUMP, 55_000.0)
    assert eta == pytest.approx(0.798504, rel=1e-6)
    p_el = electric_kw(p_hyd, eta)
    assert p_el == pytest.approx(14_681.2, rel=1e-5)
    assert kwh_for_interval(p_el, 60.0) == pytest.approx(244.69, rel=1e-4)
    # kWh/bbl: one hour moves 55,000 bbl.
    assert kwh_per_bbl(p_el, 55_000.0) == pytest.approx(14_681.2 / 55_000.0, rel=1e-5)


def test_no_flow_has_no_specific_energy_and_negative_dp_no_power() -> None:
    assert math.isnan(kwh_per_bbl(10.0, 0.0))
    assert hydraulic_kw(50_000.0, -5.0) == 0.0


def test_affinity_laws_for_head() -> None:
    # Shut-off head scales with speed squared: 1100 ft * 0.8^2 = 704 ft.
    assert pump_head_ft(PUMP, 0.0, 0.8) == pytest.approx(704.0)
    assert pump_head_ft(PUMP, 55_000.0) == pytest.approx(1100.0 - 0.08 * 55.0**2)


def test_measured_kw_scales_with_pump_dp() -> None:
    assert scale_kw_to_dp(10_000.0, 700.0, 910.0) == pytest.approx(13_000.0)
    assert math.isnan(scale_kw_to_dp(10_000.0, 0.0, 910.0))
