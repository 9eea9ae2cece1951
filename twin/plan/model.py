"""The hourly MILP: flow option, pump line-up and ppm per hour, at least cost.

Per hour ``h`` the model picks one option ``k`` of the :class:`OperatingTable`
(binary ``f[h,k]``; a flow level with a pump count, or the shutdown) and a ppm
``c[h,k]`` for it (continuous, zero unless ``k`` is picked). Everything else is
linear in those:

* volume ``V[h+1] = V[h] + sum_k Q_k f[h,k]``; ``V[d_b] >= end of batch b`` at each
  deadline; at most one flow step beyond the nominations at the end;
* the product at the injection point: ``y[h,b] = 1`` only if batch ``b`` has fully
  passed by the start of hour ``h`` (``V[h] >= end_b``) and must be 1 once it has
  (``V[h] <= end_b + M y``). Batch ``b`` is at the injection point in hour ``h``
  when ``y[h+1,b-1] - y[h,b] = 1``; every product present in an hour imposes its own
  ppm interval (0 for jet fuel, whatever the flow) and its own power, the hour
  costing the most demanding of them. Hours whose product the volume bounds already
  fix need no binary at all;
* DRA gallons ``= sum_k gph(Q_k, 1 ppm) c[h,k]``; tank balance with deliveries,
  between empty and full;
* pumps running ``N[h] = sum_k n_k f[h,k]``, starts ``s[h] >= N[h] - N[h-1]``, at
  most ``max_pump_starts_per_day`` per local day;
* cost = ``sum_h price_h kW_h`` (kW over one hour is kWh) + DRA price × gallons
  (+ demand charge × peak kW), with ``kW_h`` above each secant line of the product's
  piecewise-linear drag reduction.

Solved with OR-Tools' linear solver wrapper (HiGHS by default; CBC and SCIP for
comparison) under a time limit and a relative gap target, both always set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeAlias

from ortools.linear_solver import pywraplp

from schemas.plan import PlanStatus
from twin import dra
from twin.plan.inputs import PlanInputs
from twin.plan.operating_table import DrPieces, OperatingTable

__all__ = ["HourDecision", "MilpOutcome", "solve_milp"]


@dataclass(frozen=True)
class HourDecision:
    """What the plan does in one hour."""

    option_index: int
    flow_bph: float
    pumps_running: int
    ppm: float
    dra_gal: float


@dataclass(frozen=True)
class MilpOutcome:
    """The solver's answer, as reported (objective and bound in USD)."""

    status: PlanStatus
    solver: str
    decisions: list[HourDecision] | None
    objective_usd: float | None
    best_bound_usd: float | None
    relative_gap: float | None
    solve_time_s: float
    time_limit_reached: bool
    variables: int
    binaries: int
    constraints: int
    message: str = ""
    volume_bbl: tuple[float, ...] | None = None


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


