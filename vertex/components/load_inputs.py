"""``load_inputs``: the request a forward plan answers, as one JSON artifact."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from vertex.components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, packages_to_install=[], install_kfp_package=False)
def load_inputs(
    config_path: str,
    nominations_path: str,
    skid_id: str,
    start_iso: str,
    hours: int,
    request: Output[Dataset],
) -> None:
    """Validate the site config and (if given) the nominations; write the request.

    Args:
        config_path: site config YAML.
        nominations_path: nominations YAML/JSON, or "" to forecast them.
        skid_id: the skid to plan.
        start_iso: first hour (aware ISO-8601), or "" for the current hour (UTC).
        hours: horizon in hours.
        request: JSON {config_path, skid_id, start, hours, nominations|null}.
    """
    import json
    from datetime import UTC, datetime

    from schemas.site_config import load_site_config
    from twin.plan.inputs import load_nominations

    config = load_site_config(config_path)
    config.skid(skid_id)
    start = (
        datetime.fromisoformat(start_iso)
        if start_iso
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    if start.tzinfo is None:
        raise ValueError(f"start_iso {start_iso!r} has no UTC offset")
    nominations = None
    if nominations_path:
        loaded = load_nominations(nominations_path)
        if loaded.skid_id != skid_id:
            raise ValueError(f"nominations are for {loaded.skid_id}, not {skid_id}")
        nominations = loaded.model_dump(mode="json")
    with open(request.path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "config_path": config_path,
                "skid_id": skid_id,
                "start": start.isoformat(),
                "hours": hours,
                "nominations": nominations,
            },
            f,
        )
