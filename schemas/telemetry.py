"""The telemetry contract: one MQTT message per skid per sample time.

Every signal is optional (``null`` when the RTU has no value); sentinel values such
as -9999 fall outside the physical bounds below and are rejected, so a bad number
can never pass as a measurement.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["CANONICAL_SIGNALS", "NUMERIC_SIGNALS", "TelemetryReading"]

# Hard physical plausibility bounds. They reject sentinels and unit mix-ups at the
# contract; the tighter operating ranges are anomaly rules, not schema errors.
_FlowBph = Annotated[float | None, Field(default=None, ge=0.0, le=250_000.0)]
_Gph = Annotated[float | None, Field(default=None, ge=0.0, le=5_000.0)]
_TankGal = Annotated[float | None, Field(default=None, ge=0.0, le=200_000.0)]
_Psig = Annotated[float | None, Field(default=None, ge=-14.7, le=3_000.0)]
_DegF = Annotated[float | None, Field(default=None, ge=-60.0, le=250.0)]


class TelemetryReading(Record):
    """One skid's canonical signals at one source timestamp (the MQTT payload)."""

    skid_id: SkidId
    source_ts: UtcDatetime = Field(description="RTU sample time, timezone-aware (UTC)")
    seq: int = Field(
        ge=0,
        le=2**63 - 1,  # the INT64 column it lands in (BigQuery, DuckDB)
        description="Per-skid sequence number from the RTU",
    )
    product_code: str | None = Field(
        default=None, max_length=32, description="Product at the injection point"
    )
    batch_id: str | None = Field(default=None, max_length=64)
    line_flow_bph: _FlowBph
    dra_injection_gph: _Gph
    dra_tank_level_gal: _TankGal
    suction_psig: _Psig
    discharge_psig: _Psig
    downstream_psig: _Psig
    temperature_degf: _DegF
    density_kg_m3: float | None = Field(default=None, ge=500.0, le=1_100.0)
    api_gravity_deg: float | None = Field(default=None, ge=0.0, le=100.0)
    pump_power_kw: float | None = Field(default=None, ge=0.0, le=50_000.0)
    pumps_running: int | None = Field(default=None, ge=0, le=12)
    injection_pump_running: bool | None = None


NUMERIC_SIGNALS: tuple[str, ...] = (
    "line_flow_bph",
    "dra_injection_gph",
    "dra_tank_level_gal",
    "suction_psig",
    "discharge_psig",
    "downstream_psig",
    "temperature_degf",
    "density_kg_m3",
    "api_gravity_deg",
    "pump_power_kw",
    "pumps_running",
    "injection_pump_running",
)
"""Signals aggregated on the time spine (booleans and counts aggregate as numbers)."""

CANONICAL_SIGNALS: tuple[str, ...] = (*NUMERIC_SIGNALS, "product_code", "batch_id")
"""Every signal a SCADA tag may map onto in the site config."""
