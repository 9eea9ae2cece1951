"""Anomalies: what a range check, rule or detector found at one point in time."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["Anomaly", "AnomalyLayer", "Severity"]


class AnomalyLayer(StrEnum):
    """Which detection layer raised the anomaly (DESIGN.md section 4)."""

    RANGE = "RANGE"
    RULE = "RULE"
    STATISTICAL = "STATISTICAL"
    MULTIVARIATE = "MULTIVARIATE"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class Anomaly(Record):
    """One finding of one detector on one skid at one grid point."""

    anomaly_id: str = Field(min_length=1)
    skid_id: SkidId
    event_ts: UtcDatetime
    detected_ts: UtcDatetime
    layer: AnomalyLayer
    rule: str = Field(min_length=1, description="Detector or rule name, e.g. maop_margin")
    signal: str | None = None
    severity: Severity
    value: float | None = None
    threshold: float | None = None
    score: float | None = None
    message: str
