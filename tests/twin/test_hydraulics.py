"""Hydraulics against independent truth.

Sources:
* Colebrook-White reference: ``fluids.friction.Colebrook`` (the exact Lambert-W
  solution of the implicit equation), a different code path from the Clamond
  iteration the twin uses.
* ``fluids.friction.Clamond`` itself, which the twin's numpy version must equal.
* Moody-chart textbook values: White, *Fluid Mechanics*, 7th ed., Example 6.10 and
  figure 6.13 (smooth pipe Re = 1e5 -> f = 0.0180); Haaland's explicit formula
  (White eq. 6.49) agrees with Colebrook within 2 %.
* Laminar: Hagen-Poiseuille, f = 64/Re.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fluids.friction import Clamond, Colebrook

from schemas.site_config import SegmentConfig
from twin.hydraulics import (
    darcy_friction_factor,
    elevation_head_psi,
    friction_loss_psi,
    relative_roughness,
    reynolds,
    velocity_m_s,
)


@pytest.mark.parametrize(
    ("re", "ed"),
    [
        (4_000.0, 0.0),
        (1e4, 1e-3),
        (1e5, 1e-4),
        (1e6, 4.6e-5),
        (5e6, 4.6e-5),
        (1e7, 1e-6),
        (1e8, 1e-2),
    ],
)
def test_turbulent_friction_factor_matches_exact_colebrook(re: float, ed: float) -> None:
    assert darcy_friction_factor(re, ed) == pytest.approx(Colebrook(re, ed), rel=1e-9)


@pytest.mark.parametrize("ed", [0.0, 1e-6, 4.6e-5, 1e-4, 1e-3, 1e-2, 0.05])
def test_turbulent_friction_factor_is_fluids_clamond_over_arrays(ed: float) -> None:
    """From fluids' laminar/turbulent switch to Re = 1e12, every element is what
    ``fluids.friction.Clamond`` gives for it (same operations; ``np.log`` may differ
    from ``math.log`` in the last bit)."""
    re = np.logspace(np.log10(2_040.0), 12.0, 500)
    expected = np.array([Clamond(r, ed) for r in re])
    np.testing.assert_allclose(darcy_friction_factor(re, ed), expected, rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("re", [100.0, 1_000.0, 2_000.0])
def test_laminar_friction_factor_is_64_over_re(re: float) -> None:
    assert darcy_friction_factor(re, 1e-4) == pytest.approx(64.0 / re, rel=1e-12)


def test_transition_zone_switches_at_fluids_threshold() -> None:
    # fluids switches from laminar to Colebrook at Re = 2040 (Avila et al., 2011).
    assert darcy_friction_factor(2030.0, 0.0) == pytest.approx(64.0 / 2030.0)
    assert darcy_friction_factor(2050.0, 0.0) == pytest.approx(Colebrook(2050.0, 0.0), rel=1e-9)


def test_smooth_pipe_moody_value_from_white() -> None:
    # White, Fluid Mechanics, fig. 6.13: smooth pipe at Re = 1e5 reads f = 0.0180.
    assert darcy_friction_factor(1e5, 0.0) == pytest.approx(0.0180, abs=0.0002)


@pytest.mark.parametrize("re", [1e4, 1e5, 1e6, 1e7])
@pytest.mark.parametrize("ed", [1e-5, 1e-4, 1e-3])
def test_friction_factor_within_two_percent_of_haaland(re: float, ed: float) -> None:
    haaland = (-1.8 * math.log10((ed / 3.7) ** 1.11 + 6.9 / re)) ** -2
    assert darcy_friction_factor(re, ed) == pytest.approx(haaland, rel=0.02)


def test_friction_factor_is_vectorised_and_nan_without_flow() -> None:
    f = darcy_friction_factor(np.array([0.0, 1_000.0, 1e6]), 1e-4)
    assert isinstance(f, np.ndarray)
    assert math.isnan(f[0])
    assert f[1] == pytest.approx(0.064)
    assert f[2] == pytest.approx(Colebrook(1e6, 1e-4), rel=1e-9)


_SEGMENT = SegmentConfig(
    length_mi=10.0,
    inner_diameter_in=12.0,
    roughness_in=0.0018,
    elevation_change_ft=100.0,
    maop_psig=1440.0,
    delivery_psig=50.0,
)


def test_hand_worked_darcy_weisbach_pressure_drop() -> None:
    """Water-like product (nu = 1e-6 m2/s, rho = 1000 kg/m3), 2,000 bbl/h in 12 in ID, 10 mi.

    By hand:
      Q = 2000 bbl/h * 0.158987 m3/bbl / 3600 = 0.0883263 m3/s
      D = 12 in = 0.3048 m, A = pi D^2 / 4 = 0.0729658 m2, v = Q/A = 1.210516 m/s
      Re = v D / nu = 368,965;  eD = 0.0018 / 12 = 1.5e-4
      f: fixed-point iteration of Colebrook, 1/sqrt(f) = -2 log10(eD/3.7 + 2.51/(Re sqrt f)),
         from f0 = 0.02, converges to 0.015461 (Haaland's explicit formula: 0.01528)
      L = 10 mi = 16,093.44 m;  L/D = 52,800;  dP = f (L/D) rho v^2 / 2
        = 0.015461 * 52,800 * 1000 * 1.465349 / 2 = 598,120 Pa = 86.75 psi
      Elevation: rho g dz = 1000 * 9.80665 * 30.48 = 298,907 Pa = 43.35 psi
    """
    assert velocity_m_s(_SEGMENT, 2000.0) == pytest.approx(1.210516, rel=1e-6)
    re = reynolds(_SEGMENT, 2000.0, 1e-6)
    assert re == pytest.approx(368_965, rel=1e-5)
    ed = relative_roughness(_SEGMENT)
    assert ed == pytest.approx(1.5e-4)
    f = darcy_friction_factor(re, ed)
    assert f == pytest.approx(0.015461, rel=1e-4)
    assert friction_loss_psi(_SEGMENT, 2000.0, 1000.0, f) == pytest.approx(86.75, rel=1e-3)
    assert elevation_head_psi(_SEGMENT, 1000.0) == pytest.approx(43.35, rel=1e-3)


def test_friction_loss_scales_with_velocity_squared_at_fixed_f() -> None:
    one = friction_loss_psi(_SEGMENT, 1000.0, 800.0, 0.015)
    two = friction_loss_psi(_SEGMENT, 2000.0, 800.0, 0.015)
    assert two == pytest.approx(4.0 * one)
