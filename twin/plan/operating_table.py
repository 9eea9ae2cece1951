"""The discretised operating table the MILP chooses from, computed with ``twin`` code.

Friction grows as Q^1.8, power as Q·ΔP and drag reduction saturates in ppm: all
nonlinear. The planner handles that by precomputing, for every *option* (a line flow
level and a pump line-up) and every product, with the same steady-state model as the
what-if (:func:`twin.operating_point.evaluate_operating_point`):

* the ppm interval in which the option is feasible: the lowest ppm that keeps the
  discharge under MAOP minus margin and within the pumps' head at full speed, the
  highest ppm the product, the injection pump and the pumps' minimum speed allow
  (with more DRA, less head is needed; below ``n`` pumps' head at minimum speed the
  line-up cannot run). Both ends are found on the exact DR curve, so a plan inside
  the interval is feasible for the real model, not only for its linearisation;
* electric kW as ``kw_no_dra - kw_friction_no_dra * DR(ppm)/100``, exact because
  the required discharge is linear in (1 - DR).

The cost uses a piecewise-linear interpolation of ``1 - DR(ppm)/100`` through a few
breakpoints (:class:`DrPieces`). The curve is convex, so the interpolation lies above
it: the model never books more saving than the physics gives.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from schemas.site_config import SiteConfig
from twin import dra, energy, fluid
from twin.operating_point import evaluate_operating_point
from twin.units import G_M_PER_S2, ft_to_m, pa_to_psi

__all__ = ["DrPieces", "OperatingOption", "OperatingTable", "ProductEnvelope", "build_table"]

_PPM_TOL = 1e-7
"""Each feasible-ppm bound is moved this far inside, so solver round-off stays feasible."""


@dataclass(frozen=True)
class OperatingOption:
    """One discrete choice of an hour: a pump line-up and a line flow in
    ``[flow_bph, flow_max_bph]`` (a single level when they are equal; 0/0: shut down)."""

    flow_bph: float
    pumps: int
    flow_max_bph: float = -1.0

    def __post_init__(self) -> None:
        if self.flow_max_bph < 0:
            object.__setattr__(self, "flow_max_bph", self.flow_bph)


@dataclass(frozen=True)
class ProductEnvelope:
    """An option for one product: its feasible ppm interval and its power model.

    Over a flow range the interval is the one valid at every flow of it (pressure
    rises with flow, minimum-speed head falls), the no-DRA kW is given at both ends
    (interpolated in between: above the convex curve) and the friction kW that DRA
    can remove at the low end (it grows with flow): the model never books more
    saving than the physics gives.
    """

    ppm_min: float
    ppm_max: float
    kw_no_dra: float
    kw_friction_no_dra: float
    kw_no_dra_at_max_flow: float = -1.0

    def __post_init__(self) -> None:
        if self.kw_no_dra_at_max_flow < 0:
            object.__setattr__(self, "kw_no_dra_at_max_flow", self.kw_no_dra)

    @property
    def feasible(self) -> bool:
        return self.ppm_min <= self.ppm_max


_INFEASIBLE = ProductEnvelope(ppm_min=1.0, ppm_max=0.0, kw_no_dra=0.0, kw_friction_no_dra=0.0)


@dataclass(frozen=True)
class DrPieces:
    """Piecewise-linear ``1 - DR(ppm)/100`` of one product, as secant lines.

    ``lines[i] = (intercept, slope)``; the curve is the maximum of the lines (convex).
    A product with no DRA has one flat line at 1.
    """

    breakpoints_ppm: tuple[float, ...]
    lines: tuple[tuple[float, float], ...]

    def value(self, ppm: float) -> float:
        return max(a + b * ppm for a, b in self.lines)


@dataclass(frozen=True)
class OperatingTable:
    """Every option with its envelope per product; ``options[0]`` is the shutdown."""

    options: tuple[OperatingOption, ...]
    envelopes: dict[str, tuple[ProductEnvelope, ...]]
    pieces: dict[str, DrPieces]
    flow_step_bph: float
    """Spacing of the flow levels when flows are discrete (0 when continuous)."""

    @property
    def max_flow_bph(self) -> float:
        return max(o.flow_max_bph for o in self.options)

    def max_feasible_flow_bph(self, product_code: str) -> float:
        """Highest flow among this product's feasible options (0 if none)."""
        return max(
            (
                o.flow_max_bph
                for o, e in zip(self.options, self.envelopes[product_code], strict=True)
                if e.feasible
            ),
            default=0.0,
        )


