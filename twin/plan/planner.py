"""The forward plan end to end: check the request, solve, check the plan, cost baselines.

:func:`make_plan` never raises on a request that cannot be met: it answers a
:class:`~schemas.plan.PlanSummary` with status INFEASIBLE and a message naming the
constraint (a batch that cannot be pumped by its deadline under MAOP, say), and no
rows. Every plan it returns has been recomputed by the independent checker; the
costs, savings and per-hour figures reported are the checker's.

Solving: the full MILP, as the block model of :mod:`twin.plan.block_model` (the
per-hour model with interchangeable hours counted; same optimum, proved in its
docstring and tested), gets most of the time limit. Should it end without a feasible
point, the rest goes to the per-hour MILP with the cumulative volume held within
windows around the LP relaxation's trajectory, and the gap is then measured against
the LP relaxation of the full model, a valid lower bound: the reported gap is never
the restricted model's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from schemas.plan import BindingConstraint, PlanRow, PlanStatus, PlanSummary
from schemas.site_config import SiteConfig
from twin import dra
from twin.plan.baselines import operator_rule_plan
from twin.plan.batches import batches_in_interval
from twin.plan.block_model import solve_blocks
from twin.plan.checker import CheckReport, PlannedHour, check_plan
from twin.plan.inputs import Nominations, PlanInputs, PlanSettings, resolve_inputs
from twin.plan.model import MilpOutcome, VolumeBounds, relative_gap, solve_milp
from twin.plan.operating_table import OperatingTable, build_table

__all__ = ["PlanResult", "check_against_table", "make_plan", "plan_table"]

_WINDOW_BBL = 30_000.0
"""Half-width of the first volume window around the LP trajectory in the fallback;
it doubles, up to :data:`_MAX_WINDOW_BBL`, while time is left and the gap is open."""
_MAX_WINDOW_BBL = 120_000.0


@dataclass(frozen=True)
class PlanResult:
    """Rows (empty when there is no plan), the summary and the checker's report."""

    rows: list[PlanRow]
    summary: PlanSummary
    check: CheckReport | None
    inputs: PlanInputs


def plan_table(
    config: SiteConfig, nominations: Nominations, settings: PlanSettings
) -> OperatingTable:
    """The operating table a plan of ``settings`` is built on (options, envelopes, DR
    pieces), for the products of ``nominations``."""
    return build_table(
        config,
        nominations.skid_id,
        {b.product_code for b in nominations.batches},
        nominations.temperature_degf,
        settings.flow_levels,
        settings.ppm_pieces,
        settings.start,
        continuous_flow=settings.continuous_flow,
    )


def check_against_table(
    inputs: PlanInputs, table: OperatingTable, plan: list[PlannedHour]
) -> CheckReport:
    """The independent check of a plan made on ``table``: with discrete flows the last
    batch may overrun the nominations by one flow step (a plan cannot stop part-way
    through an hour's flow level), with continuous flows by nothing. The one
    definition of that tolerance, for the planner and the pipeline's check step."""
    return check_plan(inputs, plan, volume_tolerance_bbl=table.flow_step_bph)


def _precheck(inputs: PlanInputs, table: OperatingTable) -> str | None:
    """Why the request cannot be met, or None: pump every hour at the highest flow the
    products passing allow under MAOP (with their maximum DRA) and compare with each
    deadline."""
    skid = inputs.config.skid(inputs.skid_id)
    limit = skid.segment.maop_psig - skid.segment.maop_margin_psig
    for b, d in enumerate(inputs.deadline_hour):
        if d is not None and d <= 0:
            batch = inputs.batches[b]
            return (
                f"infeasible: batch {batch.batch_id} is due {batch.deadline}, "
                "before the first hour ends"
            )
    volume = 0.0
    fastest: list[float] = [0.0]
    for _ in range(inputs.hours):
        flow = table.max_flow_bph
        for _ in range(3):
            present = batches_in_interval(inputs.batch_end_bbl, volume, volume + flow)
            flow = min(table.max_feasible_flow_bph(inputs.batches[b].product_code) for b in present)
        volume += flow
        fastest.append(volume)
    for b, d in enumerate(inputs.deadline_hour):
        if d is None:
            continue
        need = inputs.batch_end_bbl[b]
        if fastest[d] < need - 1e-6:
            batch = inputs.batches[b]
            return (
                f"infeasible: batch {batch.batch_id} ({batch.product_code}) is due "
                f"{batch.deadline}, which needs {need:,.0f} bbl pumped in {d} h; at most "
                f"{fastest[d]:,.0f} bbl can pass in that time under MAOP less margin "
                f"({limit:.0f} psig) with the products' DRA limits"
            )
    return None


