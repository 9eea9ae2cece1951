"""The hourly MILP with interchangeable hours counted, not enumerated.

Hours that share a tariff price and a local day, with no deadline and no DRA
delivery between them, form a *block*: inside it, the hours a batch spends wholly at
the injection point can be run in any order at the same cost, so the model counts
them per option (an integer ``y``, with the trim, ppm and kW totals over those
hours) instead of choosing an option per hour. Each block is the per-hour model of
:mod:`twin.plan.model` with its hours collapsed: a *node* per batch that can be at
the injection point during the block (its segment of whole hours), and a *passage*
hour per interface, as in the per-hour arcs; the volume and the hours spent are
carried along each path through the block, so every path spends the block's hours
(without that, the LP relaxation of the reference week was 0.16 % weaker). The
reference week's 168 hours become 35 blocks and HiGHS no longer branches over
orderings of equal hours: 4.5 s to the 0.1 % gap instead of 47 s (``make bench``).

Why the optimum is the per-hour model's (tested against it and against a dynamic
programme in ``tests/twin/test_plan_blocks.py``):

* every per-hour plan is a block plan of the same cost: count each block's hours per
  batch and option, sum their trims, ppm and kW;
* every block plan is a per-hour plan of no greater cost: give each of the ``y``
  hours of a count the same share of its totals (the kW lines are homogeneous in
  ``(y, ppm, trim)``, so the hours' kW sum to at most the total), in batch order,
  passages between. Volume is monotone within a block, so a segment that starts and
  ends within its batch stays in it; the tank only falls within a block (no
  delivery), so its lowest level is at the block's end; deadlines and deliveries
  fall on block edges; the per-hour volume windows are implied by the deadlines and
  the flows (:func:`twin.plan.model.volume_bounds`);
* pump starts depend on the order of a segment's hours: the fewest come from one of
  its two sorted orders (:func:`order_hours`), and the model counts exactly those,
  choosing the order per segment (:func:`_add_starts`), so a block plan keeps the
  daily limit in the hour order :func:`solve_blocks` returns.

A demand charge puts the peak kW of every hour in the objective: a count's hours
would share a peak that is not linear in the count, so with a demand charge every
block is one hour long (the per-hour model).
"""

from __future__ import annotations

from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from schemas.plan import PlanStatus
from twin import dra
from twin.plan.checker import PlannedHour
from twin.plan.inputs import PlanInputs
from twin.plan.model import (
    KBBL,
    BatchLine,
    Expr,
    MilpOutcome,
    add_dr_lines,
    add_tank_brackets,
    due_bbl,
    minimise_cost,
    new_solver,
    no_plan,
    product_ranges,
    relative_gap,
    solve_sized,
    volume_bounds,
)
from twin.plan.operating_table import OperatingTable

__all__ = ["blocks_of", "order_hours", "solve_blocks"]


def blocks_of(inputs: PlanInputs) -> list[tuple[int, int]]:
    """``[h0, h1)`` runs of hours with one price and one local day, cut at every
    deadline and delivery; a day's last hour is a block of its own (it fixes the pump
    count the next day starts from, see :func:`_add_starts`); one-hour blocks
    throughout with a demand charge."""
    hours = inputs.hours
    days = inputs.day_of_hour
    cuts = {d for d in inputs.deadline_hour if d is not None}
    cuts |= {h for h in range(hours) if inputs.delivery_gal_at_hour[h] > 0}
    cuts |= {h for h in range(1, hours) if days[h] != days[h - 1]}
    cuts |= {h - 1 for h in range(2, hours) if days[h] != days[h - 1]}
    hourly = inputs.config.tariff.demand_charge_usd_per_kw > 0
    out: list[tuple[int, int]] = []
    h0 = 0
    for h in range(1, hours + 1):
        if (
            h == hours
            or hourly
            or h in cuts
            or inputs.price_usd_per_kwh[h] != inputs.price_usd_per_kwh[h0]
        ):
            out.append((h0, h))
            h0 = h
    return out


