"""The forward-plan pipeline: load inputs -> forecast nominations if not given ->
optimise -> check -> write plan rows and summary to the warehouse."""

from kfp import dsl

from vertex.components.check_plan import check_plan
from vertex.components.forecast_nominations import forecast_nominations
from vertex.components.load_inputs import load_inputs
from vertex.components.optimise_plan import optimise_plan
from vertex.components.write_plan import write_plan

__all__ = ["forward_plan"]


@dsl.pipeline(
    name="dra-twin-forward-plan",
    description="7-day hourly plan of flow, pumps and DRA ppm (MILP), checked and stored",
)
def forward_plan(
    config_path: str,
    warehouse_url: str,
    skid_id: str = "ATL-01",
    nominations_path: str = "",
    start_iso: str = "",
    hours: int = 168,
    time_limit_s: float = 60.0,
    gap: float = 0.001,
) -> None:
    loaded = load_inputs(
        config_path=config_path,
        nominations_path=nominations_path,
        skid_id=skid_id,
        start_iso=start_iso,
        hours=hours,
    )
    forecast = forecast_nominations(request=loaded.outputs["request"], warehouse_url=warehouse_url)
    optimised = optimise_plan(
        request=forecast.outputs["forecast"], time_limit_s=time_limit_s, gap=gap
    )
    checked = check_plan(plan=optimised.outputs["plan"])
    write_plan(plan=checked.outputs["checked"], warehouse_url=warehouse_url)