def _solve(
    inputs: PlanInputs, table: OperatingTable, *, allow_dra: bool = True, limit: float
) -> MilpOutcome:
    """Solve (see the module docstring for the fallback)."""
    t0 = time.perf_counter()

    def left() -> float:
        return limit - (time.perf_counter() - t0)

    share = inputs.settings.full_model_time_share
    full = None
    if share > 0.0:
        full = solve_blocks(inputs, table, time_limit_s=limit * share, allow_dra=allow_dra)
        if full.decisions is not None or full.status == PlanStatus.INFEASIBLE or left() < 1.0:
            return full
    lp = solve_milp(inputs, table, relax=True, allow_dra=allow_dra, time_limit_s=left())
    if lp.volume_bbl is None or lp.objective_usd is None:
        return lp if lp.status == PlanStatus.INFEASIBLE or full is None else full
    best: MilpOutcome | None = None
    width = _WINDOW_BBL
    while left() > 0.5 and width <= _MAX_WINDOW_BBL:
        window = VolumeBounds(
            tuple(max(0.0, v - width) for v in lp.volume_bbl),
            tuple(v + width for v in lp.volume_bbl),
        )
        restricted = solve_milp(
            inputs, table, window=window, time_limit_s=left(), allow_dra=allow_dra
        )
        width *= 2.0
        if restricted.objective_usd is not None and (
            best is None
            or best.objective_usd is None
            or restricted.objective_usd < best.objective_usd
        ):
            best = restricted
    # The LP relaxation of the full model bounds whatever the windows found.
    elapsed = time.perf_counter() - t0
    reached = elapsed >= limit * 0.98
    bound = lp.objective_usd
    if best is None or best.decisions is None or best.objective_usd is None:
        return replace(
            lp,
            status=PlanStatus.NO_SOLUTION,
            objective_usd=None,
            best_bound_usd=bound,
            relative_gap=None,
            solve_time_s=elapsed,
            time_limit_reached=reached,
            volume_bbl=None,
        )
    gap = relative_gap(best.objective_usd, bound)
    return replace(
        best,
        status=PlanStatus.OPTIMAL if gap <= inputs.settings.relative_gap else PlanStatus.FEASIBLE,
        best_bound_usd=bound,
        relative_gap=gap,
        solve_time_s=elapsed,
        time_limit_reached=reached,
    )


def _operator_fallback(outcome: MilpOutcome, operator: CheckReport) -> MilpOutcome:
    """``outcome`` (no plan found) with the checked operator-rule plan standing in:
    status FALLBACK, the checker's cost of that plan as the objective, and its gap
    against the solver's bound when there is one. The operator must always have an
    executable plan, and today's rule is one once the checker has passed it."""
    bound = outcome.best_bound_usd
    cost = operator.total_cost_usd
    return replace(
        outcome,
        status=PlanStatus.FALLBACK,
        objective_usd=cost,
        relative_gap=None if bound is None else relative_gap(cost, bound),
    )


def _diagnose(inputs: PlanInputs, table: OperatingTable) -> str:
    """Which constraint makes a request infeasible once each deadline alone is known to
    be reachable: re-solve with the pump starts limit lifted, then with the DRA tank
    lifted, and name the first whose removal makes a plan exist."""
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    quick = replace(inputs.settings, time_limit_s=min(10.0, inputs.settings.time_limit_s))
    many_starts = skid.model_copy(update={"max_pump_starts_per_day": 24 * len(skid.pumps)})
    big_tank = skid.model_copy(update={"tank_capacity_gal": 1e9})
    trials = [
        (
            f"the pump starts limit ({skid.max_pump_starts_per_day} per day)",
            config.model_copy(update={"skids": [many_starts]}),
            inputs.nominations,
        ),
        (
            "the DRA in the tank (initial level and deliveries) or its capacity at a delivery",
            config.model_copy(update={"skids": [big_tank]}),
            inputs.nominations.model_copy(update={"initial_tank_gal": 1e8}),
        ),
    ]
    for what, trial_config, trial_nominations in trials:
        trial = resolve_inputs(trial_config, trial_nominations, quick)
        if solve_blocks(trial, table).decisions is not None:
            return f"infeasible: the deadlines cannot be met within {what}"
    return (
        "infeasible: the deadlines cannot all be met together under MAOP with the pump "
        "envelopes and the plan's flow levels, although each alone can"
    )