def order_hours(
    pieces: list[list[tuple[int, PlannedHour]]], previous_pumps: int
) -> list[PlannedHour]:
    """Hours in the order of ``pieces`` (a segment: its hours in any order; a passage:
    one hour), each segment ascending or descending in pump count, whichever of the
    two gives the fewest starts along the whole sequence (dynamic programming over
    the last hour's pump count). Either order is the fewest for a segment given its
    neighbours: any order must climb from the previous hour to its highest count and
    from its lowest to the next hour, or from its lowest to its highest."""
    best: dict[int, tuple[int, list[PlannedHour]]] = {previous_pumps: (0, [])}
    for piece in pieces:
        hours_up = [h for _, h in sorted(piece, key=lambda kh: (kh[1].pumps_running, kh[0]))]
        orders = [hours_up, hours_up[::-1]] if hours_up else [[]]
        nxt: dict[int, tuple[int, list[PlannedHour]]] = {}
        for last, (starts, seq) in best.items():
            for order in orders:
                count = starts
                pumps = last
                for h in order:
                    count += max(0, h.pumps_running - pumps)
                    pumps = h.pumps_running
                if pumps not in nxt or count < nxt[pumps][0]:
                    nxt[pumps] = (count, seq + order)
        best = nxt
    return min(best.values(), key=lambda cs: cs[0])[1]


@dataclass
class _Count:
    """An option's hours in a segment (or a passage's one hour): the count and the
    totals over those hours of trim (kbbl/h) and ppm (ppm-hours)."""

    k: int
    pumps: int
    count: pywraplp.Variable
    trim: pywraplp.Variable | None
    ppm: pywraplp.Variable | None


def _add_starts(
    solver: pywraplp.Solver,
    chain: list[tuple[int, int, list[_Count]]],
    inputs: PlanInputs,
    most_pumps: int,
) -> None:
    """Pump starts along ``chain`` (segments and passages in path order, each with its
    local day and length), at most the limit per day, exactly as the per-hour model
    counts them for the best order of each segment's hours.

    Each piece has a first and a last pump count ``F``, ``E``; a piece with no hours
    passes the previous piece's ``E`` through unchanged. A one-hour piece has
    ``F = E =`` its pumps. A segment is ascending or descending (binary ``d``, see
    :func:`order_hours`): descending, ``F`` at least its highest count used and ``E``
    at most its lowest; ascending, ``F`` at most the lowest and ``E`` at least the
    highest, with ``E - F`` starts inside. Starts into a piece: ``F`` minus the
    previous ``E``. Counted so, a path's starts are those of the hour sequence
    ``previous E, F, E, ...`` refined by the real hours (which only adds starts), so
    never fewer than the hours' real starts, and equal for the extreme ``F``, ``E``.
    A day's last hour is a block of its own (:func:`blocks_of`): an ascending
    segment's ``E`` above its highest count cannot then move a start across days."""
    top = float(max(most_pumps, inputs.nominations.initial_pumps_running))
    previous: Expr = float(inputs.nominations.initial_pumps_running)
    by_day: dict[int, list[Expr]] = {}
    for i, (day, length, counts) in enumerate(chain):
        active: Expr = sum(c.count for c in counts)
        if length == 1:
            pumps: Expr = sum(c.pumps * c.count for c in counts)
            first = solver.NumVar(0.0, top, f"F{i}")
            solver.Add(first >= pumps)
            solver.Add(first <= pumps + top * (1 - active))
            last: Expr = first
            inside: Expr = 0.0
        else:
            on = solver.BoolVar(f"on{i}")
            solver.Add(active <= length * on)
            solver.Add(on <= active)
            active = on
            first = solver.NumVar(0.0, top, f"F{i}")
            last = solver.NumVar(0.0, top, f"E{i}")
            down = solver.BoolVar(f"d{i}")
            used: dict[int, pywraplp.Variable] = {}
            for c in counts:
                n = c.pumps
                if n not in used:
                    used[n] = solver.BoolVar(f"z{i}_{n}")
                solver.Add(c.count <= length * used[n])
            for n, z in used.items():
                solver.Add(first >= n * z - top * (1 - down))
                solver.Add(last <= n + top * (1 - z) + top * (1 - down))
                solver.Add(first <= n + top * (1 - z) + top * down)
                solver.Add(last >= n * z - top * down)
            inside = solver.NumVar(0.0, top, f"i{i}")
            solver.Add(inside >= last - first)
            solver.Add(last - first <= top * active)
            solver.Add(first - last <= top * active)
        solver.Add(first - previous <= top * active)
        solver.Add(previous - first <= top * active)
        into = solver.NumVar(0.0, top, f"s{i}")
        solver.Add(into >= first - previous)
        by_day.setdefault(day, []).extend([into, inside])
        previous = last
    limit = inputs.config.skid(inputs.skid_id).max_pump_starts_per_day
    for starts in by_day.values():
        solver.Add(sum(starts) <= limit)