def _bisect_ppm(ok: Callable[[float], bool], lo: float, hi: float) -> float:
    """Boundary of a monotone predicate on ``[lo, hi]`` (``ok(lo) != ok(hi)``): the
    point on the ``ok`` side within 1e-9 ppm."""
    good, bad = (lo, hi) if ok(lo) else (hi, lo)
    for _ in range(80):
        mid = 0.5 * (good + bad)
        if ok(mid):
            good = mid
        else:
            bad = mid
        if abs(good - bad) < 1e-9:
            break
    return good


def _envelope(
    config: SiteConfig,
    skid_id: str,
    option: OperatingOption,
    product_code: str,
    temperature_degf: float,
    at: datetime,
) -> ProductEnvelope:
    skid = config.skid(skid_id)
    pump = skid.pumps[0]
    product = config.product(product_code)
    flow = option.flow_bph
    if option.pumps == 0:
        return ProductEnvelope(0.0, 0.0, 0.0, 0.0)
    if not pump.min_flow_bph <= flow <= pump.max_flow_bph:
        return _INFEASIBLE
    op0 = evaluate_operating_point(config, skid_id, flow, 0.0, product_code, temperature_degf, at)
    static_psi = op0.discharge_psig_required - op0.friction_loss_psi_no_dra
    loss_psi = op0.friction_loss_psi_no_dra
    curve = config.dra.curves.get(product_code)
    limit_ppm = min(
        product.max_dra_ppm,
        skid.max_injection_gph / float(dra.dra_gph_for_ppm(1.0, flow)),
    )
    if flow < skid.min_flow_for_injection_bph or curve is None:
        limit_ppm = 0.0
    rho = float(fluid.density_kg_m3(product, temperature_degf))

    def head_psi(speed_frac: float) -> float:
        head_ft = option.pumps * float(energy.pump_head_ft(pump, flow, speed_frac))
        return float(pa_to_psi(ft_to_m(head_ft) * rho * G_M_PER_S2))

    def discharge_psig(ppm: float) -> float:
        return static_psi + loss_psi * (1.0 - float(dra.dr_expected_pct(curve, ppm)) / 100.0)

    suction = skid.nominal_suction_psig
    upper_psig = min(
        skid.segment.maop_psig - skid.segment.maop_margin_psig,
        suction + head_psi(pump.max_speed_frac),
    )
    lower_psig = suction + head_psi(pump.min_speed_frac)

    def below_upper(ppm: float) -> bool:
        return discharge_psig(ppm) <= upper_psig

    def above_lower(ppm: float) -> bool:
        return discharge_psig(ppm) >= lower_psig

    if not below_upper(limit_ppm) or not above_lower(0.0):
        return _INFEASIBLE
    ppm_min = 0.0 if below_upper(0.0) else _bisect_ppm(below_upper, 0.0, limit_ppm) + _PPM_TOL
    ppm_max = (
        limit_ppm if above_lower(limit_ppm) else _bisect_ppm(above_lower, 0.0, limit_ppm) - _PPM_TOL
    )
    if ppm_min > ppm_max:
        return _INFEASIBLE
    kw_friction = 0.0
    if curve is not None and product.max_dra_ppm > 0:
        probe = product.max_dra_ppm
        op1 = evaluate_operating_point(
            config, skid_id, flow, probe, product_code, temperature_degf, at
        )
        kw_friction = (op0.electric_kw - op1.electric_kw) / (op1.dr_expected_pct / 100.0)
    return ProductEnvelope(max(ppm_min, 0.0), max(ppm_max, 0.0), op0.electric_kw, kw_friction)