def _binding(inputs: PlanInputs, report: CheckReport) -> list[list[str]]:
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    limit = skid.segment.maop_psig - skid.segment.maop_margin_psig
    out: list[list[str]] = []
    day_starts: dict[int, int] = {}
    for hour in report.hours:
        day = inputs.day_of_hour[hour.hour_index]
        day_starts[day] = day_starts.get(day, 0) + hour.pump_starts
    for hour in report.hours:
        tags: list[str] = []
        if hour.flow_bph > 0 and hour.discharge_psig >= limit - 1.0:
            tags.append("MAOP less margin")
        forbidden = [p for p in hour.products_present if config.product(p).max_dra_ppm == 0]
        if forbidden:
            tags.append(f"no DRA in {', '.join(forbidden)}")
        limits = [config.product(p).max_dra_ppm for p in hour.products_present]
        if hour.ppm > 0 and hour.ppm >= min(limits) - 1e-3:
            tags.append("ppm at product limit")
        if hour.flow_bph > 0 and float(dra.dra_gph_for_ppm(hour.ppm, hour.flow_bph)) >= (
            skid.max_injection_gph - 0.01
        ):
            tags.append("injection pump at maximum rate")
        if hour.tank_gal_end <= 1.0:
            tags.append("DRA tank empty")
        for b, d in enumerate(inputs.deadline_hour):
            if d == hour.hour_index + 1 and hour.volume_end_bbl <= inputs.batch_end_bbl[b] + 100:
                tags.append(f"deadline of batch {inputs.batches[b].batch_id}")
        day = inputs.day_of_hour[hour.hour_index]
        if hour.pump_starts > 0 and day_starts[day] >= skid.max_pump_starts_per_day:
            tags.append("pump starts per day")
        if len(hour.products_present) > 1:
            tags.append("batch interface " + " -> ".join(hour.products_present))
        out.append(tags)
    return out


def _no_plan(
    inputs: PlanInputs, base: dict[str, object], outcome: MilpOutcome, message: str
) -> PlanResult:
    summary = PlanSummary(
        status=outcome.status,
        message=message,
        best_bound_usd=outcome.best_bound_usd,
        solve_time_s=outcome.solve_time_s,
        time_limit_reached=outcome.time_limit_reached,
        **base,
    )
    return PlanResult([], summary, None, inputs)


def _pct(saving: float, base: float | None) -> float | None:
    return None if not base else 100.0 * saving / base