def solve_blocks(
    inputs: PlanInputs,
    table: OperatingTable,
    *,
    solver_name: str | None = None,
    allow_dra: bool = True,
    count_starts: bool = True,
    time_limit_s: float | None = None,
) -> MilpOutcome:
    """Build and solve the block model of ``inputs`` over ``table`` (see the module
    docstring); the plan comes back hour by hour, segments ordered by
    :func:`order_hours`. Never raises on an infeasible or unsolved model.

    Raises:
        ValueError: OR-Tools has no solver of that name.
    """
    solver, name = new_solver(inputs, solver_name)
    options = table.options
    n_options = len(options)
    hours = inputs.hours
    batches = inputs.batches
    n_batches = len(batches)
    inf = solver.infinity()
    tol_bbl = table.flow_step_bph
    gph_top = [float(dra.dra_gph_for_ppm(1.0, o.flow_max_bph)) for o in options]
    gph_low = [float(dra.dra_gph_for_ppm(1.0, o.flow_bph)) for o in options]
    ranges, max_flow = product_ranges(inputs, table, allow_dra)
    bounds = volume_bounds(inputs, max_flow, tol_bbl)
    blocks = blocks_of(inputs)

    line = BatchLine(inputs, table, bounds)
    start_of, end_of, state_possible = line.start_bbl, line.end_bbl, line.possible

    def counts_for(
        label: str, present: list[int], hours_max: int, first_option: int
    ) -> tuple[list[_Count], Expr, Expr, Expr, Expr]:
        """Counts of the options every product in ``present`` allows, with their
        flow (kbbl), kW-hours and top and bottom DRA gallons."""
        p = batches[present[0]].product_code
        envs = table.envelopes[p]
        counts: list[_Count] = []
        flow: list[Expr] = []
        kwh: list[Expr] = []
        gal_top: list[Expr] = []
        gal_bottom: list[Expr] = []
        codes = {batches[i].product_code for i in present}
        for k in range(first_option, n_options):
            lo = max(ranges[q][k][0] for q in codes)
            hi = min(ranges[q][k][1] for q in codes)
            if lo > hi:
                continue
            y = (
                solver.BoolVar(f"y{label}_{k}")
                if hours_max == 1
                else solver.IntVar(0.0, hours_max, f"y{label}_{k}")
            )
            flow.append(options[k].flow_bph * KBBL * y)
            count = _Count(k, options[k].pumps, y, None, None)
            counts.append(count)
            if k == 0:
                continue
            env = envs[k]
            span = (options[k].flow_max_bph - options[k].flow_bph) * KBBL
            trim_kw: Expr = 0.0
            if span > 0.0:
                t = solver.NumVar(0.0, span * hours_max, f"t{label}_{k}")
                solver.Add(t <= span * y)
                count.trim = t
                flow.append(t)
                trim_kw = (env.kw_no_dra_at_max_flow - env.kw_no_dra) / span * t
            if hi > 0.0:
                e = solver.NumVar(0.0, inf, f"e{label}_{k}")
                kwh.append(e)
                c = solver.NumVar(0.0, hi * hours_max, f"c{label}_{k}")
                count.ppm = c
                solver.Add(c <= hi * y)
                if lo > 0.0:
                    solver.Add(c >= lo * y)
                add_dr_lines(solver, e, env, table.pieces[p], (lo, hi), y, c, trim_kw)
                gal_top.append(gph_top[k] * c)
                gal_bottom.append(gph_low[k] * c)
            else:
                kwh.append(env.kw_no_dra * y + trim_kw)
        return (
            counts,
            sum(flow),
            sum(kwh),
            sum(gal_top),
            sum(gal_bottom),
        )

    due = due_bbl(inputs)
    # What enters each batch state at the current block's start: weights and volumes.
    inflow: dict[int, list[Expr]] = {0: [1.0]}
    inflow_volume: dict[int, list[Expr]] = {0: [0.0]}
    kwh_cost: list[Expr] = []
    block_kw: list[Expr] = []
    gal: list[Expr] = []
    gal_low: list[Expr] = []
    # Per block: node b -> (weights entering at the block start, segment counts,
    # passages [(b2, counts)]): what the plan is read back from.
    plan_parts: list[
        dict[int, tuple[list[Expr], list[_Count], list[tuple[int, list[_Count]]]]]
    ] = []
    # Every segment and passage in an order that each path follows (pump starts).
    chain: list[tuple[int, int, list[_Count]]] = []
    for h0, h1 in blocks:
        if not inflow:
            break  # no batch state reachable: the model is infeasible
        length = h1 - h0
        if due[h0] > 0.0:
            for b, arriving in inflow.items():
                solver.Add(sum(inflow_volume[b]) >= due[h0] * KBBL * sum(arriving))
        at_start = inflow
        node_in: dict[int, list[Expr]] = {b: list(w) for b, w in inflow.items()}
        node_volume: dict[int, list[Expr]] = {b: list(v) for b, v in inflow_volume.items()}
        node_time: dict[int, list[Expr]] = {}
        next_inflow: dict[int, list[Expr]] = {}
        next_volume: dict[int, list[Expr]] = {}
        parts: dict[int, tuple[list[Expr], list[_Count], list[tuple[int, list[_Count]]]]] = {}
        block_kwh: list[Expr] = []
        block_gal: list[Expr] = []
        block_gal_low: list[Expr] = []
        hours_used: list[Expr] = []
        b = min(node_in)
        while b < n_batches:
            if b not in node_in:
                b += 1
                continue
            weight: Expr = sum(node_in[b])
            entering: Expr = sum(node_volume[b])
            label = f"{h0}_{b}"
            counts, flow, kwh, g_top, g_low = counts_for(label, [b], length, 0)
            chain.append((inputs.day_of_hour[h0], length, counts))
            block_kwh.append(kwh)
            block_gal.append(g_top)
            block_gal_low.append(g_low)
            segment_hours: Expr = sum(c.count for c in counts)
            hours_used.append(segment_hours)
            solver.Add(segment_hours <= length * weight)
            # Hours into the block when the node is left, carried per path like the
            # volume: every path spends exactly the block's hours.
            leaving_time: Expr = sum(node_time.get(b, [])) + segment_hours
            out_time: list[Expr] = []
            lo_b = start_of(b) * KBBL
            hi_b = end_of(b) * KBBL
            solver.Add(entering >= lo_b * weight)
            solver.Add(entering <= hi_b * weight)
            leaving: Expr = entering + flow
            solver.Add(leaving >= lo_b * weight)
            solver.Add(leaving <= hi_b * weight)
            out_weight: list[Expr] = []
            out_volume: list[Expr] = []
            passages: list[tuple[int, list[_Count]]] = []
            if state_possible(h1, b):
                stay = solver.NumVar(0.0, 1.0, f"w{label}")
                u = solver.NumVar(0.0, hi_b, f"u{label}")
                solver.Add(u >= max(start_of(b), bounds.low_bbl[h1]) * KBBL * stay)
                solver.Add(u <= min(end_of(b), bounds.high_bbl[h1]) * KBBL * stay)
                out_weight.append(stay)
                out_volume.append(u)
                out_time.append(length * stay)
                next_inflow.setdefault(b, []).append(stay)
                next_volume.setdefault(b, []).append(u)
            for b2 in line.passed_from(b):
                if start_of(b2) > bounds.high_bbl[h1]:
                    break
                counts2, flow2, kwh2, g_top2, g_low2 = counts_for(
                    f"{h0}_{b}_{b2}", list(range(b, b2 + 1)), 1, 1
                )
                if not counts2:
                    continue
                chain.append((inputs.day_of_hour[h0], 1, counts2))
                taken: Expr = sum(c.count for c in counts2)
                block_kwh.append(kwh2)
                block_gal.append(g_top2)
                block_gal_low.append(g_low2)
                hours_used.append(taken)
                u = solver.NumVar(0.0, hi_b, f"u{h0}_{b}_{b2}")
                solver.Add(u >= lo_b * taken)
                solver.Add(u <= hi_b * taken)
                solver.Add(u + flow2 >= start_of(b2) * KBBL * taken)
                solver.Add(u + flow2 <= end_of(b2) * KBBL * taken)
                out_weight.append(taken)
                out_volume.append(u)
                tau = solver.NumVar(0.0, length - 1.0, f"T{h0}_{b}_{b2}")
                solver.Add(tau <= (length - 1.0) * taken)
                out_time.append(tau)
                node_time.setdefault(b2, []).append(tau + taken)
                node_in.setdefault(b2, []).append(taken)
                node_volume.setdefault(b2, []).append(u + flow2)
                passages.append((b2, counts2))
            solver.Add(sum(out_weight) == weight)
            solver.Add(sum(out_volume) == leaving)
            solver.Add(sum(out_time) == leaving_time)
            parts[b] = (at_start.get(b, []), counts, passages)
            b += 1
        solver.Add(sum(hours_used) == length)
        inflow, inflow_volume = next_inflow, next_volume
        plan_parts.append(parts)
        block_kw.append(sum(block_kwh) / length)
        kwh_cost.append(inputs.price_usd_per_kwh[h0] * sum(block_kwh))
        gal.append(sum(block_gal))
        gal_low.append(sum(block_gal_low))
    if not inflow:
        return no_plan(PlanStatus.INFEASIBLE, name, 0.0, False)
    final_volume: Expr = sum(sum(v) for v in inflow_volume.values())
    if due[hours] > 0.0:
        for b, arriving in inflow.items():
            solver.Add(sum(inflow_volume[b]) >= due[hours] * KBBL * sum(arriving))
    solver.Add(final_volume <= (inputs.total_bbl + tol_bbl) * KBBL)

    # The tank brackets of the per-hour model, at block ends (no delivery inside).
    add_tank_brackets(solver, inputs, [h1 for _, h1 in blocks], gal, gal_low)

    if count_starts:
        _add_starts(solver, chain, inputs, max(o.pumps for o in options))

    # With a demand charge, one-hour blocks throughout (blocks_of): a block's
    # kW-hours are its kW.
    minimise_cost(solver, inputs, kwh_cost, gal, block_kw)
    answer, elapsed, stats = solve_sized(solver, name, inputs, time_limit_s)
    if answer.status not in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE):
        return no_plan(answer.status, name, elapsed, answer.time_limit_reached, **stats)
    value = answer.values

    def hours_of(counts: list[_Count]) -> list[tuple[int, PlannedHour]]:
        out: list[tuple[int, PlannedHour]] = []
        for c in counts:
            n = round(value(c.count))
            if n <= 0:
                continue
            option = options[c.k]
            trim = max(0.0, value(c.trim)) / KBBL / n if c.trim is not None else 0.0
            ppm = max(0.0, value(c.ppm)) / n if c.ppm is not None else 0.0
            hour = PlannedHour(
                flow_bph=min(option.flow_max_bph, option.flow_bph + trim),
                pumps_running=option.pumps,
                ppm=ppm,
            )
            out.extend((c.k, hour) for _ in range(n))
        return out

    def solved_weight(terms: list[Expr]) -> float:
        return sum(t if isinstance(t, float) else value(t) for t in terms)

    # Each block's path: the node entered at its start, then segment, passage, ...
    pieces: list[list[tuple[int, PlannedHour]]] = []
    for parts in plan_parts:
        node = next((n for n, part in parts.items() if solved_weight(part[0]) > 0.5), None)
        while node is not None:
            _, counts, passages = parts[node]
            pieces.append(hours_of(counts))
            node = None
            for b2, counts2 in passages:
                if solved_weight([c.count for c in counts2]) > 0.5:
                    pieces.append(hours_of(counts2))
                    node = b2
                    break
    decisions = order_hours(pieces, inputs.nominations.initial_pumps_running)
    if len(decisions) != hours:
        return no_plan(PlanStatus.ERROR, name, elapsed, answer.time_limit_reached, **stats)
    return MilpOutcome(
        status=answer.status,
        solver=name,
        decisions=decisions,
        objective_usd=answer.objective,
        best_bound_usd=answer.bound,
        relative_gap=relative_gap(answer.objective, answer.bound),
        solve_time_s=elapsed,
        time_limit_reached=answer.time_limit_reached,
        **stats,
    )
