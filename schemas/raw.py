"""The raw record of every valid reading, for replay and lineage."""

from __future__ import annotations

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["RawReading"]


class RawReading(Record):
    """A valid message as it arrived: payload, Pub/Sub id and attributes, publish time."""

    skid_id: SkidId
    source_ts: UtcDatetime
    seq: int
    message_id: str | None = None
    publish_ts: UtcDatetime | None = None
    ingest_ts: UtcDatetime
    attributes_json: str = "{}"
    payload: str
