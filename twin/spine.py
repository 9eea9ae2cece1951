"""The time spine of one skid, computed over columnar readings with numpy.

This is the whole of the spine logic, shared by the streaming job and the backfill
(the Beam DoFn only keeps readings in state and decides *when* to call it):

* readings are de-duplicated on ``(source_ts, seq)``, first arrival kept;
* every grid point ``[g * interval_s, (g + 1) * interval_s)`` with at least one real
  reading of a signal gets its mean/min/max/last/count and quality ``GOOD``;
* a point with no reading of a signal is filled from its neighbours only while the
  gap stays within that signal's limit: ``INTERPOLATED`` (linear, at the interval
  midpoint) when the readings on both sides are at most the limit apart,
  ``CARRIED_FORWARD`` (last value held) while the end of the interval is at most the
  limit after the last reading, otherwise ``MISSING`` with no value: never invented;
* discrete signals (pump counts, on/off states) are never interpolated, only held;
* a grid point exists at all only while the skid has reported within
  ``silent_max_s`` before it, so a silent skid gets ``MISSING`` rows for a bounded time.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from schemas.spine import Quality, SignalStats, SpinePoint
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from twin._arrays import FloatArray

__all__ = [
    "DISCRETE_SIGNALS",
    "QUALITY_CARRIED_FORWARD",
    "QUALITY_GOOD",
    "QUALITY_INTERPOLATED",
    "QUALITY_MISSING",
    "QUALITY_NAMES",
    "ReadingColumns",
    "SpineBlock",
    "columns_from_readings",
    "compute_spine",
    "dedupe_mask",
    "grid_index",
    "labels_at",
    "row_fingerprint",
    "to_spine_point",
]

IntArray = npt.NDArray[np.int64]

QUALITY_GOOD = 0
QUALITY_INTERPOLATED = 1
QUALITY_CARRIED_FORWARD = 2
QUALITY_MISSING = 3
QUALITY_NAMES: tuple[str, ...] = ("GOOD", "INTERPOLATED", "CARRIED_FORWARD", "MISSING")
"""Quality codes by their integer value (the names of ``schemas.spine.Quality``)."""

_QUALITIES: tuple[Quality, ...] = tuple(Quality(name) for name in QUALITY_NAMES)
"""The enum members by code, built once (constructing them per value was measurable)."""

DISCRETE_SIGNALS: frozenset[str] = frozenset({"pumps_running", "injection_pump_running"})
"""Signals whose in-between value means nothing (1.5 pumps): held, never interpolated."""


@dataclass(frozen=True)
class ReadingColumns:
    """Readings of one skid as columns; ``values`` is ``(n, len(NUMERIC_SIGNALS))``
    with NaN where a signal was null."""

    ts_s: FloatArray
    seq: IntArray
    values: FloatArray
    product_code: tuple[str | None, ...]
    batch_id: tuple[str | None, ...]

    def __len__(self) -> int:
        return int(self.ts_s.shape[0])

    @classmethod
    def concat(cls, parts: Sequence[ReadingColumns]) -> ReadingColumns:
        """The readings of ``parts``, one after another."""
        return cls(
            ts_s=np.concatenate([p.ts_s for p in parts]),
            seq=np.concatenate([p.seq for p in parts]),
            values=np.concatenate([p.values for p in parts]),
            product_code=tuple(itertools.chain.from_iterable(p.product_code for p in parts)),
            batch_id=tuple(itertools.chain.from_iterable(p.batch_id for p in parts)),
        )

    def take(self, index: IntArray | npt.NDArray[np.bool_]) -> ReadingColumns:
        """The readings at ``index`` (integer positions or a boolean mask)."""
        positions: IntArray = (
            np.flatnonzero(index) if index.dtype == np.bool_ else index.astype(np.int64, copy=False)
        )
        return ReadingColumns(
            ts_s=self.ts_s[positions],
            seq=self.seq[positions],
            values=self.values[positions],
            product_code=labels_at(self.product_code, positions),
            batch_id=labels_at(self.batch_id, positions),
        )


def labels_at(labels: Sequence[str | None], positions: IntArray) -> tuple[str | None, ...]:
    """``labels[i]`` for every ``i`` in ``positions``, picked in C by one
    ``operator.itemgetter`` (a generator over the positions cost more than taking the
    numeric columns; the backfill takes day-sized pieces of 10,000-reading batches)."""
    n = int(positions.shape[0])
    if n == 0:
        return ()
    picked = operator.itemgetter(*positions.tolist())(labels)
    return picked if n > 1 else (picked,)


@dataclass(frozen=True)
class SpineBlock:
    """Spine rows for consecutive grid points ``first_index .. first_index + n - 1``.

    Per-signal arrays are ``(n_points, n_signals)``; ``emit`` marks the points that
    exist (the skid reported within ``silent_max_s`` before them).
    """

    first_index: int
    interval_s: int
    mean: FloatArray
    min: FloatArray
    max: FloatArray
    last: FloatArray
    count: IntArray
    quality: IntArray
    reading_count: IntArray
    product_code: tuple[str | None, ...]
    batch_id: tuple[str | None, ...]
    emit: npt.NDArray[np.bool_]

    def grid_start_s(self, i: int) -> int:
        """Start of the ``i``-th point of the block, epoch seconds."""
        return (self.first_index + i) * self.interval_s


def grid_index(ts_s: FloatArray | float, interval_s: int) -> IntArray:
    """Grid point holding each timestamp (``floor(ts / interval)``)."""
    return np.floor(np.asarray(ts_s, dtype=float) / interval_s).astype(np.int64)


def dedupe_mask(ts_s: FloatArray, seq: IntArray) -> npt.NDArray[np.bool_]:
    """True for the first arrival of each ``(source_ts, seq)``; later copies are False.

    A stable lexsort of the two integer keys groups the copies with the earliest
    arrival first; ``np.unique(axis=0)`` did the same through a slower row sort.
    """
    ts_us = np.round(ts_s * 1e6).astype(np.int64)
    seq64 = seq.astype(np.int64)
    order = np.lexsort((seq64, ts_us))
    sorted_ts = ts_us[order]
    sorted_seq = seq64[order]
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = (sorted_ts[1:] != sorted_ts[:-1]) | (sorted_seq[1:] != sorted_seq[:-1])
    keep = np.zeros(ts_s.shape[0], dtype=bool)
    keep[order[first]] = True
    return keep


_DISCRETE = np.array([signal in DISCRETE_SIGNALS for signal in NUMERIC_SIGNALS])
"""Per signal of ``NUMERIC_SIGNALS``, whether it is discrete (held, never interpolated)."""

_SIGNAL_INDEX = np.arange(len(NUMERIC_SIGNALS), dtype=np.int64)


def compute_spine(
    readings: ReadingColumns,
    first_index: int,
    last_index: int,
    interval_s: int,
    gap_limit_s: FloatArray,
    silent_max_s: float,
) -> SpineBlock:
    """Spine rows for grid points ``first_index ..= last_index`` from ``readings``.

    ``readings`` must be free of duplicates (see :func:`dedupe_mask`) and should hold
    every reading of those points plus enough before them for gap fill
    (``max(gap_limit_s, silent_max_s)``) and after them for interpolation.
    ``gap_limit_s`` gives one limit per signal of ``NUMERIC_SIGNALS``.

    Every signal is computed at once over the ``(points, signals)`` cells: the
    streaming job calls this at every firing, where a loop of numpy calls per signal
    cost more than the arithmetic. Each cell's sum, min, max and last still take its
    readings one at a time in time order, so every figure is bit-for-bit what a
    per-signal loop gives.
    """
    n_points = max(last_index - first_index + 1, 0)
    n_signals = len(NUMERIC_SIGNALS)
    n_cells = n_points * n_signals
    order: IntArray | None = None
    ts = readings.ts_s
    values = readings.values
    if not bool((ts[1:] >= ts[:-1]).all()):  # in time order, a stable sort changes nothing
        order = np.argsort(ts, kind="stable")
        ts = ts[order]
        values = values[order]
    gi = grid_index(ts, interval_s) - first_index
    inside = (gi >= 0) & (gi < n_points)
    edges = (first_index + np.arange(n_points + 1, dtype=np.int64)) * interval_s
    starts = edges[:-1]

    # One flat cell per (point, signal), point * n_signals + signal; null values and
    # readings outside the block go to one extra cell, dropped after. Taken in
    # (reading, signal) order, each cell sees its readings in time order.
    valid = ~np.isnan(values)
    cell = np.where(
        valid & inside[:, None], gi[:, None] * n_signals + _SIGNAL_INDEX, n_cells
    ).ravel()
    flat_values = values.ravel()
    shape = (n_points, n_signals)
    count = np.bincount(cell, minlength=n_cells + 1)[:n_cells].reshape(shape)
    total = np.bincount(cell, weights=flat_values, minlength=n_cells + 1)[:n_cells]
    good = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(good, total.reshape(shape) / np.maximum(count, 1), np.nan)
    lo = np.full(n_cells + 1, np.inf)
    hi = np.full(n_cells + 1, -np.inf)
    with np.errstate(invalid="ignore"):  # the nulls, in the dropped cell
        np.minimum.at(lo, cell, flat_values)
        np.maximum.at(hi, cell, flat_values)
    vmin = np.where(good, lo[:n_cells].reshape(shape), np.nan)
    vmax = np.where(good, hi[:n_cells].reshape(shape), np.nan)
    # Readings are time-sorted, so the last write per cell is its latest.
    latest = np.full(n_cells + 1, np.nan)
    latest[cell] = flat_values
    last = latest[:n_cells].reshape(shape)
    quality = np.where(good, QUALITY_GOOD, QUALITY_MISSING).astype(np.int64)
    # Readings before each grid edge: before each point's start, and before its end.
    before_edge = np.searchsorted(ts, edges.astype(float), side="left")
    # Only a signal with a real reading somewhere can fill a cell without one.
    fillable = ~good & valid.any(axis=0)
    if fillable.any():
        targets = (mean, vmin, vmax, last)
        _gap_fill(
            ts,
            values,
            valid,
            fillable,
            edges,
            before_edge,
            gap_limit_s,
            interval_s,
            targets,
            quality,
        )

    reading_count = np.bincount(gi[inside], minlength=n_points).astype(np.int64)
    # A point exists while the skid reported at most silent_max_s before it.
    prev_any = before_edge[1:] - 1
    prev_any_ts = np.where(prev_any >= 0, ts[np.clip(prev_any, 0, None)], -np.inf)
    emit = prev_any_ts >= starts - silent_max_s
    return SpineBlock(
        first_index=first_index,
        interval_s=interval_s,
        mean=mean,
        min=vmin,
        max=vmax,
        last=last,
        count=count.astype(np.int64, copy=False),
        quality=quality,
        reading_count=reading_count,
        product_code=_last_known(readings.product_code, order, prev_any),
        batch_id=_last_known(readings.batch_id, order, prev_any),
        emit=emit,
    )


def _gap_fill(
    ts: FloatArray,
    values: FloatArray,
    valid: npt.NDArray[np.bool_],
    fillable: npt.NDArray[np.bool_],
    edges: IntArray,
    before_edge: IntArray,
    gap_limit_s: FloatArray,
    interval_s: int,
    targets: tuple[FloatArray, ...],
    quality: IntArray,
) -> None:
    """Fill the ``fillable`` cells (no reading of their own, but of their signal
    elsewhere) of ``targets`` and ``quality`` from the nearest real readings of their
    signal on either side, within each signal's gap limit.

    ``before_edge[k]`` counts the time-sorted readings before grid edge ``k``. Valid
    readings are numbered ``signal * n_readings + row``, sorted by signal then time, so
    one search over those numbers finds, for every empty cell at once, the last valid
    reading of its signal before its start and the first from its end on: the
    readings a search per signal found, only for the cells that need them.
    """
    n_readings, n_signals = values.shape
    known = np.flatnonzero(valid.T)
    empty = np.flatnonzero(fillable)
    point = empty // n_signals
    signal = empty % n_signals
    base = signal * n_readings
    prev_at = np.searchsorted(known, base + before_edge[point], side="left") - 1
    next_at = np.searchsorted(known, base + before_edge[point + 1], side="left")
    prev_key = known[np.clip(prev_at, 0, None)]
    next_key = known[np.clip(next_at, None, known.size - 1)]
    has_prev = (prev_at >= 0) & (prev_key >= base)
    has_next = (next_at < known.size) & (next_key < base + n_readings)
    prev_row = np.clip(prev_key - base, 0, n_readings - 1)
    next_row = np.clip(next_key - base, 0, n_readings - 1)
    prev_ts = np.where(has_prev, ts[prev_row], np.nan)
    next_ts = np.where(has_next, ts[next_row], np.nan)
    prev_val = np.where(has_prev, values[prev_row, signal], np.nan)
    next_val = np.where(has_next, values[next_row, signal], np.nan)
    limit = np.asarray(gap_limit_s, dtype=float)[signal]
    with np.errstate(invalid="ignore"):
        bridged = has_prev & has_next & (next_ts - prev_ts <= limit)
        held = has_prev & (edges[point + 1] - prev_ts <= limit)
    discrete = _DISCRETE[signal]
    held = np.where(discrete, held | bridged, held & ~bridged)
    bridged &= ~discrete
    mids = edges[point] + interval_s / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (mids - prev_ts) / (next_ts - prev_ts)
        interp = prev_val + (next_val - prev_val) * frac
    bridged_cells = (point[bridged], signal[bridged])
    held_cells = (point[held], signal[held])
    for target in targets:
        target[bridged_cells] = interp[bridged]
        target[held_cells] = prev_val[held]
    quality[bridged_cells] = QUALITY_INTERPOLATED
    quality[held_cells] = QUALITY_CARRIED_FORWARD


def _last_known(
    labels: tuple[str | None, ...], order: IntArray | None, upto: IntArray
) -> tuple[str | None, ...]:
    """Per point, the latest non-null label among the time-sorted readings ``0..upto``
    (``labels`` in arrival order, ``order`` sorting them by time, None when they are).

    ``upto`` never decreases along the points, so looking back from each point's last
    reading only as far as the previous point's finds the label in one step when
    readings carry one, and still reads each reading at most once when they do not.
    """
    if order is not None:
        labels = labels_at(labels, order)
    latest: list[str | None] = []
    running: str | None = None
    scanned = -1
    for stop in upto.tolist():
        if stop > scanned:
            i = stop
            while i > scanned and labels[i] is None:
                i -= 1
            if i > scanned:
                running = labels[i]
            scanned = stop
        latest.append(running if stop >= 0 else None)
    return tuple(latest)


def columns_from_readings(readings: list[TelemetryReading]) -> ReadingColumns:
    """Columnar form of validated readings (booleans as 0/1, nulls as NaN: numpy makes
    ``None`` NaN in a float array)."""
    values = np.array([_SIGNAL_VALUES(r) for r in readings], dtype=float)
    return ReadingColumns(
        ts_s=np.array([r.source_ts.timestamp() for r in readings], dtype=float),
        seq=np.array([r.seq for r in readings], dtype=np.int64),
        values=values.reshape(len(readings), len(NUMERIC_SIGNALS)),
        product_code=tuple(r.product_code for r in readings),
        batch_id=tuple(r.batch_id for r in readings),
    )


_SIGNAL_VALUES = operator.attrgetter(*NUMERIC_SIGNALS)


def _row_values(values: FloatArray, i: int) -> list[float | None]:
    """Row ``i`` as Python floats, NaN as None (one ``tolist`` per row: converting
    numpy scalars one at a time was half of :func:`to_spine_point`)."""
    return [None if x != x else x for x in values[i].tolist()]  # only NaN != NaN


def row_fingerprint(block: SpineBlock, i: int) -> tuple[object, ...]:
    """Everything a row says, without revision or emission time: equal fingerprints
    mean re-emitting the row would tell a reader nothing new."""
    # One rounding for the four float rows (elementwise, so the same as four calls).
    mean, low, high, last = np.round(
        np.stack((block.mean[i], block.min[i], block.max[i], block.last[i])), 9
    ).tolist()
    return (
        block.product_code[i],
        block.batch_id[i],
        int(block.reading_count[i]),
        tuple(mean),
        tuple(low),
        tuple(high),
        tuple(last),
        tuple(block.count[i].tolist()),
        tuple(block.quality[i].tolist()),
    )


def to_spine_point(
    block: SpineBlock, i: int, skid_id: str, revision: int, emitted_ts: datetime
) -> SpinePoint:
    """The ``i``-th point of a block as a :class:`SpinePoint` record."""
    # Values come from compute_spine, already typed: construct without re-validating
    # (12 nested records per row were most of the backfill's pydantic time).
    mean = _row_values(block.mean, i)
    low = _row_values(block.min, i)
    high = _row_values(block.max, i)
    last = _row_values(block.last, i)
    count = block.count[i].tolist()
    quality = block.quality[i].tolist()
    stats = {
        signal: SignalStats.model_construct(
            mean=mean[j],
            min=low[j],
            max=high[j],
            last=last[j],
            count=count[j],
            quality=_QUALITIES[quality[j]],
        )
        for j, signal in enumerate(NUMERIC_SIGNALS)
    }
    return SpinePoint(
        skid_id=skid_id,
        grid_ts=datetime.fromtimestamp(block.grid_start_s(i), tz=UTC),
        interval_s=block.interval_s,
        revision=revision,
        emitted_ts=emitted_ts,
        product_code=block.product_code[i],
        batch_id=block.batch_id[i],
        reading_count=int(block.reading_count[i]),
        **stats,
    )
