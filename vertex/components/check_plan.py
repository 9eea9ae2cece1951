"""``check_plan``: the independent checker, run again on the plan as written."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from vertex.components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, packages_to_install=[], install_kfp_package=False)
def check_plan(plan: Input[Dataset], checked: Output[Dataset]) -> int:
    """Recompute the plan rows with :func:`twin.plan.checker.check_plan` (its own code
    path: it reads only flow, pumps and ppm per hour), with the planner's volume
    tolerance (:func:`twin.plan.planner.check_against_table`), and record the verdict.

    Args:
        plan: from ``optimise_plan``.
        checked: the same plan with ``checker_passed`` and violations set from this check.

    Returns:
        How many hours the checker recomputed (0: an infeasible request has no rows).

    Raises:
        ValueError: the plan has rows and fails the check: it must not be written.
    """
    import json
    from datetime import datetime

    from schemas.site_config import load_site_config
    from twin.plan.checker import PlannedHour
    from twin.plan.inputs import Nominations, PlanSettings, resolve_inputs
    from twin.plan.planner import check_against_table, plan_table

    with open(plan.path, encoding="utf-8") as f:
        doc = json.load(f)
    req = doc["request"]
    if doc["rows"]:
        config = load_site_config(req["config_path"])
        nominations = Nominations.model_validate(req["nominations"])
        # The settings optimise_plan planned with: the same table, so the same
        # volume tolerance as the planner's own check.
        settings = PlanSettings(start=datetime.fromisoformat(req["start"]), hours=req["hours"])
        inputs = resolve_inputs(config, nominations, settings)
        report = check_against_table(
            inputs,
            plan_table(config, nominations, settings),
            [
                PlannedHour(r["line_flow_bph"], r["pumps_running"], r["dra_ppm"])
                for r in doc["rows"]
            ],
        )
        if not report.passed:
            raise ValueError("plan fails the independent check: " + "; ".join(report.violations))
        doc["summary"]["checker_passed"] = True
        doc["summary"]["checker_violations"] = []
    with open(checked.path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return len(doc["rows"])
