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
            product_code=tuple(x for p in parts for x in p.product_code),
            batch_id=tuple(x for p in parts for x in p.batch_id),
        )

    def take(self, index: IntArray | npt.NDArray[np.bool_]) -> ReadingColumns:
        """The readings at ``index`` (integer positions or a boolean mask)."""
        positions = np.flatnonzero(index) if index.dtype == np.bool_ else index
        return ReadingColumns(
            ts_s=self.ts_s[positions],
            seq=self.seq[positions],
            values=self.values[positions],
            product_code=tuple(self.product_code[i] for i in positions),
            batch_id=tuple(self.batch_id[i] for i in positions),
        )


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
    """True for the first arrival of each ``(source_ts, seq)``; later copies are False."""
    keys = np.stack([np.round(ts_s * 1e6).astype(np.int64), seq.astype(np.int64)], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.zeros(ts_s.shape[0], dtype=bool)
    keep[first] = True
    return keep


def _previous_index(sorted_ts: FloatArray, at_s: FloatArray) -> IntArray:
    """Index of the last timestamp ``< at_s`` in ``sorted_ts`` (-1 when none)."""
    return np.searchsorted(sorted_ts, at_s, side="left").astype(np.int64) - 1


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
    """
    n_points = max(last_index - first_index + 1, 0)
    n_signals = len(NUMERIC_SIGNALS)
    order = np.argsort(readings.ts_s, kind="stable")
    ts = readings.ts_s[order]
    values = readings.values[order]
    gi = grid_index(ts, interval_s) - first_index
    inside = (gi >= 0) & (gi < n_points)
    starts = (first_index + np.arange(n_points, dtype=np.int64)) * interval_s
    ends = starts + interval_s
    mids = starts + interval_s / 2.0

    mean = np.full((n_points, n_signals), np.nan)
    vmin = np.full((n_points, n_signals), np.nan)
    vmax = np.full((n_points, n_signals), np.nan)
    last = np.full((n_points, n_signals), np.nan)
    count = np.zeros((n_points, n_signals), dtype=np.int64)
    quality = np.full((n_points, n_signals), QUALITY_MISSING, dtype=np.int64)

    for j, signal in enumerate(NUMERIC_SIGNALS):
        col = values[:, j]
        valid = ~np.isnan(col)
        sel = valid & inside
        g = gi[sel]
        v = col[sel]
        cnt = np.bincount(g, minlength=n_points)
        good = cnt > 0
        total = np.bincount(g, weights=v, minlength=n_points)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[:, j] = np.where(good, total / np.maximum(cnt, 1), np.nan)
        lo = np.full(n_points, np.inf)
        hi = np.full(n_points, -np.inf)
        np.minimum.at(lo, g, v)
        np.maximum.at(hi, g, v)
        vmin[:, j] = np.where(good, lo, np.nan)
        vmax[:, j] = np.where(good, hi, np.nan)
        # Readings are time-sorted, so the last write per grid point is its latest.
        latest = np.full(n_points, np.nan)
        latest[g] = v
        last[:, j] = latest
        count[:, j] = cnt
        quality[good, j] = QUALITY_GOOD

        # Gap fill from the nearest real readings of this signal on either side.
        vts = ts[valid]
        vvals = col[valid]
        empty = ~good
        if not empty.any() or vts.size == 0:
            continue
        limit = float(gap_limit_s[j])
        prev = _previous_index(vts, starts.astype(float))
        nxt = np.searchsorted(vts, ends.astype(float), side="left").astype(np.int64)
        has_prev = prev >= 0
        has_next = nxt < vts.size
        prev_ts = np.where(has_prev, vts[np.clip(prev, 0, None)], np.nan)
        next_ts = np.where(has_next, vts[np.clip(nxt, None, vts.size - 1)], np.nan)
        prev_val = np.where(has_prev, vvals[np.clip(prev, 0, None)], np.nan)
        next_val = np.where(has_next, vvals[np.clip(nxt, None, vts.size - 1)], np.nan)
        with np.errstate(invalid="ignore"):
            bridged = empty & has_prev & has_next & (next_ts - prev_ts <= limit)
            held = empty & has_prev & (ends - prev_ts <= limit)
        if signal in DISCRETE_SIGNALS:
            held = held | bridged
            bridged = np.zeros_like(bridged)
        else:
            held = held & ~bridged
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = (mids - prev_ts) / (next_ts - prev_ts)
            interp = prev_val + (next_val - prev_val) * frac
        for target in (mean, vmin, vmax, last):
            target[bridged, j] = interp[bridged]
            target[held, j] = prev_val[held]
        quality[bridged, j] = QUALITY_INTERPOLATED
        quality[held, j] = QUALITY_CARRIED_FORWARD

    reading_count = np.bincount(gi[inside], minlength=n_points).astype(np.int64)
    # A point exists while the skid reported at most silent_max_s before it.
    prev_any = np.searchsorted(ts, ends.astype(float), side="left") - 1
    prev_any_ts = np.where(prev_any >= 0, ts[np.clip(prev_any, 0, None)], -np.inf)
    emit = prev_any_ts >= starts - silent_max_s
    products = tuple(readings.product_code[i] for i in order)
    batches = tuple(readings.batch_id[i] for i in order)
    return SpineBlock(
        first_index=first_index,
        interval_s=interval_s,
        mean=mean,
        min=vmin,
        max=vmax,
        last=last,
        count=count,
        quality=quality,
        reading_count=reading_count,
        product_code=_last_known(products, prev_any),
        batch_id=_last_known(batches, prev_any),
        emit=emit,
    )


def _last_known(labels: tuple[str | None, ...], upto: IntArray) -> tuple[str | None, ...]:
    """Per point, the latest non-null label among time-sorted readings ``0..upto``."""
    latest: list[str | None] = []
    running: str | None = None
    known_until = -1
    for stop in upto.tolist():
        while known_until < stop:
            known_until += 1
            if labels[known_until] is not None:
                running = labels[known_until]
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


def _opt(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def row_fingerprint(block: SpineBlock, i: int) -> tuple[object, ...]:
    """Everything a row says, without revision or emission time: equal fingerprints
    mean re-emitting the row would tell a reader nothing new."""
    return (
        block.product_code[i],
        block.batch_id[i],
        int(block.reading_count[i]),
        tuple(np.round(block.mean[i], 9).tolist()),
        tuple(np.round(block.min[i], 9).tolist()),
        tuple(np.round(block.max[i], 9).tolist()),
        tuple(np.round(block.last[i], 9).tolist()),
        tuple(block.count[i].tolist()),
        tuple(block.quality[i].tolist()),
    )


def to_spine_point(
    block: SpineBlock, i: int, skid_id: str, revision: int, emitted_ts: datetime
) -> SpinePoint:
    """The ``i``-th point of a block as a :class:`SpinePoint` record."""
    # Values come from compute_spine, already typed: construct without re-validating
    # (12 nested records per row were most of the backfill's pydantic time).
    stats = {
        signal: SignalStats.model_construct(
            mean=_opt(block.mean[i, j]),
            min=_opt(block.min[i, j]),
            max=_opt(block.max[i, j]),
            last=_opt(block.last[i, j]),
            count=int(block.count[i, j]),
            quality=_QUALITIES[int(block.quality[i, j])],
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
