"""The site config: skids, pipeline segments, pumps, products, DRA and tariff.

Loaded once at start by every component. A bad file fails at load with the file,
the field path and the reason (:class:`ConfigError`), never later with a KeyError.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas._base import SkidId
from schemas.telemetry import CANONICAL_SIGNALS, NUMERIC_SIGNALS

__all__ = [
    "ConfigError",
    "DayType",
    "DraConfig",
    "DraCurve",
    "ProductConfig",
    "PumpConfig",
    "SegmentConfig",
    "SiteConfig",
    "SkidConfig",
    "SpineConfig",
    "TariffConfig",
    "TariffPeriod",
    "load_site_config",
]

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader in C (libyaml) where built in: the reference config loads in
0.6 ms instead of 5 ms (every job and backfill loads it when it builds its graph)."""

_Pos = Annotated[float, Field(gt=0.0)]
_NonNeg = Annotated[float, Field(ge=0.0)]
_Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


IanaZone = Annotated[str, AfterValidator(_known_zone)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file, field and reason."""

    def __init__(self, path: str, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}: invalid site config"]
        lines += [f"  {field}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


class SegmentConfig(_Config):
    """The pipeline segment from the injection point to the next station."""

    length_mi: _Pos
    inner_diameter_in: _Pos
    roughness_in: _NonNeg = Field(description="Absolute wall roughness")
    elevation_change_ft: float = Field(description="Outlet minus inlet elevation")
    maop_psig: _Pos = Field(description="Maximum allowable operating pressure at discharge")
    maop_margin_psig: _NonNeg = Field(
        default=25.0, description="Alarm and plan margin kept below MAOP"
    )
    delivery_psig: _NonNeg = Field(
        description="Minimum pressure required at the segment outlet (next station suction)"
    )

    @model_validator(mode="after")
    def _roughness_below_diameter(self) -> Self:
        if self.roughness_in >= self.inner_diameter_in:
            raise ValueError("roughness_in must be far smaller than inner_diameter_in")
        if self.maop_margin_psig >= self.maop_psig:
            raise ValueError("maop_margin_psig must be below maop_psig")
        return self


class PumpConfig(_Config):
    """One mainline pump (identical pumps run in series at a station).

    Head and efficiency are quadratics in flow at rated speed:
    ``head_ft = h0 + h1*q + h2*q**2`` and ``eff = e0 + e1*q + e2*q**2`` with ``q`` in
    thousands of bbl/h, fitted from the manufacturer's curve.
    """

    pump_id: str = Field(min_length=1)
    head_coeffs_ft: tuple[float, float, float]
    efficiency_coeffs: tuple[float, float, float]
    min_flow_bph: _Pos
    max_flow_bph: _Pos
    motor_efficiency: _Fraction = 0.95
    drive_efficiency: _Fraction = 0.97
    min_speed_frac: _Fraction = 0.7
    max_speed_frac: Annotated[float, Field(gt=0.0, le=1.2)] = 1.0
    rated_power_kw: _Pos

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.min_flow_bph >= self.max_flow_bph:
            raise ValueError("min_flow_bph must be below max_flow_bph")
        if self.min_speed_frac > self.max_speed_frac:
            raise ValueError("min_speed_frac must not exceed max_speed_frac")
        return self


class SkidConfig(_Config):
    """One DRA injection skid and the station/segment it serves."""

    skid_id: SkidId
    station: str = Field(min_length=1)
    tag_map: dict[str, str] = Field(description="SCADA tag -> canonical signal")
    segment: SegmentConfig
    pumps: list[PumpConfig] = Field(min_length=1)
    nominal_suction_psig: _NonNeg = Field(description="Station suction pressure for planning")
    min_flow_for_injection_bph: _NonNeg = Field(
        description="Below this line flow the injection must stop (ppm control unstable)"
    )
    max_injection_gph: _Pos
    tank_capacity_gal: _Pos
    pump_downstream_of_injection: bool = Field(
        default=False,
        description="A running pump between injection and segment shears the DRA to nothing",
    )
    max_pump_starts_per_day: Annotated[int, Field(ge=0)] = 4

    @field_validator("tag_map")
    @classmethod
    def _canonical_targets(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted({v for v in value.values() if v not in CANONICAL_SIGNALS})
        if unknown:
            raise ValueError(
                f"unknown canonical signal(s) {unknown}; expected one of {list(CANONICAL_SIGNALS)}"
            )
        targets = list(value.values())
        dupes = sorted({v for v in targets if targets.count(v) > 1})
        if dupes:
            raise ValueError(f"signal(s) {dupes} mapped from more than one tag")
        return value

    @model_validator(mode="after")
    def _pump_ids_unique(self) -> Self:
        ids = [p.pump_id for p in self.pumps]
        if len(ids) != len(set(ids)):
            raise ValueError("pump_id values must be unique within a skid")
        return self


class ProductConfig(_Config):
    """A refined product and its fuel-quality rule for DRA."""

    name: str
    density_kg_m3: Annotated[float, Field(ge=500.0, le=1_100.0)] = Field(
        description="At the reference temperature"
    )
    viscosity_cst: _Pos = Field(description="Kinematic viscosity at the reference temperature")
    reference_temperature_degf: float = 60.0
    viscosity_temp_coeff_per_degf: _NonNeg = Field(
        default=0.012,
        description="nu(T) = nu_ref * exp(-b * (T - T_ref)); b fitted from ASTM D341 charts",
    )
    density_temp_coeff_per_degf: _NonNeg = Field(
        default=0.00055, description="Fractional density change per degF (thermal expansion)"
    )
    max_dra_ppm: _NonNeg = Field(description="Fuel-quality limit; 0 forbids DRA (jet fuel)")


class DraCurve(_Config):
    """Fitted drag-reduction curve ``DR(ppm) = dr_max_pct * ppm / (k_ppm + ppm)``."""

    dr_max_pct: Annotated[float, Field(gt=0.0, lt=100.0)]
    k_ppm: _Pos


class DraConfig(_Config):
    """The DRA product: price and drag-reduction curve per product."""

    product_name: str = "DRA"
    price_usd_per_gal: _Pos
    shear_retention_frac: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.0, description="Share of DR surviving a running pump (0: sheared to nothing)"
    )
    curves: dict[str, DraCurve] = Field(description="Product code -> fitted DR curve")


class DayType(StrEnum):
    WEEKDAY = "weekday"
    WEEKEND = "weekend"


class TariffPeriod(_Config):
    """A time-of-use price over local hours ``[start_hour, end_hour)`` of a day type."""

    day_type: DayType
    start_hour: Annotated[int, Field(ge=0, le=23)]
    end_hour: Annotated[int, Field(ge=1, le=24)]
    usd_per_kwh: _NonNeg

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        return self


class TariffConfig(_Config):
    """Electricity tariff: time-of-use energy price and an optional demand charge."""

    timezone: IanaZone = Field(description="IANA zone the tariff hours are in")
    periods: list[TariffPeriod] = Field(min_length=1)
    demand_charge_usd_per_kw: _NonNeg = Field(
        default=0.0, description="Charged on the peak kW of the billing horizon"
    )

    @model_validator(mode="after")
    def _covers_every_hour(self) -> Self:
        for day_type in DayType:
            hours = [0] * 24
            for p in self.periods:
                if p.day_type == day_type:
                    for h in range(p.start_hour, p.end_hour):
                        hours[h] += 1
            gaps = [h for h, n in enumerate(hours) if n == 0]
            overlaps = [h for h, n in enumerate(hours) if n > 1]
            if gaps:
                raise ValueError(f"{day_type.value} hours {gaps} have no price")
            if overlaps:
                raise ValueError(f"{day_type.value} hours {overlaps} have more than one price")
        return self

    def price_usd_per_kwh(self, ts: datetime) -> float:
        """Price in force at ``ts`` (aware), read in the tariff's own time zone."""
        local = ts.astimezone(ZoneInfo(self.timezone))
        day_type = DayType.WEEKEND if local.weekday() >= 5 else DayType.WEEKDAY
        for p in self.periods:
            if p.day_type == day_type and p.start_hour <= local.hour < p.end_hour:
                return p.usd_per_kwh
        raise AssertionError("unreachable: tariff coverage is validated")  # pragma: no cover


class SpineConfig(_Config):
    """Time-spine settings of the streaming job."""

    interval_s: Annotated[int, Field(gt=0, le=3600)] = 60
    default_gap_fill_limit_s: Annotated[int, Field(ge=0)] = 300
    gap_fill_limit_s: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Per-signal override of the gap-fill limit"
    )
    silent_skid_max_s: Annotated[int, Field(ge=0)] = Field(
        default=3600, description="How long a silent skid keeps getting MISSING rows"
    )
    allowed_lateness_s: Annotated[int, Field(ge=0)] = 3600
    late_refire_interval_s: Annotated[float, Field(ge=0, le=60)] = Field(
        default=0.1,
        description=(
            "Late readings re-emit their skid's rows at most this often (processing "
            "time; 0: at every bundle). A burst of late data (a backlog, a gateway "
            "flushing its buffer) then makes one revision per interval, not one per "
            "bundle: with a long gap-fill limit every revision rewrites the "
            "carried-forward rows ahead of the newest reading"
        ),
    )
    late_refire_quiet_s: Annotated[float, Field(ge=0, le=60)] = Field(
        default=0.02,
        description=(
            "Late readings held back by late_refire_interval_s re-emit their skid's "
            "rows once no late reading has come for this long (processing time): the "
            "burst is over, its last revision need not wait for the interval to end. "
            "The local runner runs a bundle every few milliseconds during a burst"
        ),
    )

    @field_validator("gap_fill_limit_s")
    @classmethod
    def _known_signals(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(NUMERIC_SIGNALS))
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}")
        return value

    def gap_limit_s(self, signal: str) -> int:
        return self.gap_fill_limit_s.get(signal, self.default_gap_fill_limit_s)