def _no_plan(
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


_Expr: TypeAlias = Any
"""A pywraplp linear expression or variable (untyped library), or a float constant."""


def _lines_over(pieces: DrPieces, lo_ppm: float, hi_ppm: float) -> list[tuple[float, float]]:
    """The secant lines of the pieces that overlap ``[lo_ppm, hi_ppm]``: outside the
    option's ppm interval the other lines are never the maximum."""
    bp = pieces.breakpoints_ppm
    return [line for i, line in enumerate(pieces.lines) if bp[i] <= hi_ppm and bp[i + 1] >= lo_ppm]


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
    settings = inputs.settings
    name = solver_name or settings.solver
    solver = pywraplp.Solver.CreateSolver(name)

    if solver is None:
        raise ValueError(f"OR-Tools has no solver {name!r} here")
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    options = table.options
    n_options = len(options)
    hours = inputs.hours
    batches = inputs.batches
    n_batches = len(batches)
    ends = inputs.batch_end_bbl
    products = sorted({b.product_code for b in batches})
    inf = solver.infinity()
    tol_bbl = table.flow_step_bph
    # Gallons per ppm at the top of each option's flow range: over the range the model
    # books at least the DRA actually injected.
    gph_per_ppm = [float(dra.dra_gph_for_ppm(1.0, o.flow_max_bph)) for o in options]
    gph_low = [float(dra.dra_gph_for_ppm(1.0, o.flow_bph)) for o in options]

    # ppm interval of option k for product p; (1, 0) when infeasible.
    ranges: dict[str, list[tuple[float, float]]] = {}
    for p in products:
        ranges[p] = []
        for e in table.envelopes[p]:
            hi = e.ppm_max if allow_dra else 0.0
            ranges[p].append((e.ppm_min, hi) if e.feasible and e.ppm_min <= hi else (1.0, 0.0))
    max_flow = {
        p: max(
            options[k].flow_max_bph for k in range(n_options) if ranges[p][k][0] <= ranges[p][k][1]
        )
        for p in products
    }
    bounds = volume_bounds(inputs, max_flow, tol_bbl)
    if window is not None:
        bounds = VolumeBounds(
            tuple(max(a, b) for a, b in zip(bounds.low_bbl, window.low_bbl, strict=True)),
            tuple(min(a, b) for a, b in zip(bounds.high_bbl, window.high_bbl, strict=True)),
        )
        if any(lo > hi for lo, hi in zip(bounds.low_bbl, bounds.high_bbl, strict=True)):
            return _no_plan(PlanStatus.INFEASIBLE, name, 0.0, False)

    def binary(label: str) -> pywraplp.Variable:
        return solver.NumVar(0.0, 1.0, label) if relax else solver.BoolVar(label)

    big_c = max((r[1] for p in products for r in ranges[p]), default=0.0) + 2.0

    volume = [
        solver.NumVar(bounds.low_bbl[h], bounds.high_bbl[h], f"V{h}") for h in range(hours + 1)
    ]
    solver.Add(volume[0] == 0.0)
    # done[h][b]: batch b has fully passed by the start of hour h (1.0/0.0 when the
    # bounds decide it); the last batch never ends. V[h] is split into the volume of
    # each batch pumped so far, filled in order (the incremental formulation of a
    # piecewise function, whose LP relaxation is tight): a batch can only have
    # started once the previous one is done.
    done: list[list[_Expr]] = []
    batch_parts: list[list[_Expr]] = [[0.0] * n_batches]
    for h in range(hours + 1):
        row: list[_Expr] = []
        for b in range(n_batches):
            if b == n_batches - 1 or bounds.high_bbl[h] <= ends[b]:
                row.append(0.0)
            elif bounds.low_bbl[h] >= ends[b]:
                row.append(1.0)
            else:
                row.append(binary(f"y{h}_{b}"))
        done.append(row)
        if h == 0:
            continue
        parts: list[_Expr] = []
        for b in range(n_batches):
            size = batches[b].volume_bbl + (tol_bbl if b == n_batches - 1 else 0.0)
            first = done[h][b - 1] if b > 0 else 1.0
            last = done[h][b]
            if isinstance(first, float) and first == 0.0:
                parts.append(0.0)
            elif isinstance(last, float) and last == 1.0:
                parts.append(size)
            else:
                part = solver.NumVar(0.0, size, f"d{h}_{b}")
                parts.append(part)
                if not isinstance(last, float):
                    solver.Add(part >= size * last)
                if not isinstance(first, float):
                    solver.Add(part <= size * first)
            # A batch grows by at most its product's top flow per hour, and only in
            # hours by whose end its predecessor is done: this keeps the relaxation
            # from holding a product at the injection point long after it has gone.
            if b > 0:
                step = parts[b] - batch_parts[h - 1][b]
                if not isinstance(step, float):
                    solver.Add(step <= max_flow[batches[b].product_code] * first)
        batch_parts.append(parts)
        solver.Add(volume[h] == sum(parts))
    for h in range(hours):
        for b in range(n_batches - 1):
            if not (isinstance(done[h][b], float) and isinstance(done[h + 1][b], float)):
                solver.Add(done[h + 1][b] >= done[h][b])
                if b + 1 < n_batches - 1:
                    solver.Add(done[h][b] >= done[h][b + 1])

    def started(h: int, b: int) -> _Expr:
        return 1.0 if b == 0 else done[h][b - 1]

    kwh_cost: list[_Expr] = []
    gal: list[_Expr] = []
    gal_low: list[_Expr] = []
    pumps: list[_Expr] = []
    choice: list[dict[tuple[int, int], pywraplp.Variable]] = []
    trims: list[dict[tuple[int, int], pywraplp.Variable]] = []
    ppm_of: list[dict[tuple[int, int], pywraplp.Variable]] = []
    credited: dict[int, list[_Expr]] = {}
    energy_kw: list[_Expr] = []
    for h in range(hours):
        # Batch at the injection point at the start of the hour: one-hot in y. The
        # hour's option is chosen per batch (x[h, k, b]), so the flow each batch is
        # credited with can be tied to its volume below.
        at_start: dict[int, _Expr] = {}
        for b in range(n_batches):
            expr = started(h, b) - done[h][b]
            if isinstance(expr, float) and expr <= 0.0:
                continue
            at_start[b] = expr
        x: dict[tuple[int, int], pywraplp.Variable] = {}
        c: dict[tuple[int, int], pywraplp.Variable] = {}
        trim: dict[tuple[int, int], pywraplp.Variable] = {}
        e_vars: list[pywraplp.Variable] = []
        for b, expr in at_start.items():
            p = batches[b].product_code
            envs = table.envelopes[p]
            xs = []
            for k in range(n_options):
                lo, hi = ranges[p][k]
                if lo > hi:
                    continue
                xv = binary(f"x{h}_{k}_{b}")
                x[(k, b)] = xv
                xs.append(xv)
                if k == 0:
                    continue
                e = solver.NumVar(0.0, inf, f"e{h}_{k}_{b}")
                e_vars.append(e)
                env = envs[k]
                span = options[k].flow_max_bph - options[k].flow_bph
                trim_kw: _Expr = 0.0
                if span > 0.0:
                    t = solver.NumVar(0.0, span, f"t{h}_{k}_{b}")
                    solver.Add(t <= span * xv)
                    trim[(k, b)] = t
                    trim_kw = (env.kw_no_dra_at_max_flow - env.kw_no_dra) / span * t
                if hi > 0.0:
                    cv = solver.NumVar(0.0, hi, f"c{h}_{k}_{b}")
                    c[(k, b)] = cv
                    solver.Add(cv <= hi * xv)
                    if lo > 0.0:
                        solver.Add(cv >= lo * xv)
                    for intercept, slope in _lines_over(table.pieces[p], lo, hi):
                        solver.Add(
                            e
                            >= (env.kw_no_dra - env.kw_friction_no_dra * (1.0 - intercept)) * xv
                            + env.kw_friction_no_dra * slope * cv
                            + trim_kw
                        )
                else:
                    solver.Add(e >= env.kw_no_dra * xv + trim_kw)
            solver.Add(sum(xs) == expr)
        flow_share = {k: sum(v for (kk, _), v in x.items() if kk == k) for k in range(n_options)}
        ppm_h: _Expr = sum(c.values()) if c else 0.0
        # Products that may arrive during the hour (an interface passes): the option
        # and the ppm must suit them too, jet fuel's 0 ppm above all.
        for b in range(1, n_batches):
            arrives = started(h + 1, b) - started(h, b)
            if isinstance(arrives, float) and arrives <= 0.0:
                continue
            p = batches[b].product_code
            lo_expr = sum(
                (ranges[p][k][0] if ranges[p][k][0] <= ranges[p][k][1] else big_c - 1.0)
                * flow_share[k]
                for k in range(1, n_options)
            )
            hi_expr = sum(
                (ranges[p][k][1] if ranges[p][k][0] <= ranges[p][k][1] else -1.0) * flow_share[k]
                for k in range(1, n_options)
            )
            solver.Add(ppm_h >= lo_expr - big_c * (1.0 - arrives))
            solver.Add(ppm_h <= hi_expr + big_c * (1.0 - arrives))
        choice.append(x)
        ppm_of.append(c)
        energy_kw.append(sum(e_vars) if e_vars else 0.0)
        kwh_cost.append(inputs.price_usd_per_kwh[h] * energy_kw[h])
        gal.append(sum(gph_per_ppm[k] * v for (k, _), v in c.items()) if c else 0.0)
        gal_low.append(sum(gph_low[k] * v for (k, _), v in c.items()) if c else 0.0)
        pumps.append(sum(options[k].pumps * v for (k, _), v in x.items()))
        solver.Add(
            volume[h + 1]
            == volume[h]
            + sum(options[k].flow_bph * v for (k, _), v in x.items())
            + sum(trim.values())
        )
        trims.append(trim)
        # Flow credited to batches from b on is pumped into batches from b on: the
        # batch at the start of an hour comes no later than any batch pumped in it.
        credit = [0.0 for _ in range(n_batches)]
        for (k, b), v in x.items():
            credit[b] = credit[b] + options[k].flow_bph * v
        for (_, b), t in trim.items():
            credit[b] = credit[b] + t
        inc = [batch_parts[h + 1][b] - batch_parts[h][b] for b in range(n_batches)]
        for b in range(1, n_batches):
            lhs = sum(credit[b:])
            rhs = sum(inc[b:])
            if not (isinstance(lhs, float) and isinstance(rhs, float)):
                solver.Add(lhs <= rhs)
        for (k, b), v in x.items():
            credited.setdefault(b, []).append(options[k].flow_bph * v)
        for (_, b), t in trim.items():
            credited.setdefault(b, []).append(t)

    # Valid inequalities that tighten the LP relaxation: the flow of the hours that
    # start with batch b differs from b's volume by less than one hour's flow (the
    # hour in which b ends also carries some of b+1; the hour in which b starts is
    # credited to b-1). Without them the relaxation may credit a batch's hours to a
    # cheaper product standing half-way at the injection point.
    fastest = table.max_flow_bph
    for b, parts in credited.items():
        solver.Add(sum(parts) <= batches[b].volume_bbl + fastest)
        if b < n_batches - 1 and bounds.low_bbl[hours] >= ends[b]:
            solver.Add(sum(parts) >= batches[b].volume_bbl - fastest)

    for b, d in enumerate(inputs.deadline_hour):
        if d is not None:
            solver.Add(volume[min(max(d, 0), hours)] >= ends[b])
    solver.Add(volume[hours] <= inputs.total_bbl + tol_bbl)

    # Two tank trajectories bracket the real one: gallons booked at the top of each
    # option's flow range (the most DRA the hour can use) must never empty the tank,
    # gallons at the bottom (the least) must never overfill it at a delivery.
    initial = inputs.nominations.initial_tank_gal + inputs.delivery_gal_at_hour[0]
    low_tank: _Expr = initial
    high_tank: _Expr = initial
    if initial > skid.tank_capacity_gal:
        solver.Add(solver.NumVar(0.0, 0.0, "tank_over") >= 1.0)
    for h in range(hours):
        low_tank = low_tank - gal[h]
        high_tank = high_tank - gal_low[h]
        solver.Add(low_tank >= 0.0)
        if inputs.delivery_gal_at_hour[h + 1] > 0:
            low_tank = low_tank + inputs.delivery_gal_at_hour[h + 1]
            high_tank = high_tank + inputs.delivery_gal_at_hour[h + 1]
            solver.Add(high_tank <= skid.tank_capacity_gal)

    starts = [solver.NumVar(0.0, inf, f"s{h}") for h in range(hours)]
    previous: _Expr = float(inputs.nominations.initial_pumps_running)
    for h in range(hours):
        solver.Add(starts[h] >= pumps[h] - previous)
        previous = pumps[h]
    for day in sorted(set(inputs.day_of_hour)):
        solver.Add(
            sum(starts[h] for h in range(hours) if inputs.day_of_hour[h] == day)
            <= skid.max_pump_starts_per_day
        )

    objective: _Expr = sum(kwh_cost) + config.dra.price_usd_per_gal * sum(gal)
    demand = config.tariff.demand_charge_usd_per_kw
    if demand > 0:
        peak = solver.NumVar(0.0, inf, "peak_kW")
        for h in range(hours):
            solver.Add(peak >= energy_kw[h])
        objective = objective + demand * peak
    solver.Minimize(objective)

    limit_s = settings.time_limit_s if time_limit_s is None else time_limit_s
    solver.SetTimeLimit(max(1, int(limit_s * 1000)))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, settings.relative_gap)
    if name.upper().startswith("HIGHS"):
        # The wrapper does not pass the MIP gap on to HiGHS: set HiGHS' own option.
        solver.SetSolverSpecificParametersAsString(f"mip_rel_gap={settings.relative_gap}")
    n_vars = solver.NumVariables()
    n_bin = sum(1 for v in solver.variables() if v.integer())
    n_cons = solver.NumConstraints()
    t0 = time.perf_counter()
    code = solver.Solve(params)
    elapsed = time.perf_counter() - t0
    status = _status(code)
    time_limit_reached = code != pywraplp.Solver.OPTIMAL and elapsed >= limit_s * 0.98
    stats = {"variables": n_vars, "binaries": n_bin, "constraints": n_cons}
    if status not in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE):
        return _no_plan(status, name, elapsed, time_limit_reached, **stats)
    if relax:
        obj = solver.Objective().Value()
        return MilpOutcome(
            status=status,
            solver=name,
            decisions=None,
            objective_usd=obj,
            best_bound_usd=obj,
            relative_gap=0.0,
            solve_time_s=elapsed,
            time_limit_reached=False,
            volume_bbl=tuple(v.solution_value() for v in volume),
            **stats,
        )
    decisions = []
    for h in range(hours):
        (k, b) = max(choice[h], key=lambda kb: choice[h][kb].solution_value())
        ppm = max(0.0, ppm_of[h][(k, b)].solution_value()) if (k, b) in ppm_of[h] else 0.0
        option = options[k]
        flow = option.flow_bph
        if (k, b) in trims[h]:
            flow = min(option.flow_max_bph, flow + max(0.0, trims[h][(k, b)].solution_value()))
        decisions.append(
            HourDecision(
                option_index=k,
                flow_bph=flow,
                pumps_running=option.pumps,
                ppm=ppm,
                dra_gal=float(dra.dra_gph_for_ppm(ppm, flow)),
            )
        )
    obj = solver.Objective().Value()
    bound = solver.Objective().BestBound()
    gap = abs(obj - bound) / max(abs(obj), 1e-9)
    return MilpOutcome(
        status=status,
        solver=name,
        decisions=decisions,
        objective_usd=obj,
        best_bound_usd=bound,
        relative_gap=gap,
        solve_time_s=elapsed,
        time_limit_reached=time_limit_reached,
        volume_bbl=tuple(v.solution_value() for v in volume),
        **stats,
    )
