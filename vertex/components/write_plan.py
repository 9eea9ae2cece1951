"""``write_plan``: plan rows and summary into the warehouse."""

from kfp import dsl
from kfp.dsl import Dataset, Input

from vertex.components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, packages_to_install=[], install_kfp_package=False)
def write_plan(plan: Input[Dataset], warehouse_url: str) -> int:
    """Insert ``plan_rows`` and ``plan_summaries`` (the summary even when there is no
    plan, so an infeasible request is on record with its reason).

    Args:
        plan: from ``check_plan``.
        warehouse_url: ``duckdb:///file`` or ``bigquery://PROJECT/DATASET``.

    Returns:
        Rows written to ``plan_rows``.
    """
    import json

    from schemas.plan import PlanRow, PlanSummary
    from warehouse import open_warehouse

    with open(plan.path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = [PlanRow.model_validate(r) for r in doc["rows"]]
    wh = open_warehouse(warehouse_url)
    if rows:
        wh.insert_rows("plan_rows", rows)
    wh.insert_rows("plan_summaries", [PlanSummary.model_validate(doc["summary"])])
    return len(rows)
