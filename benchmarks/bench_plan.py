"""Forward plan: HiGHS vs CBC on the same MILP, and the reference week's figures.

1. The full MILP of the reference week's first 48 hours (every batch due by then),
   solved to the 0.1 % gap target by HiGHS and by CBC in the same run, each capped
   at 60 s: time ratio CBC / HiGHS (> 1: HiGHS faster), status and gap of each.
2. The reference week (168 h) planned as ``dra-twin plan`` does, with HiGHS and with
   CBC, each with a 60 s time limit: status, objective, best bound, gap, solve time;
   and the HiGHS plan's saving against the operator rule and the no-DRA baseline, as
   the independent checker costs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks._harness import Comparison, compare
from schemas.site_config import load_site_config
from twin.plan.inputs import PlanSettings, load_nominations, resolve_inputs
from twin.plan.model import MilpOutcome, solve_milp
from twin.plan.operating_table import build_table
from twin.plan.planner import make_plan

_REPO = Path(__file__).resolve().parents[1]
_CAP_S = 60.0


def _highs_vs_cbc(what: str, run: Callable[[str], None], unit: str) -> Comparison:
    """One timed run of ``run(solver name)`` with HiGHS (subject) and CBC (baseline)."""
    return compare(
        f"{what}: HiGHS vs CBC",
        lambda: run("HIGHS"),
        lambda: run("CBC"),
        work_units=1.0,
        unit=unit,
        goal_ratio=1.0,
        repeats=1,
    )


def main() -> list[Comparison]:
    config = load_site_config(_REPO / "config" / "atlanta-pilot.yaml")
    nominations = load_nominations(_REPO / "config" / "nominations-reference-week.yaml")
    start = datetime(2026, 7, 6, tzinfo=ZoneInfo("America/New_York"))
    settings = PlanSettings(start=start, hours=48, time_limit_s=_CAP_S)
    inputs = resolve_inputs(config, nominations, settings)
    table = build_table(
        config,
        nominations.skid_id,
        {b.product_code for b in nominations.batches},
        nominations.temperature_degf,
        settings.flow_levels,
        settings.ppm_pieces,
        start,
    )
    outcomes: dict[str, MilpOutcome] = {}

    def solve(name: str) -> None:
        outcomes[name] = solve_milp(inputs, table, solver_name=name)

    comparison = _highs_vs_cbc("reference week, first 48 h, full MILP", solve, "solves")
    for name, o in outcomes.items():
        print(
            f"  {name}: {o.status.value}, objective {o.objective_usd}, bound {o.best_bound_usd}, "
            f"gap {o.relative_gap}, {o.solve_time_s:.1f} s (cap {_CAP_S:.0f} s), "
            f"{o.binaries} binaries"
        )
    plans = {}

    def plan_week(name: str) -> None:
        plans[name] = make_plan(
            config, nominations, replace(settings, hours=168, time_limit_s=_CAP_S, solver=name)
        )

    week = _highs_vs_cbc("reference week, 168 h, dra-twin plan", plan_week, "plans")
    for name, result in plans.items():
        s = result.summary
        print(
            f"  {name}: {s.status.value}, objective {s.objective_usd}, best bound "
            f"{s.best_bound_usd}, gap {s.relative_gap}, {s.solve_time_s:.1f} s, "
            f"checker {s.checker_passed}"
        )
    s = plans["HIGHS"].summary
    print(
        f"  HiGHS plan cost {(s.energy_cost_usd or 0) + (s.dra_cost_usd or 0):,.0f} USD; "
        f"operator rule {s.baseline_operator_cost_usd:,.0f} USD: saving "
        f"{s.saving_vs_operator_usd:,.0f} USD ({s.saving_vs_operator_pct:.1f} %); no DRA: "
        + (
            f"{s.baseline_no_dra_cost_usd:,.0f} USD, saving {s.saving_vs_no_dra_pct:.1f} %"
            if s.baseline_no_dra_cost_usd is not None
            else "no plan meets these nominations without DRA"
        )
    )
    return [comparison, week]
