"""Alarms with the ISA-18.2 life cycle, and the event log of every transition."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["Alarm", "AlarmAction", "AlarmEvent", "AlarmPriority", "AlarmState"]


class AlarmState(StrEnum):
    """ISA-18.2 alarm states (figure 5 of the standard)."""

    NORMAL = "NORMAL"
    UNACK_ACTIVE = "UNACK_ACTIVE"
    ACKED_ACTIVE = "ACKED_ACTIVE"
    RTN_UNACK = "RTN_UNACK"
    SHELVED = "SHELVED"
    SUPPRESSED = "SUPPRESSED"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"


class AlarmPriority(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class AlarmAction(StrEnum):
    RAISE = "RAISE"
    CLEAR = "CLEAR"
    ACKNOWLEDGE = "ACKNOWLEDGE"
    SHELVE = "SHELVE"
    UNSHELVE = "UNSHELVE"
    SHELVE_EXPIRED = "SHELVE_EXPIRED"


class Alarm(Record):
    """Current state of one alarm (one alarm type on one skid)."""

    alarm_id: str = Field(min_length=1)
    skid_id: SkidId
    alarm_type: str = Field(min_length=1)
    priority: AlarmPriority
    state: AlarmState
    message: str
    raised_ts: UtcDatetime | None = None
    acked_ts: UtcDatetime | None = None
    acked_by: str | None = None
    shelved_until_ts: UtcDatetime | None = None
    shelved_by: str | None = None
    cleared_ts: UtcDatetime | None = None
    last_value: float | None = None
    updated_ts: UtcDatetime


class AlarmEvent(Record):
    """One transition of one alarm: the audit trail ISA-18.2 asks for."""

    event_id: str = Field(min_length=1)
    alarm_id: str = Field(min_length=1)
    skid_id: SkidId
    alarm_type: str
    event_ts: UtcDatetime
    action: AlarmAction
    from_state: AlarmState
    to_state: AlarmState
    user: str | None = None
    comment: str | None = None
    value: float | None = None
