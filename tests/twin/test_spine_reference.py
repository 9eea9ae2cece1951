"""The vectorised time spine against the per-signal code it replaced, kept as an oracle.

``twin.spine.compute_spine`` computes every signal at once; these tests check over
random readings that it gives bit-for-bit the same block as the loop over signals it
replaced (copied below verbatim, only renamed ``reference_*``): the same floats (array
bytes compared, so NaN positions and signed zeros too), quality codes, counts, labels
and emitted points, and the same error where that code failed. The row helpers and
``dedupe_mask`` are checked against their old versions the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.spine import SignalStats, SpinePoint
from schemas.telemetry import NUMERIC_SIGNALS
from twin._arrays import FloatArray
from twin.spine import (
    _QUALITIES,
    DISCRETE_SIGNALS,
    QUALITY_CARRIED_FORWARD,
    QUALITY_GOOD,
    QUALITY_INTERPOLATED,
    QUALITY_MISSING,
    ReadingColumns,
    SpineBlock,
    compute_spine,
    dedupe_mask,
    grid_index,
    row_fingerprint,
    to_spine_point,
)

IntArray = npt.NDArray[np.int64]

# ---------------------------------------------------------------------------------
# The reference: twin/spine.py before vectorisation (commit 0aed739), verbatim but
# for the names. Do not "fix" it: it is the oracle the new code must match.
# ---------------------------------------------------------------------------------


def reference_dedupe_mask(ts_s: FloatArray, seq: IntArray) -> npt.NDArray[np.bool_]:
    """True for the first arrival of each ``(source_ts, seq)``; later copies are False."""
    keys = np.stack([np.round(ts_s * 1e6).astype(np.int64), seq.astype(np.int64)], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.zeros(ts_s.shape[0], dtype=bool)
    keep[first] = True
    return keep


def _reference_previous_index(sorted_ts: FloatArray, at_s: FloatArray) -> IntArray:
    """Index of the last timestamp ``< at_s`` in ``sorted_ts`` (-1 when none)."""
    return np.searchsorted(sorted_ts, at_s, side="left").astype(np.int64) - 1


def reference_compute_spine(
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
        prev = _reference_previous_index(vts, starts.astype(float))
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
        product_code=_reference_last_known(products, prev_any),
        batch_id=_reference_last_known(batches, prev_any),
        emit=emit,
    )


def _reference_last_known(labels: tuple[str | None, ...], upto: IntArray) -> tuple[str | None, ...]:
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


def _reference_opt(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def reference_row_fingerprint(block: SpineBlock, i: int) -> tuple[object, ...]:
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


def reference_to_spine_point(
    block: SpineBlock, i: int, skid_id: str, revision: int, emitted_ts: datetime
) -> SpinePoint:
    """The ``i``-th point of a block as a :class:`SpinePoint` record."""
    # Values come from compute_spine, already typed: construct without re-validating
    # (12 nested records per row were most of the backfill's pydantic time).
    stats = {
        signal: SignalStats.model_construct(
            mean=_reference_opt(block.mean[i, j]),
            min=_reference_opt(block.min[i, j]),
            max=_reference_opt(block.max[i, j]),
            last=_reference_opt(block.last[i, j]),
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


# ---------------------------------------------------------------------------------
# Random readings
# ---------------------------------------------------------------------------------

N_SIGNALS = len(NUMERIC_SIGNALS)
INTERVAL_S = 60
T0_S = 1_795_000_000.0
"""A grid edge (divisible by 60), so offsets land on edges as real timestamps do."""
LIMITS_S = (0.0, 30.0, 60.0, 90.0, 120.0, 600.0)
SIGNAL_VALUES = (0.0, -0.0, 1.0, 2.0, 3.0, -7.25, 101.5, 1e-9, 12_345.678901)


@st.composite
def _gaps_s(draw: st.DrawFn) -> float:
    """A gap between consecutive readings: none (same instant), a few ms, around the
    grid interval and the gap limits (exactly, or just under or over), or long."""
    near = draw(st.sampled_from((*LIMITS_S, 59.0, 61.0, 120.0, 180.0, 3600.0)))
    return draw(
        st.one_of(
            st.just(0.0),
            st.sampled_from((0.001, 0.5, 1.0, 10.0)),
            st.sampled_from((near, near - 1e-6, near + 1e-6, near - 0.5, near + 0.5)),
            st.floats(0.0, 900.0, allow_nan=False, allow_infinity=False),
        )
    )


@st.composite
def _cases(draw: st.DrawFn) -> tuple[ReadingColumns, int, int, FloatArray, float]:
    """Readings (shuffled, with repeats to dedupe) and a block and limits to spine."""
    n = draw(st.integers(0, 40))
    offsets = np.cumsum([draw(_gaps_s()) for _ in range(n)]) if n else np.zeros(0)
    ts = T0_S + offsets
    seq = np.array([draw(st.integers(0, 3)) for _ in range(n)], dtype=np.int64)
    null_rate = draw(st.sampled_from((0.0, 0.2, 0.6, 1.0)))
    values = np.array(
        [
            [
                np.nan
                if draw(st.floats(0.0, 1.0)) < null_rate
                else draw(st.sampled_from(SIGNAL_VALUES))
                for _ in range(N_SIGNALS)
            ]
            for _ in range(n)
        ],
        dtype=float,
    ).reshape(n, N_SIGNALS)
    labels = st.sampled_from((None, "ULSD", "JET-A"))
    product = tuple(draw(labels) for _ in range(n))
    batch = tuple(draw(labels) for _ in range(n))
    cols = ReadingColumns(ts_s=ts, seq=seq, values=values, product_code=product, batch_id=batch)
    # Repeats of earlier readings (same ts and seq, maybe other values) and shuffling.
    repeats = np.array(
        [draw(st.integers(0, n - 1)) for _ in range(draw(st.integers(0, 5)))] if n else [],
        dtype=np.int64,
    )
    cols = ReadingColumns.concat([cols, cols.take(repeats)]) if repeats.size else cols
    order = np.array(draw(st.permutations(range(len(cols)))), dtype=np.int64)
    cols = cols.take(order) if len(cols) else cols
    span = int(grid_index(float(ts[-1]), INTERVAL_S) - grid_index(T0_S, INTERVAL_S)) if n else 0
    first = int(grid_index(T0_S, INTERVAL_S)) + draw(st.integers(-5, span + 5))
    last = first + draw(st.integers(-1, 30))
    limits = np.array([draw(st.sampled_from(LIMITS_S)) for _ in range(N_SIGNALS)])
    silent_max_s = draw(st.sampled_from((0.0, 60.0, 300.0, 3600.0)))
    return cols, first, last, limits, silent_max_s


def _outcome(fn: Callable[..., SpineBlock], *args: object) -> SpineBlock | type[Exception]:
    """What a call gives: its result, or the type of the error it raised (where the
    old code failed, the new one must fail alike)."""
    try:
        return fn(*args)
    except Exception as error:
        return type(error)


def _assert_same_block(new: SpineBlock, old: SpineBlock) -> None:
    for name in ("mean", "min", "max", "last", "count", "quality", "reading_count", "emit"):
        got, want = getattr(new, name), getattr(old, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert got.tobytes() == want.tobytes(), name  # bit for bit, NaNs and -0.0 too
    assert (new.first_index, new.interval_s) == (old.first_index, old.interval_s)
    assert new.product_code == old.product_code
    assert new.batch_id == old.batch_id


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
@example(  # no readings: the old code failed (IndexError)
    (
        ReadingColumns(np.zeros(0), np.zeros(0, np.int64), np.zeros((0, N_SIGNALS)), (), ()),
        5,
        9,
        np.zeros(12),
        60.0,
    )
)
@example(  # an empty block
    (
        ReadingColumns(
            np.array([T0_S]), np.zeros(1, np.int64), np.ones((1, N_SIGNALS)), ("ULSD",), (None,)
        ),
        5,
        4,
        np.zeros(12),
        60.0,
    )
)
def test_spine_matches_the_per_signal_reference(
    case: tuple[ReadingColumns, int, int, FloatArray, float],
) -> None:
    raw, first, last, limits, silent_max_s = case
    keep = dedupe_mask(raw.ts_s, raw.seq)
    assert keep.tolist() == reference_dedupe_mask(raw.ts_s, raw.seq).tolist()
    cols = raw.take(keep)
    args = (cols, first, last, INTERVAL_S, limits, silent_max_s)
    new = _outcome(compute_spine, *args)
    old = _outcome(reference_compute_spine, *args)
    if isinstance(old, type):  # the old code failed (no readings at all): so must this
        assert new is old
        return
    assert isinstance(new, SpineBlock) and isinstance(old, SpineBlock)
    _assert_same_block(new, old)
    emitted = datetime(2026, 11, 22, tzinfo=UTC)
    for i in range(len(new.emit)):
        # Compared as the streaming job digests them (by repr: NaN != NaN in a tuple).
        assert repr(row_fingerprint(new, i)) == repr(reference_row_fingerprint(old, i))
        got = to_spine_point(new, i, "ATL-01", 2, emitted)
        want = reference_to_spine_point(old, i, "ATL-01", 2, emitted)
        assert repr(got.model_dump()) == repr(want.model_dump())  # -0.0 is not 0.0
        for signal in NUMERIC_SIGNALS:
            assert getattr(got, signal).model_fields_set == getattr(want, signal).model_fields_set
