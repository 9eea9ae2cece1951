"""The hourly MILP: flow option, pump line-up and ppm per hour, at least cost.

The batch at the injection point is tracked as a path through *batch states*: state
``(h, b)`` is "batch ``b`` at the injection point when hour ``h`` starts", and an arc
``(h, b, b2)`` is an hour that starts in ``b`` and ends in ``b2 >= b`` (an interface,
or several small batches, passing). Each hour's option of the
:class:`OperatingTable` (a pump count with a flow range, or the shutdown) is chosen
per arc (binary ``x[h, k, b, b2]``) with a ppm ``c`` and a flow trim ``t`` in the range,
and the cumulative volume is carried along the arcs (``u``), bounded by the batches'
extents at both ends of the hour. So:

* every product passing in an hour constrains that hour's option and ppm (jet fuel:
  0 ppm whatever the flow) without big-M terms, and the hour is costed with the
  product at its start;
* a path's product and volume cannot contradict each other, which keeps the LP
  relaxation close (within about 1 % on the reference week; the earlier formulation,
  with one binary per hour and interface linked to the volume, was 8 % off and HiGHS
  found no feasible point of it in a minute);
* deadlines hold on every path; at most one flow step beyond the nominations;
* DRA gallons bracketed between the bottom and the top of each option's flow range:
  the tank can neither run dry nor overflow at a delivery;
* pumps running ``N[h] = sum n_k x``, starts ``s[h] >= N[h] - N[h-1]``, at most
  ``max_pump_starts_per_day`` per local day;
* cost = ``sum_h price_h kW_h`` (+ DRA price × gallons, + demand charge × peak kW),
  ``kW`` above every secant line of the product's piecewise-linear drag reduction.

HiGHS runs through MathOpt (which reports its dual bound); CBC and SCIP through the
``pywraplp`` wrapper. A time limit and a relative gap target are always set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeAlias, TypedDict

from ortools.linear_solver import linear_solver_pb2, pywraplp
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from schemas.plan import PlanStatus
from twin import dra
from twin.plan.checker import PlannedHour
from twin.plan.inputs import PlanInputs
from twin.plan.operating_table import DrPieces, OperatingTable, ProductEnvelope

__all__ = [
    "KBBL",
    "Answer",
    "BatchLine",
    "Expr",
    "MilpOutcome",
    "ModelSize",
    "VolumeBounds",
    "add_dr_lines",
    "add_tank_brackets",
    "due_bbl",
    "lines_over",
    "mathopt_model",
    "minimise_cost",
    "new_solver",
    "no_plan",
    "product_ranges",
    "relative_gap",
    "solve_built",
    "solve_milp",
    "solve_sized",
    "volume_bounds",
]


@dataclass(frozen=True)
class MilpOutcome:
    """The solver's answer, as reported (objective and bound in USD)."""

    status: PlanStatus
    solver: str
    decisions: list[PlannedHour] | None
    """The plan, in the checker's terms (the checker recomputes everything else)."""
    objective_usd: float | None
    best_bound_usd: float | None
    relative_gap: float | None
    solve_time_s: float
    time_limit_reached: bool
    variables: int
    binaries: int
    constraints: int
    volume_bbl: tuple[float, ...] | None = None


def relative_gap(objective_usd: float, bound_usd: float) -> float:
    """The gap as the solvers define it: (objective - bound) / |objective|, never negative."""
    return max(0.0, objective_usd - bound_usd) / max(abs(objective_usd), 1e-9)


@dataclass(frozen=True)
class VolumeBounds:
    """Bounds on the cumulative volume at each hour start (``hours + 1`` values)."""

    low_bbl: tuple[float, ...]
    high_bbl: tuple[float, ...]


