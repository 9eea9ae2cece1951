"""The time spine: one row per skid per grid point, every signal aggregated."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["Quality", "SignalStats", "SpinePoint"]


class Quality(StrEnum):
    """How a spine value came to be; dashboards and rules must not treat them alike."""

    GOOD = "GOOD"
    INTERPOLATED = "INTERPOLATED"
    CARRIED_FORWARD = "CARRIED_FORWARD"
    MISSING = "MISSING"


class SignalStats(Record):
    """Aggregate of one signal over one grid interval.

    ``mean``/``min``/``max``/``last`` are ``None`` when the value is MISSING;
    ``count`` is the number of real readings (0 for filled or missing points).
    """

    mean: float | None = None
    min: float | None = None
    max: float | None = None
    last: float | None = None
    count: int = Field(default=0, ge=0)
    quality: Quality = Quality.MISSING


class SpinePoint(Record):
    """One grid point of one skid. A late reading re-emits it with a higher revision."""

    skid_id: SkidId
    grid_ts: UtcDatetime = Field(description="Start of the grid interval (UTC)")
    interval_s: int = Field(gt=0)
    revision: int = Field(default=0, ge=0)
    emitted_ts: UtcDatetime
    product_code: str | None = None
    batch_id: str | None = None
    reading_count: int = Field(default=0, ge=0)
    line_flow_bph: SignalStats = SignalStats()
    dra_injection_gph: SignalStats = SignalStats()
    dra_tank_level_gal: SignalStats = SignalStats()
    suction_psig: SignalStats = SignalStats()
    discharge_psig: SignalStats = SignalStats()
    downstream_psig: SignalStats = SignalStats()
    temperature_degf: SignalStats = SignalStats()
    density_kg_m3: SignalStats = SignalStats()
    api_gravity_deg: SignalStats = SignalStats()
    pump_power_kw: SignalStats = SignalStats()
    pumps_running: SignalStats = SignalStats()
    injection_pump_running: SignalStats = SignalStats()
