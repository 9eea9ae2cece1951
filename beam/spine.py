"""The time spine as a Beam transform: one stateful DoFn per skid, event-time timers.

The DoFn only keeps readings in state and decides when to emit; the grid, the
aggregates, the gap fill and the quality codes are :func:`twin.spine.compute_spine`,
so batch (backfill) and streaming produce the same rows.

When an event-time timer fires at ``T`` (the watermark has passed ``T``), every
point up to ``T`` is computed, and so is every point before the newest reading's
(its data are in: a later reading arrived). Points still within the allowed lateness
are recomputed on each firing and re-emitted with ``revision + 1`` only when their
content changed (a late reading, or a gap that turned out to be short). Late readings
re-fire at once, in their own bundle, when they all fall in the newest point emitted
(a late stream caught up with the present) or the skid last fired
``late_refire_interval_s`` ago or more; otherwise a processing-time timer fires over
every late reading come by then, once none has come for ``late_refire_quiet_s`` (the
burst is over) or the interval is up, whichever is first. A reading for a point
already past ``T - allowed_lateness`` is a dead letter ``TOO_LATE``.
Duplicates of ``(source_ts, seq)`` are dropped when the state is read and counted
once each.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.coders import BytesCoder, PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam.batches import ReadingBatch, RowBatch
from beam.dofn_pickling import PickledAsArgumentsDoFn
from beam.dofn_signatures import SignatureCachedDoFn
from beam.warehouse_buffer import BundleRows
from schemas.dead_letter import DeadLetter, DeadLetterStage
from schemas.energy import EnergyRow
from schemas.site_config import SiteConfig, SpineConfig
from schemas.spine import SpinePoint
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from twin._arrays import FloatArray
from twin.spine import (
    QUALITY_NAMES,
    IntArray,
    ReadingColumns,
    SpineBlock,
    compute_spine,
    dedupe_mask,
    grid_index,
    labels_at,
    row_fingerprint,
    to_spine_point,
)
from twin.spine_energy import energy_rows
from warehouse.table_schemas import ARROW_TIMESTAMP, arrow_schema

__all__ = [
    "TAG_DUPLICATES",
    "TAG_ENERGY",
    "TAG_TOO_LATE",
    "DuplicateReading",
    "ReadingsBySkid",
    "SpineChunkFn",
    "SpineFn",
    "TimeSpine",
    "spine_rows",
]

TAG_TOO_LATE = "too_late"
TAG_DUPLICATES = "duplicates"
TAG_ENERGY = "energy"

_NAMESPACE = "spine"

_FIXED = np.dtype([("ts_s", "<f8"), ("seq", "<i8"), ("values", "<f8", (len(NUMERIC_SIGNALS),))])
"""A reading as kept in state: this fixed part, then ``product<US>batch`` in UTF-8.

One ``bytes`` per reading, not a tuple of floats: the runner's state cache measures
the deep size of what it holds, and thousands of small objects made that the
bottleneck of the backfill."""
_NONE = "\x00"
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class DuplicateReading:
    """A repeated ``(skid_id, source_ts, seq)`` that was dropped (counted, not stored)."""

    skid_id: str
    source_ts: datetime
    seq: int


@dataclass
class _Progress:
    """Small per-skid state read on every element (revisions live apart: timer only)."""

    emitted_through: int | None = None
    last_fire_s: float | None = None
    timer_at_s: float | None = None
    changed_from_s: float | None = None
    """The earliest reading added since the last firing (None: none added)."""
    fired_wall_s: float | None = None
    """Processing time of the last firing (epoch seconds)."""


_FIXED_STRUCT = struct.Struct(f"<dq{len(NUMERIC_SIGNALS)}d")
"""``_FIXED`` as a struct (same little-endian, unpadded layout), to pack without numpy."""


def _pack(reading: TelemetryReading) -> bytes:
    fixed = _FIXED_STRUCT.pack(
        reading.source_ts.timestamp(),
        reading.seq,
        *(math.nan if (v := getattr(reading, s)) is None else float(v) for s in NUMERIC_SIGNALS),
    )
    labels = _SEPARATOR.join(
        _NONE if x is None else x for x in (reading.product_code, reading.batch_id)
    )
    return fixed + labels.encode()


def _unpack(rows: list[bytes]) -> ReadingColumns:
    size = _FIXED.itemsize
    fixed = np.frombuffer(b"".join(r[:size] for r in rows), dtype=_FIXED)
    # Each row's labels are two fields split by _SEPARATOR: split them all at once
    # (a firing unpacks the whole state, up to hours of readings).
    fields = _SEPARATOR.encode().join(r[size:] for r in rows).decode().split(_SEPARATOR)
    return ReadingColumns(
        ts_s=fixed["ts_s"].astype(float),
        seq=fixed["seq"].astype(np.int64),
        values=fixed["values"].astype(float).reshape(len(rows), len(NUMERIC_SIGNALS)),
        product_code=tuple(None if x == _NONE else x for x in fields[0::2]),
        batch_id=tuple(None if x == _NONE else x for x in fields[1::2]),
    )


def _gap_limits_s(spine: SpineConfig) -> FloatArray:
    """Gap-fill limit of every signal, seconds, in :data:`NUMERIC_SIGNALS` order."""
    return np.array([spine.gap_limit_s(s) for s in NUMERIC_SIGNALS], dtype=float)


def _context_s(spine: SpineConfig) -> float:
    """How far back a point's gap fill and silent-skid rows look for readings."""
    return max(float(_gap_limits_s(spine).max()), float(spine.silent_skid_max_s))


