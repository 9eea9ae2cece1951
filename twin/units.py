"""Unit conversions, done once at the boundary between field units and SI.

Field units (bbl/h, gal/h, psig, degF, ft, in, mi) are what operators read; the
physics runs in SI. Every helper names both units so a call site reads as a sentence.
Each works on floats and on numpy arrays alike.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "BBL_PER_M3",
    "GAL_PER_BBL",
    "G_M_PER_S2",
    "M3_PER_BBL",
    "PA_PER_PSI",
    "bph_to_m3_per_s",
    "degf_to_degc",
    "ft_to_m",
    "in_to_m",
    "m3_per_s_to_bph",
    "m_to_ft",
    "mi_to_m",
    "pa_to_psi",
    "psi_to_pa",
]

Num = TypeVar("Num", float, npt.NDArray[np.float64])

GAL_PER_BBL = 42.0
"""US gallons per US oil barrel (exact)."""
M3_PER_BBL = 0.158987294928
"""Cubic metres per US oil barrel (exact, 42 x 231 in^3)."""
BBL_PER_M3 = 1.0 / M3_PER_BBL
PA_PER_PSI = 6894.757293168
"""Pascals per pound-force per square inch (NIST SP 811)."""
G_M_PER_S2 = 9.80665
"""Standard gravity."""
_M_PER_FT = 0.3048
_M_PER_IN = 0.0254
_M_PER_MI = 1609.344


def bph_to_m3_per_s(flow_bph: Num) -> Num:
    return flow_bph * M3_PER_BBL / 3600.0


def m3_per_s_to_bph(flow_m3_per_s: Num) -> Num:
    return flow_m3_per_s * 3600.0 / M3_PER_BBL


def psi_to_pa(pressure_psi: Num) -> Num:
    return pressure_psi * PA_PER_PSI


def pa_to_psi(pressure_pa: Num) -> Num:
    return pressure_pa / PA_PER_PSI


def ft_to_m(length_ft: Num) -> Num:
    return length_ft * _M_PER_FT


def m_to_ft(length_m: Num) -> Num:
    return length_m / _M_PER_FT


def in_to_m(length_in: Num) -> Num:
    return length_in * _M_PER_IN


def mi_to_m(length_mi: Num) -> Num:
    return length_mi * _M_PER_MI


def degf_to_degc(temperature_degf: Num) -> Num:
    return (temperature_degf - 32.0) * 5.0 / 9.0