def volume_bounds(
    inputs: PlanInputs, max_flow_bph: dict[str, float], tolerance_bbl: float
) -> VolumeBounds:
    """``V[h]`` can grow by no more than the fastest product that can be at the
    injection point in that hour, may not pass the nominations (plus the tolerance),
    and must stay within reach of every later deadline. Two forward/backward sweeps
    tighten the window; the fewer hours whose product is open, the fewer binaries."""
    hours = inputs.hours
    ends = inputs.batch_end_bbl
    products = [b.product_code for b in inputs.batches]
    fastest = max(max_flow_bph.values())
    cap = inputs.total_bbl + tolerance_bbl
    high = [min(h * fastest, cap) for h in range(hours + 1)]
    low = [0.0] * (hours + 1)
    for end, d in zip(ends, inputs.deadline_hour, strict=True):
        if d is not None:
            for h in range(min(max(d, 0), hours) + 1):
                low[h] = max(low[h], end - (d - h) * fastest)
            for h in range(max(d, 0), hours + 1):
                low[h] = max(low[h], end)

    def hour_cap(h: int) -> float:
        return max(
            (
                max_flow_bph[products[b]]
                for b in range(len(ends))
                if inputs.batch_start_bbl(b) < high[h + 1]
                and (ends[b] > low[h] or b == len(ends) - 1)
            ),
            default=0.0,
        )

    for _ in range(2):
        for h in range(hours):
            high[h + 1] = min(high[h + 1], high[h] + hour_cap(h))
        for h in reversed(range(hours)):
            low[h] = max(low[h], low[h + 1] - hour_cap(h))
    return VolumeBounds(tuple(min(lo, hi) for lo, hi in zip(low, high, strict=True)), tuple(high))


def no_plan(
    status: PlanStatus,
    solver: str,
    elapsed_s: float,
    time_limit_reached: bool,
    variables: int = 0,
    binaries: int = 0,
    constraints: int = 0,
) -> MilpOutcome:
    return MilpOutcome(
        status=status,
        solver=solver,
        decisions=None,
        objective_usd=None,
        best_bound_usd=None,
        relative_gap=None,
        solve_time_s=elapsed_s,
        time_limit_reached=time_limit_reached,
        variables=variables,
        binaries=binaries,
        constraints=constraints,
    )


def _status(code: int) -> PlanStatus:
    if code == pywraplp.Solver.OPTIMAL:
        return PlanStatus.OPTIMAL
    if code == pywraplp.Solver.FEASIBLE:
        return PlanStatus.FEASIBLE
    if code == pywraplp.Solver.INFEASIBLE:
        return PlanStatus.INFEASIBLE
    if code == pywraplp.Solver.NOT_SOLVED:
        return PlanStatus.NO_SOLUTION
    return PlanStatus.ERROR


KBBL = 1e-3
"""Volumes and flows enter the model in thousands of barrels (bbl x 1e-3): in barrels
the matrix spans 2e-2 to 9e6 and HiGHS warns of excessively large bounds."""

Expr: TypeAlias = Any
"""A pywraplp linear expression or variable (untyped library), or a float constant."""


def lines_over(pieces: DrPieces, lo_ppm: float, hi_ppm: float) -> list[tuple[float, float]]:
    """The secant lines of the pieces that overlap ``[lo_ppm, hi_ppm]``: outside the
    option's ppm interval the other lines are never the maximum."""
    bp = pieces.breakpoints_ppm
    return [line for i, line in enumerate(pieces.lines) if bp[i] <= hi_ppm and bp[i + 1] >= lo_ppm]


def add_dr_lines(
    solver: pywraplp.Solver,
    kw: pywraplp.Variable,
    env: ProductEnvelope,
    pieces: DrPieces,
    ppm_range: tuple[float, float],
    chosen: Expr,
    ppm: Expr,
    trim_kw: Expr,
) -> None:
    """``kw`` above every secant line of the product's drag reduction over the ppm
    range: with ``chosen`` hours (a binary, or a block's count) at ``ppm`` ppm-hours,
    the friction part of the no-DRA power shrinks by the linearised DR."""
    lo, hi = ppm_range
    for intercept, slope in lines_over(pieces, lo, hi):
        solver.Add(
            kw
            >= (env.kw_no_dra - env.kw_friction_no_dra * (1.0 - intercept)) * chosen
            + env.kw_friction_no_dra * slope * ppm
            + trim_kw
        )


def product_ranges(
    inputs: PlanInputs, table: OperatingTable, allow_dra: bool
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float]]:
    """Per product: the ppm interval of each option (``(1, 0)`` when the option is
    infeasible for it; the top is 0 without DRA), and the top flow of its options."""
    ranges: dict[str, list[tuple[float, float]]] = {}
    for p in sorted({b.product_code for b in inputs.batches}):
        ranges[p] = []
        for e in table.envelopes[p]:
            hi = e.ppm_max if allow_dra else 0.0
            ranges[p].append((e.ppm_min, hi) if e.feasible and e.ppm_min <= hi else (1.0, 0.0))
    max_flow = {
        p: max(o.flow_max_bph for o, r in zip(table.options, rs, strict=True) if r[0] <= r[1])
        for p, rs in ranges.items()
    }
    return ranges, max_flow