def _duplicate_readings(
    skid_id: str, cols: ReadingColumns, repeated: npt.NDArray[np.bool_]
) -> Iterator[TaggedOutput]:
    """The ``repeated`` rows of ``cols`` on the ``duplicates`` output."""
    for i in np.flatnonzero(repeated):
        yield TaggedOutput(
            TAG_DUPLICATES,
            DuplicateReading(
                skid_id, datetime.fromtimestamp(float(cols.ts_s[i]), tz=UTC), int(cols.seq[i])
            ),
        )


def _digest(fingerprint: tuple[object, ...]) -> bytes:
    """A stable digest (Python's ``hash`` of str differs between worker processes)."""
    return hashlib.blake2b(repr(fingerprint).encode(), digest_size=12).digest()


class ReadingsBySkid:
    """A bundle's readings gathered per skid and window, in arrival order: what
    :class:`SpineFn` takes, ``(skid_id, readings)``, one element per skid per bundle.

    So a bundle's readings reach the spine's state together, as they did one by one
    before its timer fired, and the spine can do that firing's work at once when the
    watermark is known to be past (see :meth:`SpineFn.process`)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, Any], list[TelemetryReading]] = {}

    def add(self, reading: TelemetryReading, window: Any) -> None:
        self._groups.setdefault((reading.skid_id, window), []).append(reading)

    def drain(self) -> Iterator[WindowedValue]:
        """Every group, at its earliest reading's time; then the buffer is empty."""
        groups, self._groups = self._groups, {}
        for (skid_id, window), readings in groups.items():
            earliest = min(r.source_ts for r in readings)
            yield WindowedValue(
                (skid_id, readings), Timestamp.from_utc_datetime(earliest), [window]
            )


class _GroupBySkidFn(SignatureCachedDoFn):
    """Readings -> ``(skid_id, readings)`` per skid per bundle (:class:`ReadingsBySkid`)."""

    def __init__(self) -> None:
        self._groups = ReadingsBySkid()

    def start_bundle(self) -> None:
        self._groups = ReadingsBySkid()

    def process(
        self, reading: TelemetryReading, window: Any = beam.DoFn.WindowParam
    ) -> Iterator[Any]:
        self._groups.add(reading, window)
        return iter(())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        return self._groups.drain()


_READINGS_SPEC = BagStateSpec("readings", BytesCoder())
_PROGRESS_SPEC = ReadModifyWriteStateSpec("progress", PickleCoder())
_REVISIONS_SPEC = ReadModifyWriteStateSpec("revisions", PickleCoder())
_EMIT_SPEC = TimerSpec("emit", TimeDomain.WATERMARK)
_REFIRE_SPEC = TimerSpec("refire", TimeDomain.REAL_TIME)
_READINGS = beam.DoFn.StateParam(_READINGS_SPEC)
_PROGRESS = beam.DoFn.StateParam(_PROGRESS_SPEC)
_REVISIONS = beam.DoFn.StateParam(_REVISIONS_SPEC)
_EMIT = beam.DoFn.TimerParam(_EMIT_SPEC)
_REFIRE = beam.DoFn.TimerParam(_REFIRE_SPEC)


