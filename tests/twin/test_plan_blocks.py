"""The block model (hours of one price counted per option) against the per-hour model.

Independent truth: the dynamic programme of ``test_plan`` (every option of the
discretised model, hour by hour, with pumps running and starts used in the state),
and for the order of a block's hours, every permutation.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.linear_solver import pywraplp

from schemas.plan import PlanStatus
from schemas.site_config import SiteConfig
from tests.twin.test_plan import START, _dp_optimum, _nominations, _small_instance
from twin.plan.block_model import blocks_of, order_hours, solve_blocks
from twin.plan.checker import PlannedHour
from twin.plan.inputs import (
    DraDelivery,
    Nominations,
    PlanSettings,
    load_nominations,
    resolve_inputs,
)
from twin.plan.model import mathopt_model, solve_milp
from twin.plan.operating_table import build_table
from twin.plan.planner import check_against_table, make_plan


def _with_starts_limit(config: SiteConfig, limit: int) -> SiteConfig:
    skid = config.skid("ATL-01").model_copy(update={"max_pump_starts_per_day": limit})
    return config.model_copy(update={"skids": [skid]})


@pytest.mark.parametrize(
    ("batches", "hours", "starts_limit", "initial_pumps"),
    [
        ([("RBOB", 123_457.0, 3), ("JET", 98_765.0, 6)], 6, 4, 2),
        ([("ULSD", 150_001.0, 4), ("RBOB", 77_777.0, None), ("JET", 60_003.0, 7)], 7, 4, 2),
        # Starts limits that bind (the programme's optimum is 7,512.98 USD with no
        # binding limit; 7,629.39 with 2 starts from none running; 7,538.83 with 1
        # from two running and with 2 from one): the order of a block's hours matters.
        ([("ULSD", 150_001.0, 4), ("RBOB", 77_777.0, None), ("JET", 60_003.0, 7)], 7, 2, 0),
        ([("ULSD", 150_001.0, 4), ("RBOB", 77_777.0, None), ("JET", 60_003.0, 7)], 7, 1, 2),
        ([("ULSD", 150_001.0, 4), ("RBOB", 77_777.0, None), ("JET", 60_003.0, 7)], 7, 2, 1),
    ],
)
def test_block_optimum_equals_dynamic_programme_and_per_hour_milp(
    site_config: SiteConfig, batches, hours, starts_limit, initial_pumps
) -> None:
    config = _with_starts_limit(site_config, starts_limit)
    nominations = _nominations(batches).model_copy(update={"initial_pumps_running": initial_pumps})
    table, inputs = _small_instance(config, nominations, hours)
    # Noon to 19:00 EDT: a 2-hour shoulder block, then on-peak hours counted together.
    assert any(h1 - h0 > 1 for h0, h1 in blocks_of(inputs))
    expected = _dp_optimum(config, nominations, hours, table)
    assert expected is not None
    blocks = solve_blocks(inputs, table)
    per_hour = solve_milp(inputs, table)
    assert blocks.status == per_hour.status == PlanStatus.OPTIMAL
    assert blocks.objective_usd == pytest.approx(expected, rel=1e-5)
    assert per_hour.objective_usd == pytest.approx(expected, rel=1e-5)
    assert blocks.decisions is not None and len(blocks.decisions) == hours
    report = check_against_table(inputs, table, blocks.decisions)
    assert report.passed, report.violations


_PRICES = st.sampled_from([0.052, 0.084, 0.186])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    products=st.lists(st.sampled_from(["ULSD", "RBOB", "JET"]), min_size=2, max_size=3),
    volumes=st.lists(st.floats(30_000.0, 150_000.0), min_size=3, max_size=3),
    prices=st.lists(_PRICES, min_size=8, max_size=8),
    starts_limit=st.integers(1, 4),
    initial_pumps=st.integers(0, 4),
    demand_usd_per_kw=st.sampled_from([0.0, 2.0]),
    delivery_hour=st.sampled_from([None, 3, 8]),
)
def test_block_and_per_hour_models_agree_and_the_block_plan_passes_the_checker(
    site_config: SiteConfig,
    products,
    volumes,
    prices,
    starts_limit,
    initial_pumps,
    demand_usd_per_kw,
    delivery_hour,
) -> None:
    hours = 8
    config = _with_starts_limit(site_config, starts_limit)
    tariff_config = config.tariff.model_copy(update={"demand_charge_usd_per_kw": demand_usd_per_kw})
    config = config.model_copy(update={"tariff": tariff_config})
    batches = [(p, v, None) for p, v in zip(products, volumes, strict=False)]
    batches[-1] = (batches[-1][0], batches[-1][1], hours)
    # A delivery that overfills the 8,000 gal tank unless 500 gal are used before it.
    deliveries = (
        []
        if delivery_hour is None
        else [DraDelivery(at=START + timedelta(hours=delivery_hour), volume_gal=2500.0)]
    )
    nominations = _nominations(batches).model_copy(
        update={"initial_pumps_running": initial_pumps, "dra_deliveries": deliveries}
    )
    # Runs of equal prices make multi-hour blocks.
    tariff = tuple(sorted(prices[:4]) + sorted(prices[4:], reverse=True))
    inputs = resolve_inputs(
        config,
        nominations,
        PlanSettings(
            start=START,
            hours=hours,
            relative_gap=0.0,
            time_limit_s=60.0,
            tariff_usd_per_kwh=tariff,
        ),
    )
    table = build_table(config, "ATL-01", set(products), 60.0, 4, 3, START)
    # The block model on HiGHS (what the planner runs), the per-hour model on SCIP:
    # two solvers, two formulations, one optimum.
    blocks = solve_blocks(inputs, table, solver_name="HIGHS")
    per_hour = solve_milp(inputs, table, solver_name="SCIP")
    assert (blocks.status == PlanStatus.OPTIMAL) == (per_hour.status == PlanStatus.OPTIMAL)
    if per_hour.status != PlanStatus.OPTIMAL:
        assert per_hour.status == blocks.status == PlanStatus.INFEASIBLE
        return
    assert blocks.objective_usd == pytest.approx(per_hour.objective_usd, rel=1e-5, abs=1e-3)
    assert blocks.decisions is not None
    report = check_against_table(inputs, table, blocks.decisions)
    assert report.passed, report.violations
    # The checker's pump starts (recomputed from the hours) keep the day's limit.
    assert sum(h.pump_starts for h in report.hours) <= starts_limit


def _starts(hours: list[PlannedHour], before: int) -> int:
    count = 0
    for h in hours:
        count += max(0, h.pumps_running - before)
        before = h.pumps_running
    return count


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=4), min_size=1, max_size=3),
    before=st.integers(0, 4),
)
def test_ordering_a_blocks_hours_gives_the_fewest_starts_of_any_order(
    pieces: list[list[int]], before: int
) -> None:
    planned = [
        [
            (k, PlannedHour(flow_bph=1000.0 * (i + 1), pumps_running=n, ppm=0.0))
            for k, n in enumerate(p)
        ]
        for i, p in enumerate(pieces)
    ]
    ordered = order_hours(planned, before)
    assert sorted(map(id, ordered)) == sorted(id(h) for p in planned for _, h in p)
    # Pieces keep their order (each piece's flows are its own).
    flows = [h.flow_bph for h in ordered]
    assert flows == sorted(flows)
    best = min(
        _starts([h for perm in perms for h in perm], before)
        for perms in itertools.product(
            *(list(itertools.permutations([h for _, h in p])) for p in planned)
        )
    )
    assert _starts(ordered, before) == best


_REFERENCE_WEEK = Path(__file__).resolve().parents[2] / "config" / "nominations-reference-week.yaml"


def test_reference_week_blocks_cut_at_prices_days_deadlines_and_deliveries(
    site_config: SiteConfig,
) -> None:
    nominations: Nominations = load_nominations(_REFERENCE_WEEK)
    start = datetime(2026, 7, 6, 4, 0, tzinfo=UTC)  # 00:00 America/New_York
    inputs = resolve_inputs(site_config, nominations, PlanSettings(start=start))
    blocks = blocks_of(inputs)
    assert blocks[0][0] == 0 and blocks[-1][1] == 168
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    edges = {h0 for h0, _ in blocks}
    for h0, h1 in blocks:
        assert len({inputs.price_usd_per_kwh[h] for h in range(h0, h1)}) == 1
        assert len({inputs.day_of_hour[h] for h in range(h0, h1)}) == 1
    assert {d for d in inputs.deadline_hour if d is not None and d < 168} <= edges
    assert {h for h in range(168) if inputs.delivery_gal_at_hour[h] > 0} <= edges
    # Each day's last hour (23:00 local) stands alone.
    assert all((h, h + 1) in blocks for h in range(23, 167, 24))
    assert len(blocks) < 168 // 4


def test_discrete_flow_plans_may_overrun_by_one_flow_step_and_no_more(
    site_config: SiteConfig,
) -> None:
    nominations = _nominations([("RBOB", 100_000.0, 2)])
    inputs = resolve_inputs(site_config, nominations, PlanSettings(start=START, hours=2))
    discrete = build_table(
        site_config, "ATL-01", {"RBOB"}, 60.0, 4, 3, START, continuous_flow=False
    )
    continuous = build_table(site_config, "ATL-01", {"RBOB"}, 60.0, 4, 3, START)
    step = discrete.flow_step_bph
    assert step > 0.0
    flow = (100_000.0 + 0.5 * step) / 2.0
    plan = [PlannedHour(flow_bph=flow, pumps_running=3, ppm=5.0)] * 2
    over = "nominated"
    assert not any(over in v for v in check_against_table(inputs, discrete, plan).violations)
    assert any(over in v for v in check_against_table(inputs, continuous, plan).violations)


def test_a_request_whose_volume_needs_more_than_six_digits_is_planned(
    site_config: SiteConfig,
) -> None:
    # Feasible (three hours at 2 pumps and 3.4 ppm move the 136,878.5 bbl). When the
    # model reached HiGHS as MPS text (OR-Tools' writer prints 6 significant digits)
    # the volume to move became 136,879 bbl and HiGHS rightly said infeasible:
    # the model now goes over as a proto, exact (`model.mathopt_model`).
    config = _with_starts_limit(site_config, 1)
    nominations = _nominations([("ULSD", 30_000.0, None), ("ULSD", 106_878.5, 8)]).model_copy(
        update={"initial_pumps_running": 1}
    )
    settings = PlanSettings(
        start=START, hours=8, time_limit_s=20.0, tariff_usd_per_kwh=(0.052,) * 8
    )
    result = make_plan(config, nominations, settings)
    assert result.summary.status == PlanStatus.OPTIMAL, result.summary.message
    assert result.summary.checker_passed
    assert sum(r.line_flow_bph for r in result.rows) == pytest.approx(136_878.5, abs=1.0)


def test_the_model_reaches_highs_exactly() -> None:
    # What MPS text lost (6 significant digits): bounds, coefficients, the right-hand
    # side, the objective and integrality all arrive bit for bit.
    solver = pywraplp.Solver.CreateSolver("CBC")
    x = solver.NumVar(0.123456789, 136.8785, "x")
    y = solver.IntVar(-1.0, 7.0, "y")
    solver.Add(1.000000123 * x + 2.5 * y <= 17.123456789)
    solver.Add(x + x - y >= 0.1)  # a column twice in a row: summed
    solver.Minimize(3.14159265358979 * x - y + 0.5)
    model = mathopt_model(solver)
    mx, my = model.get_variable(0), model.get_variable(1)
    assert (mx.lower_bound, mx.upper_bound, mx.integer) == (0.123456789, 136.8785, False)
    assert (my.lower_bound, my.upper_bound, my.integer) == (-1.0, 7.0, True)
    first, second = model.linear_constraints()
    assert first.upper_bound == 17.123456789
    assert first.get_coefficient(mx) == 1.000000123
    assert second.get_coefficient(mx) == 2.0 and second.get_coefficient(my) == -1.0
    assert model.objective.get_linear_coefficient(mx) == 3.14159265358979
    assert model.objective.offset == 0.5
