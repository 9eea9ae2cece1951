"""DRA arithmetic and curve limits.

Sources: ppm definition of DESIGN.md section 3 (volumetric, 42 gal/bbl, API MPMS
ch. 1 barrel); curve form DR = DRmax * c / (K + c) (the hyperbolic fit used for
products lines, e.g. Motier & Carrier 1989).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.site_config import DraCurve
from twin.dra import (
    dr_expected_pct,
    dr_observed_pct,
    dra_gph_for_ppm,
    effectiveness,
    ppm_after_shear,
    ppm_from_injection,
)

CURVE = DraCurve(dr_max_pct=60.0, k_ppm=6.0)


def test_ppm_hand_worked() -> None:
    # 23.1 gal/h into 55,000 bbl/h = 23.1 / 2,310,000 gal/h = 10.0 ppm.
    assert ppm_from_injection(23.1, 55_000.0) == pytest.approx(10.0)
    assert dra_gph_for_ppm(10.0, 55_000.0) == pytest.approx(23.1)


def test_ppm_without_flow_is_nan_not_infinite() -> None:
    assert math.isnan(ppm_from_injection(5.0, 0.0))


@given(
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=1.0, max_value=200_000.0),
)
def test_ppm_and_injection_rate_are_inverse(ppm: float, flow_bph: float) -> None:
    assert ppm_from_injection(dra_gph_for_ppm(ppm, flow_bph), flow_bph) == pytest.approx(
        ppm, abs=1e-9
    )


def test_curve_limits() -> None:
    assert dr_expected_pct(CURVE, 0.0) == 0.0
    assert dr_expected_pct(CURVE, 6.0) == pytest.approx(30.0)  # half effect at K
    assert dr_expected_pct(CURVE, 1e9) == pytest.approx(60.0, rel=1e-6)  # -> DRmax
    assert dr_expected_pct(None, 10.0) == 0.0  # no curve: product takes no DRA


def test_curve_is_monotonic_and_concave() -> None:
    dr = dr_expected_pct(CURVE, np.linspace(0.0, 50.0, 101))
    assert np.all(np.diff(dr) > 0)
    assert np.all(np.diff(dr, 2) < 0)


def test_observed_dr_and_effectiveness() -> None:
    # 700 psi of friction without DRA, 490 observed: DR = 1 - 490/700 = 30 %.
    assert dr_observed_pct(490.0, 700.0) == pytest.approx(30.0)
    assert effectiveness(30.0, 37.5) == pytest.approx(0.8)
    assert math.isnan(effectiveness(0.1, 0.0))  # nothing expected: undefined


def test_running_pump_shears_dra_to_nothing() -> None:
    out = ppm_after_shear(np.array([10.0, 10.0]), np.array([True, False]), 0.0)
    assert list(out) == [0.0, 10.0]
    assert ppm_after_shear(10.0, True, 0.2) == pytest.approx(2.0)
