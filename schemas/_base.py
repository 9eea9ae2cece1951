"""Shared pydantic base classes and field types for every record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Record", "SkidId", "UtcDatetime"]


def _to_utc(value: datetime) -> datetime:
    """Normalise an aware timestamp to UTC so every record compares and sorts alike.

    A time whose UTC equivalent falls outside the years 1-9999 (year 1 at +01:00,
    year 9999 at -01:00) is refused as invalid: Python's ``OverflowError`` would not
    be a validation error, and would fail the whole bundle instead of dead-lettering
    one message."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from exc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, stored in UTC. Naive timestamps are rejected: a
reading whose time zone is unknown cannot be placed on the time spine."""

SkidId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Record(BaseModel):
    """Base of every stored record: strict about unknown fields and non-finite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=False)
