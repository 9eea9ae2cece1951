"""Shared pydantic base classes and field types for every record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Record", "SkidId", "UtcDatetime"]


def _to_utc(value: datetime) -> datetime:
    """Normalise an aware timestamp to UTC so every record compares and sorts alike."""
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, stored in UTC. Naive timestamps are rejected: a
reading whose time zone is unknown cannot be placed on the time spine."""

SkidId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Record(BaseModel):
    """Base of every stored record: strict about unknown fields and non-finite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=False)