def _range_envelope(
    config: SiteConfig,
    skid_id: str,
    option: OperatingOption,
    product_code: str,
    temperature_degf: float,
    at: datetime,
) -> ProductEnvelope:
    low = _envelope(
        config,
        skid_id,
        OperatingOption(option.flow_bph, option.pumps),
        product_code,
        temperature_degf,
        at,
    )
    if option.flow_max_bph == option.flow_bph or not low.feasible:
        return low
    high = _envelope(
        config,
        skid_id,
        OperatingOption(option.flow_max_bph, option.pumps),
        product_code,
        temperature_degf,
        at,
    )
    if not high.feasible:
        return _INFEASIBLE
    gph_cap = config.skid(skid_id).max_injection_gph / float(
        dra.dra_gph_for_ppm(1.0, option.flow_max_bph)
    )
    ppm_min = max(low.ppm_min, high.ppm_min)
    ppm_max = min(low.ppm_max, high.ppm_max, gph_cap)
    if ppm_min > ppm_max:
        return _INFEASIBLE
    return ProductEnvelope(ppm_min, ppm_max, low.kw_no_dra, low.kw_friction_no_dra, high.kw_no_dra)


def _pieces(config: SiteConfig, product_code: str, n_pieces: int) -> DrPieces:
    product = config.product(product_code)
    curve = config.dra.curves.get(product_code)
    if curve is None or product.max_dra_ppm == 0:
        return DrPieces((0.0,), ((1.0, 0.0),))
    # Denser breakpoints at low ppm, where the curve bends most.
    ppm = [product.max_dra_ppm * (i / n_pieces) ** 2 for i in range(n_pieces + 1)]
    phi = [1.0 - float(dra.dr_expected_pct(curve, c)) / 100.0 for c in ppm]
    lines = []
    for i in range(n_pieces):
        slope = (phi[i + 1] - phi[i]) / (ppm[i + 1] - ppm[i])
        lines.append((phi[i] - slope * ppm[i], slope))
    return DrPieces(tuple(ppm), tuple(lines))


def build_table(
    config: SiteConfig,
    skid_id: str,
    product_codes: set[str],
    temperature_degf: float,
    flow_levels: int,
    ppm_pieces: int,
    at: datetime,
    continuous_flow: bool = True,
) -> OperatingTable:
    """Options over ``flow_levels`` evenly spaced flows from the lowest to the highest
    flow any of the products can move, each with every pump count feasible for at
    least one product; plus the shutdown.

    ``continuous_flow``: each option is the range between two adjacent levels (the flow
    is continuous in it); otherwise each option is one level (the purely discrete model
    the brute-force test enumerates).
    """
    if flow_levels < 2:
        raise ValueError("flow_levels must be at least 2")
    if ppm_pieces < 1:
        raise ValueError("ppm_pieces must be at least 1")
    skid = config.skid(skid_id)
    pump = skid.pumps[0]
    n_pumps = len(skid.pumps)
    products = sorted(product_codes)

    def any_feasible(flow: float) -> bool:
        return any(
            _envelope(config, skid_id, OperatingOption(flow, n), p, temperature_degf, at).feasible
            for p in products
            for n in range(1, n_pumps + 1)
        )

    grid = np.arange(pump.min_flow_bph, pump.max_flow_bph + 1e-9, 250.0)
    feasible_grid = [float(q) for q in grid if any_feasible(float(q))]
    if not feasible_grid:
        raise ValueError(f"no flow of skid {skid_id} is feasible for products {products}")
    flows = [float(q) for q in np.linspace(min(feasible_grid), max(feasible_grid), flow_levels)]
    spans = list(itertools.pairwise(flows)) if continuous_flow else [(q, q) for q in flows]
    options = [OperatingOption(0.0, 0)]
    envelopes: dict[str, list[ProductEnvelope]] = {
        p: [ProductEnvelope(0.0, 0.0, 0.0, 0.0)] for p in products
    }
    for lo, hi in spans:
        for n in range(1, n_pumps + 1):
            option = OperatingOption(lo, n, hi)
            envs = {
                p: _range_envelope(config, skid_id, option, p, temperature_degf, at)
                for p in products
            }
            if any(e.feasible for e in envs.values()):
                options.append(option)
                for p in products:
                    envelopes[p].append(envs[p])
    pieces = {p: _pieces(config, p, ppm_pieces) for p in products}
    return OperatingTable(
        options=tuple(options),
        envelopes={p: tuple(e) for p, e in envelopes.items()},
        pieces=pieces,
        flow_step_bph=0.0 if continuous_flow else flows[1] - flows[0],
    )
