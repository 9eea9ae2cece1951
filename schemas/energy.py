"""Energy, hydraulics and DRA effectiveness of one spine row."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["EnergyRow", "PowerSource"]


class PowerSource(StrEnum):
    """Where electric power came from: the meter, or the pump model when it is missing."""

    MEASURED = "MEASURED"
    MODELLED = "MODELLED"
    NONE = "NONE"


class EnergyRow(Record):
    """Per-interval energy, cost and DRA figures; ``None`` where inputs were missing."""

    skid_id: SkidId
    grid_ts: UtcDatetime
    interval_s: int = Field(gt=0)
    revision: int = Field(default=0, ge=0)
    product_code: str | None = None
    line_flow_bph: float | None = None
    volume_bbl: float | None = None
    dra_ppm: float | None = None
    reynolds: float | None = None
    relative_roughness: float | None = None
    darcy_friction_factor: float | None = None
    friction_loss_psi: float | None = None
    friction_loss_psi_no_dra: float | None = None
    dr_observed_pct: float | None = None
    dr_expected_pct: float | None = None
    dra_effectiveness: float | None = None
    electric_kw: float | None = None
    electric_kw_no_dra: float | None = None
    power_source: PowerSource = PowerSource.NONE
    electric_kwh: float | None = None
    electric_kwh_no_dra: float | None = None
    kwh_per_bbl: float | None = None
    tariff_usd_per_kwh: float | None = None
    energy_cost_usd: float | None = None
    energy_cost_usd_no_dra: float | None = None
    dra_gal: float | None = None
    dra_cost_usd: float | None = None
    net_benefit_usd: float | None = None
