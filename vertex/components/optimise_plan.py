"""``optimise_plan``: solve the forward-plan MILP for the request."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from vertex.components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, packages_to_install=[], install_kfp_package=False)
def optimise_plan(
    request: Input[Dataset], time_limit_s: float, gap: float, plan: Output[Dataset]
) -> str:
    """Run :func:`twin.plan.planner.make_plan`; write rows and summary.

    Args:
        request: with nominations (from ``forecast_nominations``).
        time_limit_s: solver time limit.
        gap: relative gap target.
        plan: JSON {request, rows: [PlanRow], summary: PlanSummary}.

    Returns:
        The plan status (OPTIMAL, FEASIBLE, INFEASIBLE, ...).
    """
    import json
    from datetime import datetime

    from schemas.site_config import load_site_config
    from twin.plan.inputs import Nominations, PlanSettings
    from twin.plan.planner import make_plan

    with open(request.path, encoding="utf-8") as f:
        req = json.load(f)
    result = make_plan(
        load_site_config(req["config_path"]),
        Nominations.model_validate(req["nominations"]),
        PlanSettings(
            start=datetime.fromisoformat(req["start"]),
            hours=req["hours"],
            time_limit_s=time_limit_s,
            relative_gap=gap,
        ),
    )
    with open(plan.path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "request": req,
                "rows": [r.model_dump(mode="json") for r in result.rows],
                "summary": result.summary.model_dump(mode="json"),
            },
            f,
        )
    return result.summary.status.value
