"""DRA: concentration, expected and observed drag reduction, effectiveness, shear."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from schemas.site_config import DraCurve
from twin._arrays import FloatArray, scalar_or_array
from twin.units import GAL_PER_BBL

__all__ = [
    "dr_expected_pct",
    "dr_observed_pct",
    "dra_gph_for_ppm",
    "effectiveness",
    "ppm_after_shear",
    "ppm_from_injection",
]


def ppm_from_injection(
    dra_gph: float | FloatArray, line_flow_bph: float | FloatArray
) -> float | FloatArray:
    """Volumetric DRA concentration: ``dra_gph / (line_flow_bph * 42) * 1e6``.

    No line flow means no concentration to speak of: NaN, never infinity.
    """
    gph = np.asarray(dra_gph, dtype=float)
    flow = np.asarray(line_flow_bph, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ppm = np.where(flow > 0, gph / (flow * GAL_PER_BBL) * 1e6, np.nan)
    return scalar_or_array(ppm)


def dra_gph_for_ppm(
    ppm: float | FloatArray, line_flow_bph: float | FloatArray
) -> float | FloatArray:
    """Injection rate that gives ``ppm`` at ``line_flow_bph`` (inverse of the above)."""
    return scalar_or_array(
        np.asarray(ppm, dtype=float) * np.asarray(line_flow_bph, dtype=float) * GAL_PER_BBL / 1e6
    )


def dr_expected_pct(curve: DraCurve | None, ppm: float | FloatArray) -> float | FloatArray:
    """Expected drag reduction ``DRmax * ppm / (K + ppm)``; 0 for a product with no curve."""
    c = np.clip(np.asarray(ppm, dtype=float), 0.0, None)
    if curve is None:
        return scalar_or_array(np.zeros_like(c))
    return scalar_or_array(curve.dr_max_pct * c / (curve.k_ppm + c))


def dr_observed_pct(
    friction_loss_observed_psi: float | FloatArray, friction_loss_no_dra_psi: float | FloatArray
) -> float | FloatArray:
    """Observed drag reduction ``1 - observed / no-DRA`` friction loss, in percent."""
    obs = np.asarray(friction_loss_observed_psi, dtype=float)
    base = np.asarray(friction_loss_no_dra_psi, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dr = np.where(base > 0, (1.0 - obs / base) * 100.0, np.nan)
    return scalar_or_array(dr)


def effectiveness(
    dr_observed: float | FloatArray, dr_expected: float | FloatArray, min_expected_pct: float = 1.0
) -> float | FloatArray:
    """Observed over expected DR. Undefined (NaN) when almost no DR is expected."""
    obs = np.asarray(dr_observed, dtype=float)
    exp = np.asarray(dr_expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exp >= min_expected_pct, obs / exp, np.nan)
    return scalar_or_array(ratio)


def ppm_after_shear(
    ppm: float | FloatArray, pump_running: bool | npt.NDArray[np.bool_], retention_frac: float
) -> float | FloatArray:
    """Effective ppm after a pump downstream of the injection point.

    A running centrifugal pump degrades the polymer chains; products-line practice
    treats DRA as sheared to nothing (``retention_frac = 0``) and re-injects after it.
    """
    c = np.asarray(ppm, dtype=float)
    return scalar_or_array(np.where(np.asarray(pump_running, dtype=bool), c * retention_frac, c))