def new_solver(inputs: PlanInputs, solver_name: str | None) -> tuple[pywraplp.Solver, str]:
    """An empty model on the named solver (the settings' when none is named).

    Raises:
        ValueError: OR-Tools has no solver of that name.
    """
    name = solver_name or inputs.settings.solver
    solver = pywraplp.Solver.CreateSolver(name)
    if solver is None:
        raise ValueError(f"OR-Tools has no solver {name!r} here")
    return solver, name


@dataclass(frozen=True)
class BatchLine:
    """The batches on the cumulative volume, as both models track them: batch ``b``
    lies in ``[start_bbl(b), end_bbl(b))`` (the last one also takes the volume
    tolerance beyond the nominations), and batch ``b`` can be at the injection point
    at the start of hour ``h`` only if that overlaps the hour's volume window."""

    inputs: PlanInputs
    table: OperatingTable
    bounds: VolumeBounds

    def start_bbl(self, b: int) -> float:
        return self.inputs.batch_start_bbl(b)

    def end_bbl(self, b: int) -> float:
        ends = self.inputs.batch_end_bbl
        return ends[b] + (self.table.flow_step_bph if b == len(ends) - 1 else 0.0)

    def passed_from(self, b: int) -> list[int]:
        """The later batches an hour that starts in ``b`` can end in: each one
        reachable by passing whole batches smaller than an hour's top flow."""
        batches = self.inputs.batches
        out = []
        passed = 0.0
        for nxt in range(b + 1, len(batches)):
            out.append(nxt)
            passed += batches[nxt].volume_bbl
            if passed >= self.table.max_flow_bph:
                break
        return out

    def possible(self, h: int, b: int) -> bool:
        """Batch ``b`` can be at the injection point when hour ``h`` starts."""
        last = len(self.inputs.batches) - 1
        return self.start_bbl(b) <= self.bounds.high_bbl[h] and (
            self.end_bbl(b) > self.bounds.low_bbl[h] or b == last
        )


def due_bbl(inputs: PlanInputs) -> list[float]:
    """The volume that must have passed by each hour start (``hours + 1`` values): the
    end of the last batch due then, 0 where nothing is due."""
    hours = inputs.hours
    due = [0.0] * (hours + 1)
    for end, d in zip(inputs.batch_end_bbl, inputs.deadline_hour, strict=True):
        if d is not None:
            due[min(max(d, 0), hours)] = max(due[min(max(d, 0), hours)], end)
    return due


def add_tank_brackets(
    solver: pywraplp.Solver,
    inputs: PlanInputs,
    period_ends: list[int],
    gal: list[Expr],
    gal_low: list[Expr],
) -> None:
    """Two tank trajectories bracket the real one: gallons booked at the top of each
    option's flow range (the most DRA a period can use, ``gal``) must never empty the
    tank, gallons at the bottom (the least, ``gal_low``) must never overfill it at a
    delivery. Period ``i`` ends at hour ``period_ends[i]`` (deliveries fall there).
    Each trajectory is a chain of level variables, one per period, not a running sum
    written out in every period's constraint: that put O(hours^2) nonzeros in the
    matrix (the reference week's per-hour model: 233,000 nonzeros with running sums,
    72,000 without)."""
    capacity = inputs.config.skid(inputs.skid_id).tank_capacity_gal
    inf = solver.infinity()
    initial = inputs.nominations.initial_tank_gal + inputs.delivery_gal_at_hour[0]
    if initial > capacity:
        solver.Add(solver.NumVar(0.0, 0.0, "tank_over") >= 1.0)
    low_tank: Expr = initial
    high_tank: Expr = initial
    for i, end in enumerate(period_ends):
        delivery = inputs.delivery_gal_at_hour[end]
        level = solver.NumVar(0.0, inf, f"tank_low{i}")
        solver.Add(level == low_tank - gal[i])
        low_tank = level + delivery
        if any(inputs.delivery_gal_at_hour[end:]):
            top = solver.NumVar(-inf, inf, f"tank_high{i}")
            solver.Add(top == high_tank - gal_low[i])
            high_tank = top + delivery
            if delivery > 0:
                solver.Add(high_tank <= capacity)


