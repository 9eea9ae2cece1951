"""Pump power, energy, cost and the no-DRA counterfactual.

Hydraulic power is ``Q * dP``; electric power divides it by pump x motor x drive
efficiency. Where a meter gives kW, the counterfactual scales the measured kW by
the ratio of pump heads with and without DRA, so metered and modelled rows agree
on what DRA saved.
"""

from __future__ import annotations

import numpy as np

from schemas.site_config import PumpConfig
from twin._arrays import FloatArray, scalar_or_array
from twin.units import bph_to_m3_per_s, psi_to_pa

__all__ = [
    "electric_kw",
    "hydraulic_kw",
    "kwh_for_interval",
    "kwh_per_bbl",
    "pump_efficiency",
    "pump_head_ft",
    "scale_kw_to_dp",
    "wire_to_water_efficiency",
]


_MIN_PUMP_EFFICIENCY = 0.30
"""Floor of the fitted efficiency quadratic: far off the curve the fit means nothing."""


def pump_efficiency(pump: PumpConfig, flow_bph: float | FloatArray) -> float | FloatArray:
    """Hydraulic efficiency of one pump at ``flow_bph`` (quadratic in kbbl/h)."""
    q = np.asarray(flow_bph, dtype=float) / 1000.0
    e0, e1, e2 = pump.efficiency_coeffs
    return scalar_or_array(np.clip(e0 + e1 * q + e2 * q * q, _MIN_PUMP_EFFICIENCY, 0.95))


def pump_head_ft(
    pump: PumpConfig, flow_bph: float | FloatArray, speed_frac: float = 1.0
) -> float | FloatArray:
    """Head of one pump at ``flow_bph`` and speed, by the affinity laws:
    ``H(Q, s) = s^2 * H_rated(Q / s)``."""
    q = np.asarray(flow_bph, dtype=float) / 1000.0 / speed_frac
    h0, h1, h2 = pump.head_coeffs_ft
    return scalar_or_array(np.clip(speed_frac**2 * (h0 + h1 * q + h2 * q * q), 0.0, None))


def wire_to_water_efficiency(pump: PumpConfig, flow_bph: float | FloatArray) -> float | FloatArray:
    """Pump x motor x drive efficiency."""
    return scalar_or_array(
        np.asarray(pump_efficiency(pump, flow_bph)) * pump.motor_efficiency * pump.drive_efficiency
    )


def hydraulic_kw(flow_bph: float | FloatArray, dp_psi: float | FloatArray) -> float | FloatArray:
    """Hydraulic power ``Q * dP`` in kW; a negative dP (no pumping) gives 0."""
    q = bph_to_m3_per_s(np.asarray(flow_bph, dtype=float))
    dp = psi_to_pa(np.clip(np.asarray(dp_psi, dtype=float), 0.0, None))
    return scalar_or_array(np.asarray(q * dp / 1000.0))


def electric_kw(
    hydraulic_power_kw: float | FloatArray, efficiency: float | FloatArray
) -> float | FloatArray:
    """Electric input for a hydraulic output at a wire-to-water efficiency."""
    return scalar_or_array(
        np.asarray(hydraulic_power_kw, dtype=float) / np.asarray(efficiency, dtype=float)
    )


def scale_kw_to_dp(
    measured_kw: float | FloatArray, dp_psi: float | FloatArray, dp_other_psi: float | FloatArray
) -> float | FloatArray:
    """Measured kW scaled to another pump dP at the same flow and efficiency."""
    dp = np.asarray(dp_psi, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(
            dp > 0, np.asarray(measured_kw, dtype=float) * np.asarray(dp_other_psi) / dp, np.nan
        )
    return scalar_or_array(out)


def kwh_for_interval(power_kw: float | FloatArray, interval_s: float) -> float | FloatArray:
    """Energy over an interval at constant power."""
    return scalar_or_array(np.asarray(power_kw, dtype=float) * interval_s / 3600.0)


def kwh_per_bbl(
    energy_kwh: float | FloatArray, volume_bbl: float | FloatArray
) -> float | FloatArray:
    """Specific energy; NaN when nothing moved."""
    vol = np.asarray(volume_bbl, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(vol > 0, np.asarray(energy_kwh, dtype=float) / vol, np.nan)
    return scalar_or_array(out)
