"""Pipe hydraulics: Reynolds number, Darcy friction factor, Darcy-Weisbach loss.

The friction factor is what the ``fluids`` library computes (Clamond's exact solution
of Colebrook-White in turbulent flow, 64/Re in laminar flow, with fluids' own
laminar/turbulent switch): Clamond's closed form is written out here over numpy arrays,
operation for operation as ``fluids.friction.Clamond`` has it, because fluids'
vectorised version calls that scalar function once per element (``np.vectorize``),
which cost a Python call per spine row (tested equal to fluids' to 1e-14, and to the
exact Colebrook solution).
"""

from __future__ import annotations

import math

import numpy as np
from fluids.friction import LAMINAR_TRANSITION_PIPE

from schemas.site_config import SegmentConfig
from twin._arrays import FloatArray, scalar_or_array
from twin.units import G_M_PER_S2, bph_to_m3_per_s, ft_to_m, in_to_m, mi_to_m, pa_to_psi

__all__ = [
    "darcy_friction_factor",
    "elevation_head_psi",
    "friction_loss_psi",
    "relative_roughness",
    "reynolds",
    "velocity_m_s",
]


def relative_roughness(segment: SegmentConfig) -> float:
    """Wall roughness over inner diameter (dimensionless)."""
    return segment.roughness_in / segment.inner_diameter_in


def velocity_m_s(segment: SegmentConfig, flow_bph: float | FloatArray) -> float | FloatArray:
    """Mean velocity in the segment for a line flow."""
    diameter_m = in_to_m(segment.inner_diameter_in)
    area_m2 = math.pi * diameter_m**2 / 4.0
    return scalar_or_array(np.asarray(bph_to_m3_per_s(np.asarray(flow_bph, dtype=float)) / area_m2))


def reynolds(
    segment: SegmentConfig, flow_bph: float | FloatArray, nu_m2_s: float | FloatArray
) -> float | FloatArray:
    """Reynolds number ``v D / nu``."""
    v = np.asarray(velocity_m_s(segment, flow_bph), dtype=float)
    return scalar_or_array(
        v * in_to_m(segment.inner_diameter_in) / np.asarray(nu_m2_s, dtype=float)
    )


def darcy_friction_factor(
    reynolds_number: float | FloatArray, rel_roughness: float | FloatArray
) -> float | FloatArray:
    """Darcy friction factor, as ``fluids.friction.friction_factor`` computes it.

    Laminar (Re < 2040, fluids' transition): 64/Re. Otherwise Clamond's solution of
    Colebrook (:func:`_clamond`). Re <= 0 gives NaN (no flow, no friction factor)
    rather than a number that would be used.
    """
    re = np.atleast_1d(np.asarray(reynolds_number, dtype=float))
    ed = np.broadcast_to(np.asarray(rel_roughness, dtype=float), re.shape)
    f = np.full(re.shape, np.nan)
    laminar = (re > 0) & (re < LAMINAR_TRANSITION_PIPE)
    turbulent = re >= LAMINAR_TRANSITION_PIPE
    f[laminar] = 64.0 / re[laminar]
    if turbulent.any():
        f[turbulent] = _clamond(re[turbulent], ed[turbulent])
    return float(f[0]) if np.ndim(reynolds_number) == 0 else f


def _clamond(re: FloatArray, ed: FloatArray) -> FloatArray:
    """``fluids.friction.Clamond(Re, eD)`` (not ``fast``) over arrays: the same
    constants and operations in the same order (Clamond, Ind. Eng. Chem. Res. 48(7),
    2009, 3665-3671)."""
    x1 = ed * re * 0.1239681863354175460160858261654858382699
    x2 = np.log(re) - 0.7793974884556819406441139701653776731705
    f = x2 - 0.2
    x1f = x1 + f
    x1f1 = 1.0 + x1f
    e = (np.log(x1f) - 0.2) / x1f1
    f = f - (x1f1 + 0.5 * e) * e * x1f / (x1f1 + e * (1.0 + (1.0 / 3.0) * e))
    x1f = x1 + f
    x1f1 = 1.0 + x1f
    e = (np.log(x1f) + f - x2) / x1f1
    b = x1f1 + e * (1.0 + 1.0 / 3.0 * e)
    f = b / (b * f - ((x1f1 + 0.5 * e) * e * x1f))
    return np.asarray(1.325474527619599502640416597148504422899 * (f * f), dtype=np.float64)


def friction_loss_psi(
    segment: SegmentConfig,
    flow_bph: float | FloatArray,
    density_kg_m3: float | FloatArray,
    friction_factor: float | FloatArray,
) -> float | FloatArray:
    """Darcy-Weisbach friction loss over the whole segment, with no DRA.

    ``dP = f (L/D) rho v^2 / 2``.
    """
    v = np.asarray(velocity_m_s(segment, flow_bph), dtype=float)
    length_m = mi_to_m(segment.length_mi)
    diameter_m = in_to_m(segment.inner_diameter_in)
    dp_pa = (
        np.asarray(friction_factor, dtype=float)
        * (length_m / diameter_m)
        * np.asarray(density_kg_m3, dtype=float)
        * v**2
        / 2.0
    )
    return scalar_or_array(np.asarray(pa_to_psi(dp_pa)))


def elevation_head_psi(
    segment: SegmentConfig, density_kg_m3: float | FloatArray
) -> float | FloatArray:
    """Static pressure of the segment's elevation change, ``rho g dz``."""
    dz_m = ft_to_m(segment.elevation_change_ft)
    return scalar_or_array(
        np.asarray(pa_to_psi(np.asarray(density_kg_m3, dtype=float) * G_M_PER_S2 * dz_m))
    )