class ModelSize(TypedDict):
    """A built model's size, as :class:`MilpOutcome` reports it."""

    variables: int
    binaries: int
    constraints: int


def minimise_cost(
    solver: pywraplp.Solver,
    inputs: PlanInputs,
    energy_cost_usd: list[Expr],
    gal: list[Expr],
    period_kw: list[Expr],
) -> None:
    """The objective: energy cost, DRA gallons at the DRA price and, with a demand
    charge, the charge on the peak of the periods' kW (one-hour periods then)."""
    objective: Expr = sum(energy_cost_usd) + inputs.config.dra.price_usd_per_gal * sum(gal)
    demand = inputs.config.tariff.demand_charge_usd_per_kw
    if demand > 0:
        peak = solver.NumVar(0.0, solver.infinity(), "peak_kW")
        for kw in period_kw:
            solver.Add(peak >= kw)
        objective = objective + demand * peak
    solver.Minimize(objective)


def solve_sized(
    solver: pywraplp.Solver, name: str, inputs: PlanInputs, time_limit_s: float | None
) -> tuple[Answer, float, ModelSize]:
    """Solve a built model within ``time_limit_s`` (the settings' when None) to the
    settings' gap: the answer, the solver's wall seconds and the model's size."""
    settings = inputs.settings
    stats = ModelSize(
        variables=solver.NumVariables(),
        binaries=sum(1 for v in solver.variables() if v.integer()),
        constraints=solver.NumConstraints(),
    )
    limit_s = settings.time_limit_s if time_limit_s is None else time_limit_s
    t0 = time.perf_counter()
    answer = solve_built(solver, name, limit_s, settings.relative_gap)
    return answer, time.perf_counter() - t0, stats