class SiteConfig(_Config):
    """Everything the twin knows about one site (network of skids)."""

    site_id: str = Field(min_length=1)
    name: str
    timezone: IanaZone
    skids: list[SkidConfig] = Field(min_length=1)
    products: dict[str, ProductConfig] = Field(min_length=1)
    dra: DraConfig
    tariff: TariffConfig
    spine: SpineConfig = SpineConfig()

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        ids = [s.skid_id for s in self.skids]
        if len(ids) != len(set(ids)):
            raise ValueError("skid_id values must be unique")
        missing = sorted(
            code
            for code, product in self.products.items()
            if product.max_dra_ppm > 0 and code not in self.dra.curves
        )
        if missing:
            raise ValueError(f"dra.curves has no curve for DRA-allowed product(s) {missing}")
        unknown = sorted(set(self.dra.curves) - set(self.products))
        if unknown:
            raise ValueError(f"dra.curves names unknown product(s) {unknown}")
        return self

    def skid(self, skid_id: str) -> SkidConfig:
        """The skid with this id; ``KeyError`` naming the known ids otherwise."""
        for s in self.skids:
            if s.skid_id == skid_id:
                return s
        raise KeyError(f"unknown skid {skid_id!r}; known: {[s.skid_id for s in self.skids]}")

    def product(self, code: str) -> ProductConfig:
        """The product with this code; ``KeyError`` naming the known codes otherwise."""
        try:
            return self.products[code]
        except KeyError:
            raise KeyError(f"unknown product {code!r}; known: {sorted(self.products)}") from None


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def load_site_config(path: str | Path) -> SiteConfig:
    """Read and validate a YAML site config.

    Raises:
        ConfigError: the file is missing, is not YAML, or a field is invalid; the
            message names the file, each field path and the reason.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("(file)", exc.strerror or str(exc))]) from None
    try:
        data: Any = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [("(yaml)", str(exc).replace("\n", " "))]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("(root)", "expected a mapping at the top level")])
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        problems = [(_field_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        raise ConfigError(str(path), problems) from None