class SpineFn(PickledAsArgumentsDoFn):
    """Keyed by skid: readings in, spine rows out (see the module docstring).

    Given a site config, the same firing also computes the energy rows of the spine
    rows it emits (output ``energy``; :func:`twin.spine_energy.energy_rows`, the same
    figures :class:`~beam.energy.EnergyRows` gives the backfill), and given a local
    warehouse's URL it writes every row it makes there itself, spine, energy and
    too-late dead letters (:class:`~beam.warehouse_buffer.BundleRows`). On the local
    runner every stage costs a bundle per firing, empty or not, so the streaming
    job's spine, energy and sink are one stage here rather than three.
    """

    def __init__(
        self,
        spine: SpineConfig,
        energy_config: SiteConfig | None = None,
        warehouse_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._interval_s = spine.interval_s
        self._refire_interval_s = spine.late_refire_interval_s
        self._refire_quiet_s = spine.late_refire_quiet_s
        self._clock = clock
        self._lateness_s = float(spine.allowed_lateness_s)
        self._silent_max_s = float(spine.silent_skid_max_s)
        self._gap_limits_s = _gap_limits_s(spine)
        self._max_gap_limit_s = float(self._gap_limits_s.max())
        self._context_s = _context_s(spine)
        self._too_late = Metrics.counter(_NAMESPACE, "too_late")
        self._duplicates = Metrics.counter(_NAMESPACE, "duplicates")
        self._rows = Metrics.counter(_NAMESPACE, "rows")
        self._revisions = Metrics.counter(_NAMESPACE, "revisions")
        self._energy_config = energy_config
        self._energy_rows = Metrics.counter("energy", "rows")
        self._warehouse = BundleRows(warehouse_url) if warehouse_url else None

    def finish_bundle(self) -> None:
        if self._warehouse is not None:
            self._warehouse.hand_over()

    def process(
        self,
        element: tuple[str, list[TelemetryReading]],
        readings: Any = _READINGS,
        progress_state: Any = _PROGRESS,
        revisions_state: Any = _REVISIONS,
        timer: Any = _EMIT,
        refire_timer: Any = _REFIRE,
    ) -> Iterator[Any]:
        skid_id, group = element
        progress: _Progress = progress_state.read() or _Progress()
        due_s = progress.timer_at_s
        for reading in group:
            ts_s = reading.source_ts.timestamp()
            grid = math.floor(ts_s / self._interval_s)
            point_end_s = float((grid + 1) * self._interval_s)
            if (
                progress.last_fire_s is not None
                and point_end_s + self._lateness_s <= progress.last_fire_s
            ):
                self._too_late.inc()
                letter = self._too_late_letter(skid_id, reading, progress.last_fire_s)
                yield TaggedOutput(TAG_TOO_LATE, letter)
                if self._warehouse is not None:
                    self._warehouse.add(letter)
                continue
            readings.add(_pack(reading))
            if progress.changed_from_s is None or ts_s < progress.changed_from_s:
                progress.changed_from_s = ts_s
            if due_s is None or point_end_s < due_s:
                due_s = point_end_s
        if due_s is not None and due_s != progress.timer_at_s:
            if progress.last_fire_s is not None and due_s <= progress.last_fire_s:
                # Late readings: the watermark is past due_s already (a timer fired at
                # last_fire_s), so a timer set now would fire right after this bundle,
                # at last_fire_s. Fire here instead, over the same state (the local
                # runner would run the firing as a bundle of its own), unless the last
                # firing is less than late_refire_interval_s old: then by a
                # processing-time timer, over whatever late readings came by then,
                # when none has come for late_refire_quiet_s or the interval is up
                # (each late bundle sets the timer again, replacing the one before).
                now_s = self._clock()
                fired_s = progress.fired_wall_s
                if (
                    fired_s is None
                    or now_s >= fired_s + self._refire_interval_s
                    or self._in_newest_point(progress, due_s)
                ):
                    yield from self._fire_late(skid_id, readings, progress, revisions_state, timer)
                else:
                    due_wall_s = min(
                        fired_s + self._refire_interval_s, now_s + self._refire_quiet_s
                    )
                    refire_timer.set(Timestamp(due_wall_s))
            else:
                timer.set(Timestamp(due_s))
                progress.timer_at_s = due_s
        progress_state.write(progress)

    def _in_newest_point(self, progress: _Progress, due_s: float) -> bool:
        """Whether this bundle's late readings (the earliest closes its point at
        ``due_s``) all fall in the newest point emitted: a late stream has caught up
        with the present (the last minute of a drained backlog or of a gateway's flush).
        They re-fire at once, taking in any held back before them: that point is the
        one people look at, and no carried-forward rows lie ahead of it to be
        rewritten, the cost the re-firing interval holds back."""
        return (
            progress.emitted_through is not None
            and due_s >= (progress.emitted_through + 1) * self._interval_s
        )

    def _too_late_letter(
        self, skid_id: str, reading: TelemetryReading, fired_s: float
    ) -> DeadLetter:
        spine_at = datetime.fromtimestamp(fired_s, tz=UTC).isoformat()
        return DeadLetter(
            received_ts=datetime.now(UTC),
            stage=DeadLetterStage.TOO_LATE,
            error=(
                f"reading at {reading.source_ts.isoformat()} arrived after its spine point was "
                f"final: the spine had reached {spine_at} and the allowed lateness is "
                f"{self._lateness_s:g} s"
            ),
            raw_payload=reading.model_dump_json().encode(),
            skid_id=skid_id,
        )

    @on_timer(_EMIT_SPEC)
    def emit(
        self,
        key: str = beam.DoFn.KeyParam,
        fired_at: Timestamp = beam.DoFn.TimestampParam,
        readings: Any = _READINGS,
        progress_state: Any = _PROGRESS,
        revisions_state: Any = _REVISIONS,
        timer: Any = _EMIT,
    ) -> Iterator[Any]:
        progress: _Progress = progress_state.read() or _Progress()
        fired_s = fired_at.micros / 1e6
        if progress.last_fire_s is not None:
            fired_s = max(fired_s, progress.last_fire_s)
        progress.timer_at_s = None
        yield from self._fire(key, fired_s, readings, progress, revisions_state, timer)
        progress_state.write(progress)

    @on_timer(_REFIRE_SPEC)
    def refire(
        self,
        key: str = beam.DoFn.KeyParam,
        readings: Any = _READINGS,
        progress_state: Any = _PROGRESS,
        revisions_state: Any = _REVISIONS,
        timer: Any = _EMIT,
    ) -> Iterator[Any]:
        """Late readings held back (see :meth:`process`): the firing they would have
        had, at the last firing's watermark; nothing when a firing since has taken
        them in."""
        progress: _Progress = progress_state.read() or _Progress()
        if progress.changed_from_s is not None and progress.last_fire_s is not None:
            yield from self._fire_late(key, readings, progress, revisions_state, timer)
        progress_state.write(progress)

    def _fire_late(
        self, key: str, readings: Any, progress: _Progress, revisions_state: Any, timer: Any
    ) -> Iterator[Any]:
        """A firing over late readings, at the last firing's watermark; the watermark
        timer is cleared when that firing set none (one set before is superseded)."""
        assert progress.last_fire_s is not None
        yield from self._fire(key, progress.last_fire_s, readings, progress, revisions_state, timer)
        if progress.timer_at_s is None:
            timer.clear()

    def _fire(
        self,
        key: str,
        fired_s: float,
        readings: Any,
        progress: _Progress,
        revisions_state: Any,
        timer: Any,
    ) -> Iterator[Any]:
        """What a firing at ``fired_s`` emits: every point up to it or before the newest
        reading's, unless emitted unchanged before; updates ``progress`` (the next
        timer in ``timer_at_s``, None when none is set)."""
        rows: list[bytes] = list(readings.read())
        progress.timer_at_s = None
        progress.fired_wall_s = self._clock()
        if not rows:
            return
        cols = _unpack(rows)
        keep = dedupe_mask(cols.ts_s, cols.seq)
        self._duplicates.inc(int((~keep).sum()))
        yield from _duplicate_readings(key, cols, ~keep)
        cols = cols.take(keep)
        interval = self._interval_s
        newest_s = float(cols.ts_s.max())
        horizon = max(math.floor(fired_s / interval) - 1, math.floor(newest_s / interval) - 1)
        if progress.emitted_through is not None:
            horizon = max(horizon, progress.emitted_through)
        first_revisable = math.floor((fired_s - self._lateness_s) / interval)
        start = math.floor(float(cols.ts_s.min()) / interval)
        if progress.emitted_through is not None:
            # Only new points and those a reading added since the last firing can
            # reach (its own, and back over a gap it may close) can have changed.
            changed = progress.emitted_through + 1
            if progress.changed_from_s is not None:
                reach_s = progress.changed_from_s - self._max_gap_limit_s
                changed = min(changed, math.floor(reach_s / interval))
            start = max(start, first_revisable, changed)
        progress.changed_from_s = None
        revisions: dict[int, tuple[int, bytes]] = revisions_state.read() or {}
        if start <= horizon:
            yield from self._outputs(self._emit_block(key, cols, start, horizon, revisions))
        progress.emitted_through = horizon
        progress.last_fire_s = fired_s

        # Forget what can no longer change; keep enough before it for gap fill.
        revisions = {g: r for g, r in revisions.items() if g >= first_revisable}
        revisions_state.write(revisions)
        keep_from_s = first_revisable * interval - self._context_s
        retained = cols.ts_s >= keep_from_s
        if not keep.all() or not retained.all():
            readings.clear()
            for i in np.flatnonzero(keep)[retained]:
                readings.add(rows[i])

        # Keep ticking while the skid is silent, for at most silent_max_s.
        next_point = horizon + 1
        if newest_s >= next_point * interval - self._silent_max_s:
            next_at_s = float((next_point + 1) * interval)
            timer.set(Timestamp(next_at_s))
            progress.timer_at_s = next_at_s

    def _outputs(self, points: list[SpinePoint]) -> Iterator[Any]:
        """Spine rows (main); with a site config also their energy rows; with a
        warehouse, both written there."""
        yield from points
        energy: list[EnergyRow] = []
        if self._energy_config is not None and points:
            energy = energy_rows(points, self._energy_config)
            self._energy_rows.inc(len(energy))
            for row in energy:
                yield TaggedOutput(TAG_ENERGY, row)
        if self._warehouse is not None:
            for record in (*points, *energy):
                self._warehouse.add(record)

    def _emit_block(
        self,
        skid_id: str,
        cols: ReadingColumns,
        start: int,
        horizon: int,
        revisions: dict[int, tuple[int, bytes]],
    ) -> list[SpinePoint]:
        block = compute_spine(
            cols, start, horizon, self._interval_s, self._gap_limits_s, self._silent_max_s
        )
        now = datetime.now(UTC)
        points = []
        for i in np.flatnonzero(block.emit):
            grid = start + int(i)
            digest = _digest(row_fingerprint(block, int(i)))
            previous = revisions.get(grid)
            if previous is None:
                revision = 0
            elif previous[1] != digest:
                revision = previous[0] + 1
                self._revisions.inc()
            else:
                continue
            revisions[grid] = (revision, digest)
            self._rows.inc()
            points.append(to_spine_point(block, int(i), skid_id, revision, now))
        return points


_CHUNK_S = 86_400
"""Batch grid chunk: about a day of points per group, so memory stays bounded."""


@dataclass(frozen=True)
class _ChunkPiece:
    """Some readings of one skid for one chunk; ``primary`` marks those that fall in
    the chunk itself (the rest are context for its gap fill and silent-skid rows)."""

    readings: ReadingColumns
    primary: npt.NDArray[np.bool_]


class _ChunkKeysFn(SignatureCachedDoFn):
    """A batch of readings -> ``((skid, chunk), piece)`` for every chunk holding some
    of them and every neighbouring chunk whose gap fill or silent-skid rows need them."""

    def __init__(self, points_per_chunk: int, interval_s: int, context_s: float) -> None:
        self._points = points_per_chunk
        self._span_s = float(points_per_chunk * interval_s)
        self._interval_s = interval_s
        self._context_s = context_s

    def process(self, batch: ReadingBatch) -> Iterator[tuple[tuple[str, int], _ChunkPiece]]:
        skid_ids = dict.fromkeys(batch.skid_id)
        skids = np.array(batch.skid_id, dtype=object) if len(skid_ids) > 1 else None
        for skid_id in skid_ids:
            cols = batch.columns if skids is None else batch.columns.take(skids == skid_id)
            own = grid_index(cols.ts_s, self._interval_s) // self._points
            first = np.floor((cols.ts_s - self._context_s) / self._span_s).astype(np.int64)
            last = np.floor((cols.ts_s + self._context_s) / self._span_s).astype(np.int64)
            for chunk in range(int(first.min()), int(last.max()) + 1):
                inside = (first <= chunk) & (last >= chunk)
                if inside.any():
                    yield (skid_id, chunk), _ChunkPiece(cols.take(inside), own[inside] == chunk)


def _concat(pieces: list[_ChunkPiece]) -> _ChunkPiece:
    return _ChunkPiece(
        ReadingColumns.concat([p.readings for p in pieces]),
        np.concatenate([p.primary for p in pieces]),
    )


_QUALITY_NAMES = pa.array(QUALITY_NAMES, pa.string())


def _masked(values: FloatArray) -> pa.Array:
    """Floats with NaN as null (``to_spine_point`` makes NaN ``None``)."""
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def spine_rows(
    block: SpineBlock, rows: IntArray, skid_id: str, revision: int, emitted_ts: datetime
) -> RowBatch:
    """Points ``rows`` of a block as ``spine_points`` columns: column for column what
    :func:`twin.spine.to_spine_point` makes of each, without a model per row."""
    n = int(rows.shape[0])
    schema = arrow_schema("spine_points")
    grid_us = (block.first_index + rows).astype(np.int64) * block.interval_s * 1_000_000
    columns: dict[str, pa.Array] = {
        "skid_id": pa.repeat(pa.scalar(skid_id, pa.string()), n),
        "grid_ts": pa.array(grid_us, ARROW_TIMESTAMP),
        "interval_s": pa.array(np.full(n, block.interval_s, dtype=np.int64)),
        "revision": pa.array(np.full(n, revision, dtype=np.int64)),
        "emitted_ts": pa.repeat(pa.scalar(emitted_ts, ARROW_TIMESTAMP), n),
        "product_code": pa.array(labels_at(block.product_code, rows), pa.string()),
        "batch_id": pa.array(labels_at(block.batch_id, rows), pa.string()),
        "reading_count": pa.array(block.reading_count[rows].astype(np.int64)),
    }
    for j, signal in enumerate(NUMERIC_SIGNALS):
        stats = {
            "mean": _masked(block.mean[rows, j]),
            "min": _masked(block.min[rows, j]),
            "max": _masked(block.max[rows, j]),
            "last": _masked(block.last[rows, j]),
            "count": pa.array(block.count[rows, j].astype(np.int64)),
            # Names by an Arrow take (a Python string per cell cost more).
            "quality": _QUALITY_NAMES.take(pa.array(block.quality[rows, j])),
        }
        kind = schema.field(signal).type
        columns[signal] = pa.StructArray.from_arrays(
            [stats[f.name] for f in kind], fields=list(kind)
        )
    return RowBatch(
        "spine_points", pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    )


class SpineChunkFn(SignatureCachedDoFn):
    """Batch: every reading of one skid's chunk (plus context) -> its spine rows, as
    one :class:`RowBatch`.

    The same :func:`twin.spine.compute_spine` as :class:`SpineFn`, over the whole
    chunk at once: with all input known, every row is final (revision 0), nothing is
    too late, and ``compute_spine``'s ``emit`` bounds a silent skid's MISSING rows.
    Duplicates are counted among the chunk's own readings only, so once each.
    """

    def __init__(self, spine: SpineConfig, points_per_chunk: int) -> None:
        self._interval_s = spine.interval_s
        self._silent_max_s = float(spine.silent_skid_max_s)
        self._gap_limits_s = _gap_limits_s(spine)
        self._points = points_per_chunk
        self._duplicates = Metrics.counter(_NAMESPACE, "duplicates")
        self._rows = Metrics.counter(_NAMESPACE, "rows")

    def process(self, element: tuple[tuple[str, int], Any]) -> Iterator[Any]:
        (skid_id, chunk), pieces = element
        merged = _concat(list(pieces))
        cols = merged.readings
        keep = dedupe_mask(cols.ts_s, cols.seq)
        repeated = ~keep & merged.primary
        self._duplicates.inc(int(repeated.sum()))
        yield from _duplicate_readings(skid_id, cols, repeated)
        first = chunk * self._points
        block = compute_spine(
            cols if keep.all() else cols.take(keep),
            first,
            first + self._points - 1,
            self._interval_s,
            self._gap_limits_s,
            self._silent_max_s,
        )
        emitted = np.flatnonzero(block.emit)
        self._rows.inc(len(emitted))
        if len(emitted):
            yield spine_rows(block, emitted, skid_id, 0, datetime.now(UTC))


class TimeSpine(beam.PTransform):  # type: ignore[misc]
    """Readings -> spine rows per skid; also the too-late readings and the duplicates.

    Unbounded input (streaming) goes through :class:`SpineFn`, stateful with event-time
    timers, fed ``(skid_id, readings)`` per skid and bundle (:class:`ReadingsBySkid`);
    ``keyed_by_skid`` says the readings already come so (as
    :class:`~beam.readings.ParsedReadings` can emit them, saving a stage),
    ``energy_config`` makes the same DoFn compute the energy rows too (output
    ``energy``), and ``warehouse_url`` makes it write its rows to that local warehouse (see
    :class:`SpineFn`). Bounded input (the backfill) is
    complete before the spine starts, so its batches are split per skid and day-sized
    chunk, grouped, and each chunk computed at once by :class:`SpineChunkFn`: the same
    ``twin.spine`` functions and the same rows, without a timer firing per grid point
    or a model per row.
    """

    def __init__(
        self,
        spine: SpineConfig,
        *,
        keyed_by_skid: bool = False,
        energy_config: SiteConfig | None = None,
        warehouse_url: str | None = None,
    ) -> None:
        super().__init__()
        self._spine = spine
        self._keyed_by_skid = keyed_by_skid
        self._energy_config = energy_config
        self._warehouse_url = warehouse_url

    def expand(self, readings: beam.PCollection[TelemetryReading]) -> dict[str, beam.PCollection]:
        """``{"spine": SpinePoint, "too_late": DeadLetter, "duplicates": DuplicateReading}``
        (bounded: readings come as ``ReadingBatch``, spine rows go out as
        ``RowBatch`` of ``spine_points``); streaming with ``energy_config`` also
        ``{"energy": EnergyRow}``."""
        if readings.is_bounded:
            return self._batch(readings)
        if not self._keyed_by_skid:
            readings = readings | "KeyBySkid" >> beam.ParDo(_GroupBySkidFn()).with_output_types(
                tuple[str, list[TelemetryReading]]
            )
        tags = (TAG_TOO_LATE, TAG_DUPLICATES)
        if self._energy_config is not None:
            tags += (TAG_ENERGY,)
        outputs = readings | "Spine" >> beam.ParDo(
            SpineFn(self._spine, self._energy_config, self._warehouse_url)
        ).with_outputs(*tags, main="spine")
        return {"spine": outputs.spine} | {tag: outputs[tag] for tag in tags}

    def _batch(self, readings: beam.PCollection[TelemetryReading]) -> dict[str, beam.PCollection]:
        spine = self._spine
        points = math.ceil(_CHUNK_S / spine.interval_s)
        outputs = (
            readings
            | "KeyBySkidChunk"
            >> beam.ParDo(_ChunkKeysFn(points, spine.interval_s, _context_s(spine)))
            | "GroupChunks" >> beam.GroupByKey()
            | "SpineChunks"
            >> beam.ParDo(SpineChunkFn(spine, points))
            .with_output_types(RowBatch)
            .with_outputs(TAG_DUPLICATES, TAG_TOO_LATE, main="spine")
        )
        return {
            "spine": outputs.spine,
            "too_late": outputs[TAG_TOO_LATE],  # never emitted: nothing is late in batch
            "duplicates": outputs[TAG_DUPLICATES],
        }
