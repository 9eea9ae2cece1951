"""Forward plan: MILP vs brute force, property tests against the independent checker,
infeasible requests, summary fields.

Independent truth: a dynamic programme over (cumulative volume, pumps running, starts
used) that enumerates every option of the same discretised model hour by hour, with
the cost-minimising ppm of each hour taken at a breakpoint of the piecewise-linear DR
or an end of the option's feasible ppm interval (a convex piecewise-linear cost over an
interval is minimised at one of those points).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.plan import PlanStatus
from schemas.site_config import SiteConfig
from twin import dra
from twin.plan.baselines import operator_rule_plan
from twin.plan.batches import batch_at, batches_in_interval
from twin.plan.inputs import (
    Batch,
    Nominations,
    PlanInputs,
    PlanSettings,
    load_nominations,
    resolve_inputs,
)
from twin.plan.model import solve_milp
from twin.plan.operating_table import OperatingTable, build_table
from twin.plan.planner import make_plan

START = datetime(2026, 7, 6, 16, 0, tzinfo=UTC)  # noon EDT: shoulder then on-peak prices


def _nominations(batches: list[tuple[str, float, int | None]], tank: float = 6000.0) -> Nominations:
    return Nominations(
        skid_id="ATL-01",
        initial_tank_gal=tank,
        initial_pumps_running=2,
        batches=[
            Batch(
                batch_id=f"B{i}",
                product_code=code,
                volume_bbl=vol,
                deadline=None if due is None else START + timedelta(hours=due),
            )
            for i, (code, vol, due) in enumerate(batches)
        ],
    )


def _hour_cost(
    config: SiteConfig,
    table: OperatingTable,
    k: int,
    start_product: str,
    present: list[str],
    price: float,
) -> tuple[float, float] | None:
    """Least cost of option k in one hour (and its ppm), or None if infeasible."""
    lo, hi = 0.0, float("inf")
    for p in present:
        e = table.envelopes[p][k]
        if not e.feasible:
            return None
        lo, hi = max(lo, e.ppm_min), min(hi, e.ppm_max)
    if lo > hi:
        return None
    env = table.envelopes[start_product][k]
    pieces = table.pieces[start_product]
    candidates = {lo, hi} | {b for b in pieces.breakpoints_ppm if lo <= b <= hi}
    flow = table.options[k].flow_bph
    best = None
    for c in candidates:
        kw = env.kw_no_dra - env.kw_friction_no_dra * (1.0 - pieces.value(c))
        cost = price * kw + config.dra.price_usd_per_gal * float(dra.dra_gph_for_ppm(c, flow))
        if best is None or cost < best[0]:
            best = (cost, c)
    return best


def _dp_optimum(
    config: SiteConfig, nominations: Nominations, hours: int, table: OperatingTable
) -> float | None:
    inputs = resolve_inputs(config, nominations, PlanSettings(start=START, hours=hours))
    skid = config.skid("ATL-01")
    ends = inputs.batch_end_bbl
    states: dict[tuple[float, int, int], float] = {(0.0, nominations.initial_pumps_running, 0): 0.0}
    for h in range(hours):
        nxt: dict[tuple[float, int, int], float] = {}
        for (volume, pumps, starts), cost in states.items():
            for k, option in enumerate(table.options):
                new_volume = round(volume + option.flow_bph, 6)
                if new_volume > inputs.total_bbl + table.flow_step_bph + 1e-6:
                    continue
                present_b = batches_in_interval(ends, volume, new_volume)
                present = sorted({inputs.batches[b].product_code for b in present_b})
                start_product = inputs.batches[batch_at(ends, volume)].product_code
                best = _hour_cost(
                    config, table, k, start_product, present, inputs.price_usd_per_kwh[h]
                )
                if best is None:
                    continue
                new_starts = starts + max(0, option.pumps - pumps)
                if new_starts > skid.max_pump_starts_per_day:
                    continue
                if any(
                    d == h + 1 and new_volume < ends[b] - 1e-6
                    for b, d in enumerate(inputs.deadline_hour)
                ):
                    continue
                key = (new_volume, option.pumps, new_starts)
                if key not in nxt or cost + best[0] < nxt[key]:
                    nxt[key] = cost + best[0]
        states = nxt
    return min(states.values(), default=None)


def _small_instance(
    config: SiteConfig, nominations: Nominations, hours: int
) -> tuple[OperatingTable, PlanInputs]:
    """A few hours on coarse discrete levels (4 flows, 3 ppm), solved to a zero gap:
    small enough for the dynamic programme."""
    products = {b.product_code for b in nominations.batches}
    table = build_table(config, "ATL-01", products, 60.0, 4, 3, START, continuous_flow=False)
    settings = PlanSettings(start=START, hours=hours, relative_gap=0.0, time_limit_s=60.0)
    return table, resolve_inputs(config, nominations, settings)


@pytest.mark.parametrize(
    ("batches", "hours"),
    [
        ([("RBOB", 123_457.0, 3), ("JET", 98_765.0, 6)], 6),
        ([("ULSD", 150_001.0, 4), ("RBOB", 77_777.0, None), ("JET", 60_003.0, 7)], 7),
    ],
)
def test_milp_cost_equals_dynamic_programme(site_config: SiteConfig, batches, hours) -> None:
    nominations = _nominations(batches)
    table, inputs = _small_instance(site_config, nominations, hours)
    outcome = solve_milp(inputs, table)
    expected = _dp_optimum(site_config, nominations, hours, table)
    assert expected is not None
    assert outcome.status == PlanStatus.OPTIMAL
    # Equal up to the solver's feasibility tolerance (1e-6 on bounds).
    assert outcome.objective_usd == pytest.approx(expected, rel=1e-5)


_PRODUCTS = st.sampled_from(["ULSD", "RBOB", "JET"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    products=st.lists(_PRODUCTS, min_size=2, max_size=4),
    volumes=st.lists(st.floats(20_000.0, 120_000.0), min_size=4, max_size=4),
    prices=st.lists(st.floats(0.03, 0.25), min_size=8, max_size=8),
    continuous=st.booleans(),
)
def test_every_plan_passes_the_checker_and_keeps_dra_out_of_jet(
    site_config: SiteConfig, products, volumes, prices, continuous
) -> None:
    hours = 8
    batches = [(p, v, None) for p, v in zip(products, volumes, strict=False)]
    # Due: everything by the end of the horizon, within what the line can do.
    batches[-1] = (batches[-1][0], batches[-1][1], hours)
    nominations = _nominations(batches)
    result = make_plan(
        site_config,
        nominations,
        PlanSettings(
            start=START,
            hours=hours,
            tariff_usd_per_kwh=tuple(prices),
            time_limit_s=10.0,
            continuous_flow=continuous,
        ),
    )
    if result.summary.status == PlanStatus.INFEASIBLE:
        assert result.summary.message and not result.rows
        return
    # FALLBACK (the operator rule, when a loaded machine lets the 10 s pass with no
    # incumbent) is a plan the product emits too: the same properties must hold.
    assert result.summary.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE, PlanStatus.FALLBACK)
    assert result.summary.checker_passed, result.summary.checker_violations
    ends = result.inputs.batch_end_bbl
    volume = 0.0
    for row in result.rows:
        present = batches_in_interval(ends, volume, volume + row.line_flow_bph)
        if any(
            site_config.product(nominations.batches[b].product_code).max_dra_ppm == 0
            for b in present
        ):
            assert row.dra_ppm == 0.0
        assert nominations.batches[present[0]].product_code == row.product_code
        if site_config.product(row.product_code).max_dra_ppm == 0:
            assert row.dra_ppm == 0.0
        volume += row.line_flow_bph


def test_volume_beyond_maop_is_reported_infeasible_naming_the_batch(
    site_config: SiteConfig,
) -> None:
    # 400,000 bbl of jet fuel in 6 hours needs 66,700 bbl/h; jet takes no DRA and
    # reaches MAOP near 56,000 bbl/h.
    nominations = _nominations([("JET", 400_000.0, 6), ("RBOB", 50_000.0, None)])
    result = make_plan(site_config, nominations, PlanSettings(start=START, hours=8))
    assert result.summary.status == PlanStatus.INFEASIBLE
    assert "B0" in result.summary.message and "MAOP" in result.summary.message
    assert result.rows == []


def test_summary_reports_solver_gap_limits_and_baselines(site_config: SiteConfig) -> None:
    nominations = _nominations([("RBOB", 200_000.0, 5), ("ULSD", 150_000.0, 10)])
    result = make_plan(
        site_config, nominations, PlanSettings(start=START, hours=10, time_limit_s=20.0)
    )
    s = result.summary
    assert s.status == PlanStatus.OPTIMAL
    assert s.solver == "HIGHS" and s.time_limit_s == 20.0 and s.gap_target == 0.001
    assert s.relative_gap is not None and s.relative_gap <= 0.001 and s.gap_target_reached
    assert not s.time_limit_reached
    assert s.checker_passed
    assert s.baseline_operator_cost_usd is not None
    total = (s.energy_cost_usd or 0) + (s.dra_cost_usd or 0)
    assert s.saving_vs_operator_usd == pytest.approx(s.baseline_operator_cost_usd - total)
    assert len(result.rows) == 10 and result.rows[0].is_current_hour
    assert sum(r.line_flow_bph for r in result.rows) == pytest.approx(350_000.0, abs=1.0)


def test_demand_charge_is_billed_on_the_peak_and_lowers_it(site_config: SiteConfig) -> None:
    nominations = _nominations([("ULSD", 180_000.0, 4), ("RBOB", 150_000.0, 8)])
    settings = PlanSettings(start=START, hours=8, time_limit_s=20.0)
    without = make_plan(site_config, nominations, settings)
    tariff = site_config.tariff.model_copy(update={"demand_charge_usd_per_kw": 2.0})
    charged_config = site_config.model_copy(update={"tariff": tariff})
    charged = make_plan(charged_config, nominations, settings)
    assert charged.summary.checker_passed and without.summary.demand_charge_usd == 0.0
    peak_without = max(r.electric_kw for r in without.rows)
    peak_charged = max(r.electric_kw for r in charged.rows)
    assert charged.summary.demand_charge_usd == pytest.approx(2.0 * peak_charged)
    assert peak_charged < peak_without


def test_an_empty_dra_tank_is_named_when_volumes_need_dra(site_config: SiteConfig) -> None:
    # 240,000 bbl of ULSD in 4 h needs 60,000 bbl/h, which takes DRA under MAOP: with
    # an empty tank and no delivery there is no plan, and the tank is the reason.
    nominations = _nominations([("ULSD", 240_000.0, 4), ("RBOB", 50_000.0, None)], tank=0.0)
    result = make_plan(site_config, nominations, PlanSettings(start=START, hours=6))
    assert result.summary.status == PlanStatus.INFEASIBLE
    assert "DRA in the tank" in result.summary.message


def test_a_barrel_short_of_an_interface_is_the_next_batch() -> None:
    ends = [100_000.0, 150_000.0, 400_000.0]
    assert batch_at(ends, 99_999.5) == 1  # round-off: the interface has passed
    assert batch_at(ends, 99_990.0) == 0
    assert batches_in_interval(ends, 99_999.5, 140_000.0) == [1]
    assert batches_in_interval(ends, 90_000.0, 160_000.0) == [0, 1, 2]
    assert batches_in_interval(ends, 120_000.0, 120_000.0) == [1]
    assert batch_at(ends, 500_000.0) == 2  # the last batch keeps flowing


def test_windowed_fallback_plan_is_checked_and_gapped_against_the_lp_bound(
    site_config: SiteConfig,
) -> None:
    # The full MILP gets no time at all, so the plan comes from the fallback: the same
    # MILP within volume windows around the LP trajectory.
    nominations = _nominations(
        [("RBOB", 300_000.0, 8), ("JET", 200_000.0, 14), ("ULSD", 350_000.0, 24)]
    )
    settings = PlanSettings(start=START, hours=24, time_limit_s=30.0, full_model_time_share=0.0)
    result = make_plan(site_config, nominations, settings)
    s = result.summary
    assert s.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE)
    assert s.checker_passed and len(result.rows) == 24
    assert s.time_limit_reached == (s.solve_time_s >= 0.98 * 30.0)
    lp = solve_milp(
        result.inputs,
        build_table(site_config, "ATL-01", {"RBOB", "JET", "ULSD"}, 60.0, 6, 4, START),
        relax=True,
    )
    assert s.best_bound_usd == pytest.approx(lp.objective_usd, rel=1e-6)
    assert s.relative_gap == pytest.approx(
        (s.objective_usd - s.best_bound_usd) / s.objective_usd, abs=1e-9
    )


_REFERENCE_WEEK = Path(__file__).resolve().parents[2] / "config" / "nominations-reference-week.yaml"
_WEEK_START = datetime(2026, 7, 6, 4, 0, tzinfo=UTC)  # 00:00 America/New_York


def test_no_solution_in_time_falls_back_to_the_checked_operator_rule(
    site_config: SiteConfig,
) -> None:
    # 50 ms is far too little for HiGHS to find any plan of the reference week (it
    # does not finish presolve): the operator still gets an executable plan.
    nominations = load_nominations(_REFERENCE_WEEK)
    settings = PlanSettings(start=_WEEK_START, time_limit_s=0.05)
    result = make_plan(site_config, nominations, settings)
    s = result.summary
    assert s.status == PlanStatus.FALLBACK
    assert "0.05 s time limit" in s.message and "operator-rule plan" in s.message
    assert s.checker_passed and len(result.rows) == 168
    operator = operator_rule_plan(result.inputs)
    assert operator is not None
    assert [r.line_flow_bph for r in result.rows] == [h.flow_bph for h in operator]
    assert [r.dra_ppm for r in result.rows] == [h.ppm for h in operator]
    assert all(r.dra_ppm == 0.0 for r in result.rows if r.product_code == "JET")
    assert s.saving_vs_operator_usd == pytest.approx(0.0, abs=1e-6)
    assert s.objective_usd == pytest.approx(s.baseline_operator_cost_usd)


def test_no_solution_and_a_failing_operator_rule_give_no_rows(site_config: SiteConfig) -> None:
    # An empty DRA tank and no delivery: the operator rule's 10 ppm runs it dry, so
    # there is no checked plan to fall back on, and the summary says both.
    week = load_nominations(_REFERENCE_WEEK)
    nominations = week.model_copy(update={"initial_tank_gal": 0.0, "dra_deliveries": []})
    result = make_plan(site_config, nominations, PlanSettings(start=_WEEK_START, time_limit_s=0.05))
    assert result.summary.status == PlanStatus.NO_SOLUTION
    assert "operator rule does not pass the check" in result.summary.message
    assert result.rows == []
