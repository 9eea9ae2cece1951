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
from typing import Annotated, Any, NotRequired, Required

import apache_beam as beam
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.windowed_value import WindowedValue
from pydantic import ConfigDict, Json, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic takes typing.TypedDict from 3.12 only

from beam.arrow_readings import read_valid_readings
from beam.batches import MessageBatch, ReadingBatch, RowBatch
from beam.dofn_pickling import PickledAsArgumentsDoFn
from beam.dofn_signatures import SignatureCachedDoFn
from beam.lines import FileLines, binary_column
from beam.progress import count_dead_letter, count_read
from beam.spine import ReadingsBySkid
from beam.warehouse_buffer import BundleRows
from schemas.dead_letter import DeadLetter, DeadLetterStage
from schemas.raw import RawReading
from schemas.telemetry import TelemetryReading
from warehouse.table_schemas import ARROW_TIMESTAMP, arrow_schema

__all__ = [
    "TAG_DEAD_LETTER",
    "TAG_RAW",
    "ParseBatchFn",
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
        else DeadLetterStage.VALIDATE
    )


def _short_error(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(payload)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


class ParseReadingFn(PickledAsArgumentsDoFn):
    """Bytes -> TelemetryReading (main), RawReading (``raw``), DeadLetter (``dead_letter``).

    Only ``pydantic.ValidationError`` and an oversize payload are permanent failures
    and dead-lettered; anything else is a bug or a transient fault and fails the
    bundle so the runner retries it.

    For the streaming job, ``keyed_by_skid`` emits readings as ``(skid_id, readings)``,
    one element per skid per bundle (:class:`~beam.spine.ReadingsBySkid`), for the
    spine's stateful DoFn, and ``warehouse_url`` (a local DuckDB warehouse) makes it
    write every raw record and dead letter there itself
    (:class:`~beam.warehouse_buffer.BundleRows`). On the local runner each stage costs
    a bundle per input bundle, empty or not; this saves a keying stage and a sink.
    """

    def __init__(
        self,
        max_payload_bytes: int,
        *,
        keyed_by_skid: bool = False,
        warehouse_url: str | None = None,
    ) -> None:
        self._max_payload_bytes = max_payload_bytes
        self._keyed_by_skid = keyed_by_skid
        self._rows = BundleRows(warehouse_url) if warehouse_url else None
        self._groups = ReadingsBySkid()
        self._valid = Metrics.counter(_NAMESPACE, "valid")
        self._dead = {
            stage: Metrics.counter(_NAMESPACE, f"dead_letter_{stage.value.lower()}")
            for stage in DeadLetterStage
        }

    def start_bundle(self) -> None:
        self._groups = ReadingsBySkid()

    def process(self, message: PubsubMessage, window: Any = beam.DoFn.WindowParam) -> Iterator[Any]:
        parsed = self.parse(message, datetime.now(UTC))
        if isinstance(parsed, DeadLetter):
            yield TaggedOutput(TAG_DEAD_LETTER, parsed)
            if self._rows is not None:
                self._rows.add(parsed)
            return
        reading, raw = parsed
        at = reading.source_ts.timestamp()
        if self._keyed_by_skid:
            self._groups.add(reading, window)
        else:
            yield TimestampedValue(reading, at)
        yield TaggedOutput(TAG_RAW, TimestampedValue(raw, at))
        if self._rows is not None:
            self._rows.add(raw)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self._rows is not None:
            self._rows.hand_over()
        return self._groups.drain()

    def parse(
        self, message: PubsubMessage, now: datetime
    ) -> tuple[TelemetryReading, RawReading] | DeadLetter:
        """One message -> its reading and raw record, or its dead letter (counted)."""
        if len(message.data) > self._max_payload_bytes:
            self._dead[DeadLetterStage.OVERSIZE].inc()
            return dead_letter_for(
                message,
                DeadLetterStage.OVERSIZE,
                f"payload of {len(message.data)} bytes exceeds {self._max_payload_bytes} bytes",
                now,
            )
        try:
            reading = TelemetryReading.model_validate_json(message.data)
        except ValidationError as exc:
            stage = _validation_stage(exc)
            self._dead[stage].inc()
            return dead_letter_for(message, stage, _short_error(exc), now)
        self._valid.inc()
        return reading, RawReading(
            skid_id=reading.skid_id,
            source_ts=reading.source_ts,
            seq=reading.seq,
            message_id=message.message_id or None,
            publish_ts=_publish_time(message),
            ingest_ts=now,
            attributes_json=_attributes_json(message),
            payload=bytes(message.data).decode("utf-8"),
        )


def _row_type() -> Any:
    """A ``TypedDict`` with exactly :class:`TelemetryReading`'s fields, constraints and
    config: validated by pydantic-core into plain dicts, not models (building 10,000
    models per batch cost more than validating them). ``tests/beam/test_batches.py``
    checks it accepts and rejects what the model does."""
    fields = {
        name: (Required if info.is_required() else NotRequired)[
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        ]
        for name, info in TelemetryReading.model_fields.items()
    }
    row = TypedDict("TelemetryRow", fields)  # type: ignore[operator]
    row.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
        extra=TelemetryReading.model_config.get("extra"),
        allow_inf_nan=TelemetryReading.model_config.get("allow_inf_nan", True),
    )
    return row


