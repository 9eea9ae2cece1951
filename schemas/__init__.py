"""The one definition of every record the twin reads or writes, and of the site config.

Everything else (BigQuery tables, the JSON Schema for producers, the Beam job, the
functions) is derived from these pydantic v2 models.
"""

from schemas.alarm import Alarm, AlarmAction, AlarmEvent, AlarmPriority, AlarmState
from schemas.anomaly import Anomaly, AnomalyLayer, Severity
from schemas.dead_letter import DeadLetter, DeadLetterStage
from schemas.energy import EnergyRow, PowerSource
from schemas.plan import BindingConstraint, PlanRow, PlanStatus, PlanSummary
from schemas.raw import RawReading
from schemas.site_config import (
    ConfigError,
    DraConfig,
    DraCurve,
    ProductConfig,
    PumpConfig,
    SegmentConfig,
    SiteConfig,
    SkidConfig,
    SpineConfig,
    TariffConfig,
    TariffPeriod,
    load_site_config,
)
from schemas.spine import Quality, SignalStats, SpinePoint
from schemas.telemetry import CANONICAL_SIGNALS, NUMERIC_SIGNALS, TelemetryReading

__all__ = [
    "CANONICAL_SIGNALS",
    "NUMERIC_SIGNALS",
    "Alarm",
    "AlarmAction",
    "AlarmEvent",
    "AlarmPriority",
    "AlarmState",
    "Anomaly",
    "AnomalyLayer",
    "BindingConstraint",
    "ConfigError",
    "DeadLetter",
    "DeadLetterStage",
    "DraConfig",
    "DraCurve",
    "EnergyRow",
    "PlanRow",
    "PlanStatus",
    "PlanSummary",
    "PowerSource",
    "ProductConfig",
    "PumpConfig",
    "Quality",
    "RawReading",
    "SegmentConfig",
    "Severity",
    "SignalStats",
    "SiteConfig",
    "SkidConfig",
    "SpineConfig",
    "SpinePoint",
    "TariffConfig",
    "TariffPeriod",
    "TelemetryReading",
    "load_site_config",
]
