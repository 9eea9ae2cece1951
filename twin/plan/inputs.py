"""What the planner is asked: nominations, DRA deliveries, initial state, settings.

A nominations file (YAML or JSON) lists the batches in the order they will pass the
injection point, the first one being the batch there now (``volume_bbl`` is what is
left of it). :func:`resolve_inputs` turns it, the site config and the settings into
hour-indexed arrays that the MILP, the checker and the baselines all read, so the
three agree on what hour ``h`` means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.site_config import SiteConfig

__all__ = [
    "Batch",
    "DraDelivery",
    "Nominations",
    "NominationsError",
    "PlanInputs",
    "PlanSettings",
    "load_nominations",
    "resolve_inputs",
]

_Pos = Annotated[float, Field(gt=0.0)]
_NonNeg = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Batch(_Model):
    """One nominated batch; ``deadline`` is when all of it must have passed the skid."""

    batch_id: str = Field(min_length=1)
    product_code: str = Field(min_length=1)
    volume_bbl: _Pos
    deadline: AwareDatetime | None = Field(
        default=None, description="None: no requirement within the horizon"
    )


class DraDelivery(_Model):
    """A scheduled DRA delivery into the skid tank (usable from the next whole hour)."""

    at: AwareDatetime
    volume_gal: _Pos


class Nominations(_Model):
    """The nominated batch sequence and the skid's state at the start of the plan."""

    skid_id: str = Field(min_length=1)
    batches: list[Batch] = Field(min_length=1)
    dra_deliveries: list[DraDelivery] = Field(default_factory=list)
    initial_tank_gal: _NonNeg
    initial_pumps_running: Annotated[int, Field(ge=0)] = 0
    temperature_degf: float = Field(default=60.0, description="Forecast product temperature")
    operator_ppm: _NonNeg = Field(
        default=10.0,
        description="Fixed ppm of the operator-rule baseline in products that allow DRA",
    )


class NominationsError(ValueError):
    """A nominations file that cannot be used; names the file, the field and the reason."""


def load_nominations(path: str | Path) -> Nominations:
    """Read and validate a YAML or JSON nominations file.

    Raises:
        NominationsError: unreadable file, bad YAML/JSON, or an invalid field.
    """
    path = Path(path)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NominationsError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise NominationsError(f"{path}: not YAML/JSON: {exc}".replace("\n", " ")) from None
    try:
        return Nominations.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise NominationsError(f"{path}: invalid nominations: {problems}") from None


@dataclass(frozen=True)
class PlanSettings:
    """How to plan: horizon, solver limits and the discretisation.

    ``tariff_usd_per_kwh`` overrides the config's time-of-use tariff with one price
    per hour (tests and what-if studies); ``None`` reads the config's tariff.
    ``full_model_time_share`` is the share of the time limit the full MILP (the block
    model) gets before the windowed per-hour fallback (:mod:`twin.plan.planner`).
    """

    start: datetime
    hours: int = 168
    time_limit_s: float = 60.0
    relative_gap: float = 0.001
    flow_levels: int = 6
    ppm_pieces: int = 4
    continuous_flow: bool = True
    full_model_time_share: float = 0.85
    solver: str = "HIGHS"
    tariff_usd_per_kwh: tuple[float, ...] | None = None
    plan_id: str | None = None


@dataclass(frozen=True)
class PlanInputs:
    """Hour-indexed view of one planning request, shared by MILP, checker and baselines.

    Hour ``h`` runs from ``hour_starts[h]`` for one hour. Cumulative volume ``V[h]`` is
    what has passed the injection point at the start of hour ``h`` (``V[0] = 0``);
    batch ``b`` occupies ``(batch_end_bbl[b-1], batch_end_bbl[b]]``.
    """

    config: SiteConfig
    skid_id: str
    nominations: Nominations
    settings: PlanSettings
    hour_starts: tuple[datetime, ...]
    price_usd_per_kwh: tuple[float, ...]
    batch_end_bbl: tuple[float, ...]
    deadline_hour: tuple[int | None, ...]
    delivery_gal_at_hour: tuple[float, ...]
    day_of_hour: tuple[int, ...]

    @property
    def hours(self) -> int:
        return len(self.hour_starts)

    @property
    def batches(self) -> list[Batch]:
        return self.nominations.batches

    @property
    def total_bbl(self) -> float:
        return self.batch_end_bbl[-1]

    def batch_start_bbl(self, b: int) -> float:
        return 0.0 if b == 0 else self.batch_end_bbl[b - 1]


def _ceil_hours(delta: timedelta) -> int:
    seconds = delta.total_seconds()
    return int(-(-seconds // 3600))


def resolve_inputs(
    config: SiteConfig, nominations: Nominations, settings: PlanSettings
) -> PlanInputs:
    """Hour-index a request.

    A deadline becomes the number of whole hours that end by it (``floor``); a
    delivery is usable from the first hour that starts at or after it.

    Raises:
        KeyError: unknown skid or product.
        ValueError: a bad horizon, a naive start, a tariff override of the wrong
            length, or a deadline beyond the horizon end.
    """
    config.skid(nominations.skid_id)
    for batch in nominations.batches:
        config.product(batch.product_code)
    if settings.start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if settings.hours <= 0:
        raise ValueError(f"hours must be positive, got {settings.hours}")
    start = settings.start
    hour_starts = tuple(start + timedelta(hours=h) for h in range(settings.hours))
    if settings.tariff_usd_per_kwh is not None:
        if len(settings.tariff_usd_per_kwh) != settings.hours:
            raise ValueError(
                f"tariff override has {len(settings.tariff_usd_per_kwh)} prices "
                f"for {settings.hours} hours"
            )
        prices = tuple(float(p) for p in settings.tariff_usd_per_kwh)
    else:
        prices = tuple(config.tariff.price_usd_per_kwh(t) for t in hour_starts)
    ends: list[float] = []
    total = 0.0
    for batch in nominations.batches:
        total += batch.volume_bbl
        ends.append(total)
    deadlines: list[int | None] = []
    for batch in nominations.batches:
        if batch.deadline is None:
            deadlines.append(None)
            continue
        hours_to = int((batch.deadline - start).total_seconds() // 3600)
        if hours_to > settings.hours:
            deadlines.append(None)  # due after the horizon: no requirement inside it
        else:
            deadlines.append(hours_to)
    deliveries = [0.0] * (settings.hours + 1)
    for d in nominations.dra_deliveries:
        h = max(0, _ceil_hours(d.at - start))
        if h <= settings.hours:
            deliveries[h] += d.volume_gal
    zone = ZoneInfo(config.timezone)
    dates = [t.astimezone(zone).date() for t in hour_starts]
    first = dates[0]
    days = tuple((d - first).days for d in dates)
    return PlanInputs(
        config=config,
        skid_id=nominations.skid_id,
        nominations=nominations,
        settings=settings,
        hour_starts=hour_starts,
        price_usd_per_kwh=prices,
        batch_end_bbl=tuple(ends),
        deadline_hour=tuple(deadlines),
        delivery_gal_at_hour=tuple(deliveries),
        day_of_hour=days,
    )
