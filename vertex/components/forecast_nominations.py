"""``forecast_nominations``: nominations for the horizon when none were given.

Method (persistence, "same as last week"): read the last ``hours`` of hourly volume
and product from the warehouse (``energy_rows``), cut it into batches wherever the
product changes, and nominate the same batches again, each due at the same offset
into the coming horizon as it passed last week. The tank level and pumps running
start from the warehouse's latest state (``latest_spine_state``). A request that
already holds nominations passes through unchanged.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from vertex.components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, packages_to_install=[], install_kfp_package=False)
def forecast_nominations(
    request: Input[Dataset], warehouse_url: str, forecast: Output[Dataset]
) -> None:
    """Fill the request's nominations by persistence if they are missing.

    Args:
        request: from ``load_inputs``.
        warehouse_url: ``duckdb:///file`` or ``bigquery://PROJECT/DATASET``.
        forecast: the request with nominations.
    """
    import json
    from datetime import datetime, timedelta

    from twin.plan.inputs import Nominations
    from warehouse import open_warehouse

    with open(request.path, encoding="utf-8") as f:
        req = json.load(f)
    if req["nominations"] is None:
        start = datetime.fromisoformat(req["start"])
        since = start - timedelta(hours=req["hours"])
        wh = open_warehouse(warehouse_url)
        hourly = wh.query(
            "SELECT TIMESTAMP_TRUNC(grid_ts, HOUR) AS hour_start, MAX(product_code) AS product,"
            " SUM(volume_bbl) AS volume_bbl FROM energy_rows"
            " WHERE skid_id = @skid_id AND grid_ts >= @since AND grid_ts < @until"
            " GROUP BY hour_start ORDER BY hour_start",
            {"skid_id": req["skid_id"], "since": since, "until": start},
        )
        batches: list[dict[str, object]] = []
        for row in hourly:
            if not row["product"] or not row["volume_bbl"]:
                continue
            due = row["hour_start"] + timedelta(hours=req["hours"] + 1)
            if batches and batches[-1]["product_code"] == row["product"]:
                batches[-1]["volume_bbl"] += row["volume_bbl"]  # type: ignore[operator]
                batches[-1]["deadline"] = due.isoformat()
            else:
                batches.append(
                    {
                        "batch_id": f"FC-{len(batches) + 1:02d}",
                        "product_code": row["product"],
                        "volume_bbl": row["volume_bbl"],
                        "deadline": due.isoformat(),
                    }
                )
        if not batches:
            raise ValueError("no nominations given and no history in the warehouse to forecast")
        state = wh.run_named_query(
            "latest_spine_state", {"skid_ids": [req["skid_id"]], "as_of": start}
        )
        tank = state[0]["dra_tank_level_gal"] if state else None
        pumps = state[0]["pumps_running"] if state else None
        req["nominations"] = Nominations(
            skid_id=req["skid_id"],
            batches=batches,  # type: ignore[arg-type]
            initial_tank_gal=tank or 0.0,
            initial_pumps_running=pumps or 0,
        ).model_dump(mode="json")
    with open(forecast.path, "w", encoding="utf-8") as f:
        json.dump(req, f)
