"""Forward plan on the reference week: HiGHS vs CBC on the same MILP, same run.

Prints each solver's status, objective, proven gap and solve time, and the plan's
saving against the operator rule and the no-DRA baseline (from the HiGHS plan).
The time ratio is CBC's seconds over HiGHS' (> 1: HiGHS faster); both are capped at
the same time limit.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks._harness import Comparison, compare
from schemas.site_config import load_site_config
from twin.plan.inputs import PlanSettings, load_nominations
from twin.plan.planner import make_plan

_REPO = Path(__file__).resolve().parents[1]
_TIME_LIMIT_S = 60.0


def main() -> list[Comparison]:
    config = load_site_config(_REPO / "config" / "atlanta-pilot.yaml")
    nominations = load_nominations(_REPO / "config" / "nominations-reference-week.yaml")
    start = datetime(2026, 7, 6, tzinfo=ZoneInfo("America/New_York"))
    results = {}

    def solve(name: str) -> None:
        results[name] = make_plan(
            config,
            nominations,
            PlanSettings(start=start, time_limit_s=_TIME_LIMIT_S, solver=name),
        )

    comparison = compare(
        "reference week, HiGHS vs CBC (same MILP)",
        lambda: solve("HIGHS"),
        lambda: solve("CBC"),
        work_units=1.0,
        unit="plans",
        goal_ratio=1.0,
        repeats=1,
    )
    for name, result in results.items():
        s = result.summary
        print(
            f"{name}: {s.status.value}, objective {s.objective_usd}, bound {s.best_bound_usd}, "
            f"gap {s.relative_gap}, solve {s.solve_time_s:.1f} s, checker {s.checker_passed}"
        )
    s = results["HIGHS"].summary
    print(
        f"saving vs operator rule: {s.saving_vs_operator_usd} USD ({s.saving_vs_operator_pct} %); "
        f"vs no DRA: {s.saving_vs_no_dra_usd} USD ({s.saving_vs_no_dra_pct} %)"
    )
    return [comparison]
