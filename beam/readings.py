"""Parse and validate telemetry messages; everything unusable becomes a dead letter.

Input is a ``PubsubMessage`` whether it came from Pub/Sub or from a line of a JSONL
file (backfill), so both paths share this transform. Each message ends up in exactly
one of two outputs: a :class:`TelemetryReading` (stamped with its source time, plus
its :class:`RawReading` for replay and lineage) or a :class:`DeadLetter` that keeps
the exact bytes, the attributes and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import TimestampedValue
from pydantic import ValidationError

from schemas.dead_letter import DeadLetter, DeadLetterStage
from schemas.raw import RawReading
from schemas.telemetry import TelemetryReading

__all__ = [
    "TAG_DEAD_LETTER",
    "TAG_RAW",
    "ParseReadingFn",
    "ParsedReadings",
    "dead_letter_for",
]

TAG_DEAD_LETTER = "dead_letter"
TAG_RAW = "raw"

_NAMESPACE = "readings"


def _publish_time(message: PubsubMessage) -> datetime | None:
    """The Pub/Sub publish time as an aware UTC datetime (None for file input)."""
    published = message.publish_time
    if published is None:
        return None
    if isinstance(published, datetime):
        return published.astimezone(UTC) if published.tzinfo else published.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(published.timestamp()), tz=UTC)


def _attributes_json(message: PubsubMessage) -> str:
    return json.dumps(dict(message.attributes or {}), sort_keys=True)


def _skid_hint(message: PubsubMessage) -> str | None:
    """The skid a bad message probably came from (attribute, else the payload's field)."""
    attributes = message.attributes or {}
    if attributes.get("skid_id"):
        return str(attributes["skid_id"])[:64]
    try:
        data = json.loads(message.data)
    except (ValueError, TypeError):
        return None
    skid = data.get("skid_id") if isinstance(data, dict) else None
    return skid[:64] if isinstance(skid, str) and skid else None


def dead_letter_for(
    message: PubsubMessage, stage: DeadLetterStage, error: str, received_ts: datetime
) -> DeadLetter:
    """A dead letter keeping the message's exact bytes, attributes and id."""
    return DeadLetter(
        received_ts=received_ts,
        stage=stage,
        error=error[:4000] or stage.value,
        raw_payload=bytes(message.data),
        attributes_json=_attributes_json(message),
        message_id=message.message_id or None,
        skid_id=_skid_hint(message),
    )


def _validation_stage(exc: ValidationError) -> DeadLetterStage:
    """Bytes that are not JSON failed to decode; JSON that breaks the contract failed
    validation."""
    kinds = {e["type"] for e in exc.errors()}
    return (
        DeadLetterStage.DECODE
        if kinds & {"json_invalid", "json_type"}
        else (DeadLetterStage.VALIDATE)
    )


def _short_error(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(payload)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


class ParseReadingFn(beam.DoFn):  # type: ignore[misc]
    """Bytes -> TelemetryReading (main), RawReading (``raw``), DeadLetter (``dead_letter``).

    Only ``pydantic.ValidationError`` and an oversize payload are permanent failures
    and dead-lettered; anything else is a bug or a transient fault and fails the
    bundle so the runner retries it.
    """

    def __init__(self, max_payload_bytes: int) -> None:
        self._max_payload_bytes = max_payload_bytes
        self._valid = Metrics.counter(_NAMESPACE, "valid")
        self._dead = {
            stage: Metrics.counter(_NAMESPACE, f"dead_letter_{stage.value.lower()}")
            for stage in DeadLetterStage
        }

    def process(self, message: PubsubMessage) -> Iterator[Any]:
        now = datetime.now(UTC)
        if len(message.data) > self._max_payload_bytes:
            self._dead[DeadLetterStage.OVERSIZE].inc()
            yield TaggedOutput(
                TAG_DEAD_LETTER,
                dead_letter_for(
                    message,
                    DeadLetterStage.OVERSIZE,
                    f"payload of {len(message.data)} bytes exceeds {self._max_payload_bytes} bytes",
                    now,
                ),
            )
            return
        try:
            reading = TelemetryReading.model_validate_json(message.data)
        except ValidationError as exc:
            stage = _validation_stage(exc)
            self._dead[stage].inc()
            yield TaggedOutput(
                TAG_DEAD_LETTER, dead_letter_for(message, stage, _short_error(exc), now)
            )
            return
        self._valid.inc()
        yield TimestampedValue(reading, reading.source_ts.timestamp())
        yield TaggedOutput(
            TAG_RAW,
            TimestampedValue(
                RawReading(
                    skid_id=reading.skid_id,
                    source_ts=reading.source_ts,
                    seq=reading.seq,
                    message_id=message.message_id or None,
                    publish_ts=_publish_time(message),
                    ingest_ts=now,
                    attributes_json=_attributes_json(message),
                    payload=bytes(message.data).decode("utf-8"),
                ),
                reading.source_ts.timestamp(),
            ),
        )


class ParsedReadings(beam.PTransform):  # type: ignore[misc]
    """Messages -> validated readings at their source time, raw records, dead letters."""

    def __init__(self, max_payload_bytes: int = 65_536) -> None:
        super().__init__()
        self._max_payload_bytes = max_payload_bytes

    def expand(self, messages: beam.PCollection[PubsubMessage]) -> dict[str, beam.PCollection]:
        """``{"readings": TelemetryReading, "raw": RawReading, "dead_letters": DeadLetter}``."""
        outputs = messages | "Parse" >> beam.ParDo(
            ParseReadingFn(self._max_payload_bytes)
        ).with_outputs(TAG_RAW, TAG_DEAD_LETTER, main="readings")
        return {
            "readings": outputs.readings,
            "raw": outputs[TAG_RAW],
            "dead_letters": outputs[TAG_DEAD_LETTER],
        }