def solve_milp(
    inputs: PlanInputs,
    table: OperatingTable,
    *,
    solver_name: str | None = None,
    allow_dra: bool = True,
    relax: bool = False,
    window: VolumeBounds | None = None,
    time_limit_s: float | None = None,
) -> MilpOutcome:
    """Build and solve the MILP of ``inputs`` over ``table``.

    ``allow_dra=False`` solves the same model with every ppm fixed at 0 (the no-DRA
    baseline). ``relax=True`` solves its LP relaxation (every binary in [0, 1]): its
    optimum is a valid lower bound on the MILP's. ``window`` narrows the cumulative
    volume at each hour (see :mod:`twin.plan.planner`). Never raises on an infeasible
    or unsolved model: the status says so.

    Raises:
        ValueError: OR-Tools has no solver of that name.
    """
    solver, name = new_solver(inputs, solver_name)
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    options = table.options
    n_options = len(options)
    hours = inputs.hours
    batches = inputs.batches
    ends = inputs.batch_end_bbl
    inf = solver.infinity()
    tol_bbl = table.flow_step_bph
    # Gallons per ppm at the top of each option's flow range: over the range the model
    # books at least the DRA actually injected.
    gph_per_ppm = [float(dra.dra_gph_for_ppm(1.0, o.flow_max_bph)) for o in options]
    gph_low = [float(dra.dra_gph_for_ppm(1.0, o.flow_bph)) for o in options]

    ranges, max_flow = product_ranges(inputs, table, allow_dra)
    bounds = volume_bounds(inputs, max_flow, tol_bbl)
    if window is not None:
        bounds = VolumeBounds(
            tuple(max(a, b) for a, b in zip(bounds.low_bbl, window.low_bbl, strict=True)),
            tuple(min(a, b) for a, b in zip(bounds.high_bbl, window.high_bbl, strict=True)),
        )
        if any(lo > hi for lo, hi in zip(bounds.low_bbl, bounds.high_bbl, strict=True)):
            return no_plan(PlanStatus.INFEASIBLE, name, 0.0, False)

    def binary(label: str) -> pywraplp.Variable:
        return solver.NumVar(0.0, 1.0, label) if relax else solver.BoolVar(label)

    # States (h, b): batch b at the injection point at the start of hour h. Arcs
    # (h, b, b2): the hour starts in b and ends in b2 >= b. Every option is chosen per
    # arc (x[h, k, b, b2]), so along any path of arcs the product, the cumulative
    # volume (carried per arc as u) and the option agree: the LP relaxation can mix
    # whole schedules but not a product with a volume that contradicts it.
    line = BatchLine(inputs, table, bounds)
    start_of, end_of = line.start_bbl, line.end_bbl

    due = due_bbl(inputs)
    volume = [
        solver.NumVar(bounds.low_bbl[h] * KBBL, bounds.high_bbl[h] * KBBL, f"V{h}")
        for h in range(hours + 1)
    ]
    solver.Add(volume[0] == 0.0)
    inflow: dict[int, list[Expr]] = {0: [1.0]}
    inflow_volume: dict[int, list[Expr]] = {0: [0.0]}
    kwh_cost: list[Expr] = []
    gal: list[Expr] = []
    gal_low: list[Expr] = []
    pumps: list[Expr] = []
    choice: list[dict[tuple[int, int, int], pywraplp.Variable]] = []
    trims: list[dict[tuple[int, int, int], pywraplp.Variable]] = []
    ppm_of: list[dict[tuple[int, int, int], pywraplp.Variable]] = []
    energy_kw: list[Expr] = []
    for h in range(hours):
        x: dict[tuple[int, int, int], pywraplp.Variable] = {}
        c: dict[tuple[int, int, int], pywraplp.Variable] = {}
        trim: dict[tuple[int, int, int], pywraplp.Variable] = {}
        e_vars: list[pywraplp.Variable] = []
        next_inflow: dict[int, list[Expr]] = {}
        next_volume: dict[int, list[Expr]] = {}
        state_volume: list[Expr] = []
        for b, arriving in inflow.items():
            weight = sum(arriving)
            in_volume = sum(inflow_volume[b])
            if due[h] > 0.0:
                # Deadlines hold on every path, not only on average over paths.
                solver.Add(in_volume >= due[h] * KBBL * weight)
            out_weight: list[Expr] = []
            out_volume: list[Expr] = []
            p = batches[b].product_code
            envs = table.envelopes[p]
            for b2 in [b, *line.passed_from(b)]:
                if not line.possible(h + 1, b2):
                    continue
                present = {batches[i].product_code for i in range(b, b2 + 1)}
                arc_x = []
                arc_flow: list[Expr] = []
                for k in range(n_options):
                    if b2 > b and k == 0:
                        continue  # no flow, no interface
                    lo = max(ranges[q][k][0] for q in present)
                    hi = min(ranges[q][k][1] for q in present)
                    if lo > hi:
                        continue
                    xv = binary(f"x{h}_{k}_{b}_{b2}")
                    key = (k, b, b2)
                    x[key] = xv
                    arc_x.append(xv)
                    arc_flow.append(options[k].flow_bph * KBBL * xv)
                    if k == 0:
                        continue
                    e = solver.NumVar(0.0, inf, f"e{h}_{k}_{b}_{b2}")
                    e_vars.append(e)
                    env = envs[k]
                    span = (options[k].flow_max_bph - options[k].flow_bph) * KBBL
                    trim_kw: Expr = 0.0
                    if span > 0.0:
                        t = solver.NumVar(0.0, span, f"t{h}_{k}_{b}_{b2}")
                        solver.Add(t <= span * xv)
                        trim[key] = t
                        arc_flow.append(t)
                        trim_kw = (env.kw_no_dra_at_max_flow - env.kw_no_dra) / span * t
                    if hi > 0.0:
                        cv = solver.NumVar(0.0, hi, f"c{h}_{k}_{b}_{b2}")
                        c[key] = cv
                        solver.Add(cv <= hi * xv)
                        if lo > 0.0:
                            solver.Add(cv >= lo * xv)
                        add_dr_lines(solver, e, env, table.pieces[p], (lo, hi), xv, cv, trim_kw)
                    else:
                        solver.Add(e >= env.kw_no_dra * xv + trim_kw)
                if not arc_x:
                    continue
                taken = sum(arc_x)
                u = solver.NumVar(0.0, end_of(b) * KBBL, f"u{h}_{b}_{b2}")
                arc_total: Expr = sum(arc_flow)
                # Start in b: V[h] in [start_b, end_b); end in b2: V[h+1] in [start_b2, end_b2].
                lo_in = max(start_of(b), bounds.low_bbl[h]) * KBBL
                hi_in = min(end_of(b), bounds.high_bbl[h]) * KBBL
                lo_out = max(start_of(b2), bounds.low_bbl[h + 1]) * KBBL
                hi_out = min(end_of(b2), bounds.high_bbl[h + 1]) * KBBL
                solver.Add(u >= lo_in * taken)
                solver.Add(u <= hi_in * taken)
                solver.Add(u + arc_total >= lo_out * taken)
                solver.Add(u + arc_total <= hi_out * taken)
                out_weight.append(taken)
                out_volume.append(u)
                next_inflow.setdefault(b2, []).append(taken)
                next_volume.setdefault(b2, []).append(u + arc_total)
            solver.Add(sum(out_weight) == weight)
            solver.Add(sum(out_volume) == in_volume)
            state_volume.append(in_volume)
        solver.Add(volume[h] == sum(state_volume))
        inflow, inflow_volume = next_inflow, next_volume
        choice.append(x)
        ppm_of.append(c)
        trims.append(trim)
        energy_kw.append(sum(e_vars) if e_vars else 0.0)
        kwh_cost.append(inputs.price_usd_per_kwh[h] * energy_kw[h])
        gal.append(sum(gph_per_ppm[k] * v for (k, _, _), v in c.items()) if c else 0.0)
        gal_low.append(sum(gph_low[k] * v for (k, _, _), v in c.items()) if c else 0.0)
        pumps.append(sum(options[k].pumps * v for (k, _, _), v in x.items()))
    solver.Add(volume[hours] == sum(sum(v) for v in inflow_volume.values()))
    if due[hours] > 0.0:
        for b, arriving in inflow.items():
            solver.Add(sum(inflow_volume[b]) >= due[hours] * KBBL * sum(arriving))

    for b, d in enumerate(inputs.deadline_hour):
        if d is not None:
            solver.Add(volume[min(max(d, 0), hours)] >= ends[b] * KBBL)
    solver.Add(volume[hours] <= (inputs.total_bbl + tol_bbl) * KBBL)

    add_tank_brackets(solver, inputs, list(range(1, hours + 1)), gal, gal_low)

    starts = [solver.NumVar(0.0, inf, f"s{h}") for h in range(hours)]
    previous: Expr = float(inputs.nominations.initial_pumps_running)
    for h in range(hours):
        solver.Add(starts[h] >= pumps[h] - previous)
        previous = pumps[h]
    for day in sorted(set(inputs.day_of_hour)):
        solver.Add(
            sum(starts[h] for h in range(hours) if inputs.day_of_hour[h] == day)
            <= skid.max_pump_starts_per_day
        )

    minimise_cost(solver, inputs, kwh_cost, gal, energy_kw)

    answer, elapsed, stats = solve_sized(solver, name, inputs, time_limit_s)
    status = answer.status
    if status not in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE):
        return no_plan(status, name, elapsed, answer.time_limit_reached, **stats)
    value = answer.values
    if relax:
        return MilpOutcome(
            status=status,
            solver=name,
            decisions=None,
            objective_usd=answer.objective,
            best_bound_usd=answer.objective,
            relative_gap=0.0,
            solve_time_s=elapsed,
            time_limit_reached=False,
            volume_bbl=tuple(value(v) / KBBL for v in volume),
            **stats,
        )
    decisions = []
    for h in range(hours):
        key = max(choice[h], key=lambda kb: value(choice[h][kb]))
        k = key[0]
        ppm = max(0.0, value(ppm_of[h][key])) if key in ppm_of[h] else 0.0
        option = options[k]
        flow = option.flow_bph
        if key in trims[h]:
            flow = min(option.flow_max_bph, flow + max(0.0, value(trims[h][key])) / KBBL)
        decisions.append(PlannedHour(flow_bph=flow, pumps_running=option.pumps, ppm=ppm))
    return MilpOutcome(
        status=status,
        solver=name,
        decisions=decisions,
        objective_usd=answer.objective,
        best_bound_usd=answer.bound,
        relative_gap=relative_gap(answer.objective, answer.bound),
        solve_time_s=elapsed,
        time_limit_reached=answer.time_limit_reached,
        volume_bbl=tuple(value(v) / KBBL for v in volume),
        **stats,
    )