def make_plan(
    config: SiteConfig,
    nominations: Nominations,
    settings: PlanSettings,
    *,
    now: datetime | None = None,
) -> PlanResult:
    """Plan the horizon of ``settings`` for the skid of ``nominations``.

    ``now`` marks the current hour in the rows (rolling re-plan); default: the first.

    Raises:
        KeyError: unknown skid or product (a user error in the inputs).
        ValueError: bad settings (horizon, tariff override, discretisation).
    """
    created = datetime.now(UTC)
    inputs = resolve_inputs(config, nominations, settings)
    plan_id = (
        settings.plan_id or f"{nominations.skid_id}-{created:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    )
    table = plan_table(config, nominations, settings)
    base = {
        "plan_id": plan_id,
        "skid_id": nominations.skid_id,
        "created_ts": created,
        "horizon_start": settings.start,
        "horizon_hours": settings.hours,
        "solver": settings.solver,
        "gap_target": settings.relative_gap,
        "time_limit_s": settings.time_limit_s,
    }
    reason = _precheck(inputs, table)
    if reason is not None:
        summary = PlanSummary(
            status=PlanStatus.INFEASIBLE, message=reason, solve_time_s=0.0, **base
        )
        return PlanResult([], summary, None, inputs)
    outcome = _solve(inputs, table, limit=settings.time_limit_s)
    operator = operator_rule_plan(inputs)
    operator_report = check_plan(inputs, operator) if operator is not None else None
    if outcome.decisions is not None:
        report = check_against_table(inputs, table, outcome.decisions)
        message = (
            "plan passes the independent check"
            if report.passed
            else "plan FAILS the independent check: " + "; ".join(report.violations[:5])
        )
    elif outcome.status == PlanStatus.INFEASIBLE:
        return _no_plan(inputs, base, outcome, _diagnose(inputs, table))
    else:
        why = (
            f"no feasible plan found within the {settings.time_limit_s:g} s time limit"
            if outcome.status == PlanStatus.NO_SOLUTION
            else f"solver ended with {outcome.status.value}"
        )
        if operator_report is None or not operator_report.passed:
            return _no_plan(
                inputs, base, outcome, why + "; the operator rule does not pass the check either"
            )
        report = operator_report
        outcome = _operator_fallback(outcome, report)
        message = why + ": the operator-rule plan is returned (it passes the independent check)"
    operator_cost = operator_report.total_cost_usd if operator_report is not None else None
    no_dra = _solve(inputs, table, allow_dra=False, limit=settings.time_limit_s / 2.0)
    no_dra_cost = (
        check_against_table(inputs, table, no_dra.decisions).total_cost_usd
        if no_dra.decisions is not None
        else None
    )
    binding = _binding(inputs, report)
    current = 0
    if now is not None:
        elapsed_h = int((now - settings.start).total_seconds() // 3600)
        current = min(max(elapsed_h, 0), inputs.hours - 1)
    skid = config.skid(nominations.skid_id)
    rows = [
        PlanRow(
            plan_id=plan_id,
            skid_id=nominations.skid_id,
            hour_start=inputs.hour_starts[h.hour_index],
            hour_index=h.hour_index,
            product_code=h.product_code,
            batch_id=h.batch_id,
            line_flow_bph=h.flow_bph,
            pumps_running=h.pumps_running,
            dra_ppm=h.ppm,
            dra_gal=h.dra_gal,
            dr_pct=min(100.0, max(0.0, h.dr_pct)),
            discharge_psig=h.discharge_psig,
            maop_psig=skid.segment.maop_psig,
            electric_kw=h.electric_kw,
            electric_kwh=h.electric_kw,
            energy_cost_usd=h.energy_cost_usd,
            dra_cost_usd=h.dra_cost_usd,
            tariff_usd_per_kwh=h.tariff_usd_per_kwh,
            dra_tank_gal_end=h.tank_gal_end,
            is_current_hour=h.hour_index == current,
            binding_constraints=binding[h.hour_index],
        )
        for h in report.hours
    ]
    total = report.total_cost_usd
    first = report.hours[current]
    gap = outcome.relative_gap
    summary = PlanSummary(
        status=outcome.status,
        message=message,
        objective_usd=outcome.objective_usd,
        best_bound_usd=outcome.best_bound_usd,
        relative_gap=gap,
        gap_target_reached=gap is not None and gap <= settings.relative_gap,
        solve_time_s=outcome.solve_time_s,
        time_limit_reached=outcome.time_limit_reached,
        total_volume_bbl=report.volume_bbl,
        energy_cost_usd=report.energy_cost_usd,
        dra_cost_usd=report.dra_cost_usd,
        demand_charge_usd=report.demand_charge_usd,
        baseline_operator_cost_usd=operator_cost,
        baseline_no_dra_cost_usd=no_dra_cost,
        saving_vs_operator_usd=None if operator_cost is None else operator_cost - total,
        saving_vs_operator_pct=None
        if operator_cost is None
        else _pct(operator_cost - total, operator_cost),
        saving_vs_no_dra_usd=None if no_dra_cost is None else no_dra_cost - total,
        saving_vs_no_dra_pct=None
        if no_dra_cost is None
        else _pct(no_dra_cost - total, no_dra_cost),
        checker_passed=report.passed,
        checker_violations=report.violations,
        binding_constraints=[
            BindingConstraint(hour_start=inputs.hour_starts[h], constraint=tag)
            for h, tags in enumerate(binding)
            for tag in tags
        ],
        current_hour_flow_bph=first.flow_bph,
        current_hour_pumps_running=first.pumps_running,
        current_hour_dra_ppm=first.ppm,
        **{**base, "solver": outcome.solver},
    )
    return PlanResult(rows, summary, report, inputs)
