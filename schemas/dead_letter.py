"""Dead letters: everything that could not be used, with its raw bytes and the reason."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Record, UtcDatetime

__all__ = ["DeadLetter", "DeadLetterStage"]


class DeadLetterStage(StrEnum):
    """Where in the flow the message failed."""

    DECODE = "DECODE"
    VALIDATE = "VALIDATE"
    OVERSIZE = "OVERSIZE"
    TOO_LATE = "TOO_LATE"
    PROCESS = "PROCESS"


class DeadLetter(Record):
    """A message that was not used. ``raw_payload`` keeps the exact bytes so it can be
    fixed and replayed; ``attributes_json`` keeps the Pub/Sub/MQTT attributes."""

    received_ts: UtcDatetime
    stage: DeadLetterStage
    error: str = Field(min_length=1)
    raw_payload: bytes
    attributes_json: str = "{}"
    message_id: str | None = None
    skid_id: str | None = None
    source: str = Field(default="pipeline", description="Component that dead-lettered it")