_PAYLOADS = TypeAdapter(list[Json[_row_type()]])  # type: ignore[misc]
"""Validates a list of payloads in one call: each item is parsed as its own JSON
document (so one line can never run into the next), in Rust; the error, if any,
names every failing item by its index."""


def _valid_positions(
    payloads: list[bytes], max_payload_bytes: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """Positions of the payloads that validate, with their fields. The others are
    left to the per-message path, which words their dead letters."""
    index = [i for i, p in enumerate(payloads) if len(p) <= max_payload_bytes]
    while index:
        try:
            return index, _PAYLOADS.validate_python([payloads[i] for i in index])
        except ValidationError as exc:
            failed = {e["loc"][0] for e in exc.errors() if e["loc"]}
            if not failed:
                raise
            index = [i for k, i in enumerate(index) if k not in failed]
    return [], []


def _raw_rows(
    readings: ReadingBatch,
    source_ts: pa.Array,
    batch: MessageBatch,
    index: list[int],
    now: datetime,
) -> RowBatch:
    """The raw records of a batch's valid readings (``readings`` and ``source_ts``, a
    UTC timestamp array, hold the payloads at ``index``) as ``raw_readings`` columns."""
    n = len(readings)
    if batch.replayed is not None:
        kept = batch.replayed.take(pa.array(index, pa.int64()))
        message_ids = kept.column("message_id")
        published = kept.column("publish_ts")
        attributes = kept.column("attributes_json")
    elif batch.messages is None:
        message_ids = pa.nulls(n, pa.string())
        published = pa.nulls(n, ARROW_TIMESTAMP)
        attributes = pa.repeat(pa.scalar("{}", pa.string()), n)
    else:
        messages = [batch.messages[i] for i in index]
        message_ids = pa.array([m.message_id or None for m in messages], pa.string())
        published = pa.array([_publish_time(m) for m in messages], ARROW_TIMESTAMP)
        attributes = pa.array([_attributes_json(m) for m in messages], pa.string())
    columns = {
        "skid_id": pa.array(readings.skid_id, pa.string()),
        # From the timestamps, not the float seconds: exact to the microsecond at any date.
        "source_ts": source_ts,
        "seq": pa.array(readings.columns.seq, pa.int64()),
        "message_id": message_ids,
        "publish_ts": published,
        "ingest_ts": pa.repeat(pa.scalar(now, ARROW_TIMESTAMP), n),
        "attributes_json": attributes,
        "payload": _payload_column(batch.payloads, index),
    }
    schema = arrow_schema("raw_readings")
    return RowBatch(
        "raw_readings", pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    )


def _payload_column(payloads: list[bytes] | FileLines, index: list[int]) -> pa.Array:
    """The payloads at ``index`` (ascending) as an Arrow string column, checked to be
    UTF-8, built from one buffer and offsets (a file's lines are one already)."""
    column = payloads.column() if isinstance(payloads, FileLines) else None
    if column is None:
        column = binary_column([payloads[i] for i in index])
    elif len(index) < len(column):
        column = column.take(pa.array(index, pa.int64()))
    return column.cast(pa.string())  # refuses bytes that are not UTF-8


class ParseBatchFn(SignatureCachedDoFn):
    """Batch: :class:`MessageBatch` -> its valid readings as one :class:`ReadingBatch`
    (main), their raw records as one :class:`RowBatch` (``raw``), and a
    :class:`DeadLetter` per bad message (``dead_letter``).

    The batch goes through Arrow's fast path first (:mod:`beam.arrow_readings`,
    which takes only what pydantic would take, with the same values); what it leaves
    is validated in one pydantic call; only the messages pydantic rejects go through
    :meth:`ParseReadingFn.parse`, so each dead letter is worded exactly as in
    streaming and keeps its own bytes. Each batch and dead letter is also counted into
    the backfill's progress tally (:mod:`beam.progress`).
    """

    def __init__(self, max_payload_bytes: int) -> None:
        self._one = ParseReadingFn(max_payload_bytes)
        self._max_payload_bytes = max_payload_bytes
        self._valid = Metrics.counter(_NAMESPACE, "valid")

    def process(self, batch: MessageBatch) -> Iterator[Any]:
        now = datetime.now(UTC)
        count_read(batch)
        fast = read_valid_readings(batch.payloads, self._max_payload_bytes)
        rest = fast.rest
        positions, readings = _valid_positions(
            [batch.payloads[i] for i in rest], self._max_payload_bytes
        )
        slow = [rest[k] for k in positions]
        if len(slow) < len(rest):
            valid = set(slow)
            for i in rest:
                if i in valid:
                    continue
                parsed = self._one.parse(batch.message(i), now)
                if isinstance(parsed, DeadLetter):
                    yield TaggedOutput(TAG_DEAD_LETTER, count_dead_letter(parsed))
                else:
                    slow.append(i)
                    readings.append(dict(parsed[0]))
        index = fast.index + slow
        self._valid.inc(len(index))
        if index:
            columns = ReadingBatch.concat(
                [b for b in (fast.readings, ReadingBatch.of_rows(readings)) if len(b)]
            )
            source_ts = pa.concat_arrays(
                [fast.source_ts, pa.array([r["source_ts"] for r in readings], ARROW_TIMESTAMP)]
            )
            if slow and fast.index:  # in the batch's order, as one message at a time
                order = np.argsort(index, kind="stable")
                columns, source_ts = columns.take(order), source_ts.take(order)
                index = sorted(index)
            yield columns
            yield TaggedOutput(TAG_RAW, _raw_rows(columns, source_ts, batch, index, now))


class _BatchMessagesFn(SignatureCachedDoFn):
    """Bounded input: single messages -> one :class:`MessageBatch` per bundle and
    window (at most ``max_size`` each); batches pass through unchanged."""

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._pending: dict[Any, list[PubsubMessage]] = {}

    def start_bundle(self) -> None:
        self._pending = {}

    def process(
        self, element: MessageBatch | PubsubMessage, window: Any = beam.DoFn.WindowParam
    ) -> Iterator[Any]:
        if isinstance(element, MessageBatch):
            yield element
            return
        pending = self._pending.setdefault(window, [])
        pending.append(element)
        if len(pending) >= self._max_size:
            del self._pending[window]
            yield _as_batch(pending)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        pending, self._pending = self._pending, {}
        for window, messages in pending.items():
            yield WindowedValue(_as_batch(messages), window.max_timestamp(), [window])


def _as_batch(messages: list[PubsubMessage]) -> MessageBatch:
    return MessageBatch([bytes(m.data) for m in messages], messages)


_BATCH_MESSAGES = 10_000
"""Bounded input given as single messages: messages per :class:`MessageBatch`."""


class ParsedReadings(beam.PTransform):  # type: ignore[misc]
    """Messages -> validated readings at their source time, raw records, dead letters.

    Bounded input (the backfill) may hold :class:`MessageBatch` elements as well as
    single messages; it is parsed a batch at a time and its readings and raw records
    come out batched (see :mod:`beam.batches`). Unbounded input (the streaming job)
    comes out keyed by skid; given ``warehouse_url`` (a local DuckDB warehouse) the
    parsing writes the raw records and dead letters there itself (see
    :class:`ParseReadingFn`).
    """

    def __init__(self, max_payload_bytes: int = 65_536, warehouse_url: str | None = None) -> None:
        super().__init__()
        self._max_payload_bytes = max_payload_bytes
        self._warehouse_url = warehouse_url

    def expand(self, messages: beam.PCollection[PubsubMessage]) -> dict[str, beam.PCollection]:
        """``{"readings": TelemetryReading, "raw": RawReading, "dead_letters": DeadLetter}``
        (bounded: ``ReadingBatch`` and ``RowBatch`` of ``raw_readings``; unbounded:
        readings as ``(skid_id, readings)``)."""
        if messages.is_bounded:
            outputs = (
                messages
                | "Batch"
                >> beam.ParDo(_BatchMessagesFn(_BATCH_MESSAGES)).with_output_types(MessageBatch)
                | "ParseBatches"
                >> beam.ParDo(ParseBatchFn(self._max_payload_bytes))
                .with_output_types(ReadingBatch, **{TAG_RAW: RowBatch, TAG_DEAD_LETTER: Any})
                .with_outputs(TAG_RAW, TAG_DEAD_LETTER, main="readings")
            )
        else:
            outputs = messages | "Parse" >> beam.ParDo(
                ParseReadingFn(
                    self._max_payload_bytes,
                    keyed_by_skid=True,
                    warehouse_url=self._warehouse_url,
                )
            ).with_output_types(tuple[str, list[TelemetryReading]]).with_outputs(
                TAG_RAW, TAG_DEAD_LETTER, main="readings"
            )
        return {
            "readings": outputs.readings,
            "raw": outputs[TAG_RAW],
            "dead_letters": outputs[TAG_DEAD_LETTER],
        }