@dataclass(frozen=True)
class Answer:
    status: PlanStatus
    objective: float
    bound: float
    time_limit_reached: bool
    values: Callable[[pywraplp.Variable], float]


def solve_built(solver: pywraplp.Solver, name: str, limit_s: float, gap: float) -> Answer:
    """Solve a built model with HiGHS (through MathOpt) or the wrapper's backend."""
    if name.upper() == "HIGHS":
        return _solve_highs(solver, limit_s, gap)
    return _solve_wrapped(solver, limit_s, gap)


def mathopt_model(solver: pywraplp.Solver) -> mathopt.Model:
    """The built model as a MathOpt model, every coefficient and bound bit for bit.

    Not through MPS text: OR-Tools' MPS writer prints numbers with 6 significant
    digits (a 136,878.5 bbl nomination became 136,879), which made feasible requests
    "infeasible" and put the optimum of a rounded model in the plan. The variable ids
    are the wrapper's indices."""
    source = linear_solver_pb2.MPModelProto()
    solver.ExportModelToProto(source)
    proto = model_pb2.ModelProto()
    variables = proto.variables
    variables.ids.extend(range(len(source.variable)))
    variables.lower_bounds.extend(v.lower_bound for v in source.variable)
    variables.upper_bounds.extend(v.upper_bound for v in source.variable)
    variables.integers.extend(v.is_integer for v in source.variable)
    variables.names.extend(v.name for v in source.variable)
    objective = proto.objective
    objective.maximize = source.maximize
    objective.offset = source.objective_offset
    terms = [(i, v.objective_coefficient) for i, v in enumerate(source.variable)]
    terms = [(i, c) for i, c in terms if c != 0.0]
    objective.linear_coefficients.ids.extend(i for i, _ in terms)
    objective.linear_coefficients.values.extend(c for _, c in terms)
    rows = proto.linear_constraints
    rows.ids.extend(range(len(source.constraint)))
    rows.lower_bounds.extend(c.lower_bound for c in source.constraint)
    rows.upper_bounds.extend(c.upper_bound for c in source.constraint)
    rows.names.extend(c.name for c in source.constraint)
    matrix = proto.linear_constraint_matrix
    for row, constraint in enumerate(source.constraint):
        # MathOpt wants each row's entries by column, once each.
        entries: dict[int, float] = {}
        for column, coefficient in zip(constraint.var_index, constraint.coefficient, strict=True):
            entries[column] = entries.get(column, 0.0) + coefficient
        for column in sorted(entries):
            matrix.row_ids.append(row)
            matrix.column_ids.append(column)
            matrix.coefficients.append(entries[column])
    return mathopt.Model.from_model_proto(proto)


def _solve_highs(solver: pywraplp.Solver, limit_s: float, gap: float) -> Answer:
    """Solve with HiGHS through MathOpt, which reports HiGHS' own dual bound (the
    ``pywraplp`` wrapper answers the incumbent as the best bound, and ignores the gap
    parameter)."""
    model = mathopt_model(solver)
    result = mathopt.solve(
        model,
        mathopt.SolverType.HIGHS,
        params=mathopt.SolveParameters(
            time_limit=timedelta(seconds=limit_s), relative_gap_tolerance=gap
        ),
    )
    reason = result.termination.reason
    hit_time = result.termination.limit == mathopt.Limit.TIME
    status = {
        mathopt.TerminationReason.OPTIMAL: PlanStatus.OPTIMAL,
        mathopt.TerminationReason.FEASIBLE: PlanStatus.FEASIBLE,
        mathopt.TerminationReason.INFEASIBLE: PlanStatus.INFEASIBLE,
        mathopt.TerminationReason.NO_SOLUTION_FOUND: PlanStatus.NO_SOLUTION,
    }.get(reason, PlanStatus.ERROR)
    if status not in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE):
        return Answer(status, math.nan, math.nan, hit_time, lambda v: math.nan)
    by_index = {v.id: val for v, val in result.variable_values().items()}
    return Answer(
        status,
        result.objective_value(),
        result.termination.objective_bounds.dual_bound,
        hit_time,
        lambda v: by_index[v.index()],
    )


def _solve_wrapped(solver: pywraplp.Solver, limit_s: float, gap: float) -> Answer:
    """Solve with the wrapper's own backend (CBC, SCIP)."""
    solver.SetTimeLimit(max(1, int(limit_s * 1000)))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, gap)
    t0 = time.perf_counter()
    code = solver.Solve(params)
    status = _status(code)
    hit_time = code != pywraplp.Solver.OPTIMAL and time.perf_counter() - t0 >= limit_s * 0.98
    if status not in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE):
        return Answer(status, math.nan, math.nan, hit_time, lambda v: math.nan)
    return Answer(
        status,
        solver.Objective().Value(),
        solver.Objective().BestBound(),
        hit_time,
        lambda v: float(v.solution_value()),
    )
