"""Time-spine arithmetic: aggregates, gap-fill limits and quality codes, silent skid.

Expected values are worked by hand from the readings in each test (means of a few
numbers, straight-line interpolation at the interval midpoint).
"""

from __future__ import annotations

import math

import numpy as np

from schemas.telemetry import NUMERIC_SIGNALS
from twin.spine import (
    QUALITY_CARRIED_FORWARD,
    QUALITY_GOOD,
    QUALITY_INTERPOLATED,
    QUALITY_MISSING,
    ReadingColumns,
    compute_spine,
    dedupe_mask,
)

FLOW = NUMERIC_SIGNALS.index("line_flow_bph")
PUMPS = NUMERIC_SIGNALS.index("pumps_running")
LIMITS = np.full(len(NUMERIC_SIGNALS), 120.0)


def _columns(points: list[tuple[float, float | None]], seq_start: int = 0) -> ReadingColumns:
    """Readings carrying only line flow (and 2 pumps running) at the given seconds."""
    values = np.full((len(points), len(NUMERIC_SIGNALS)), np.nan)
    for i, (_, flow) in enumerate(points):
        values[i, FLOW] = np.nan if flow is None else flow
        values[i, PUMPS] = 2.0
    return ReadingColumns(
        ts_s=np.array([t for t, _ in points], dtype=float),
        seq=np.arange(seq_start, seq_start + len(points), dtype=np.int64),
        values=values,
        product_code=tuple("ULSD" for _ in points),
        batch_id=tuple(None for _ in points),
    )


def test_aggregates_of_one_interval() -> None:
    cols = _columns([(0.0, 100.0), (20.0, 130.0), (40.0, 70.0), (59.0, 120.0)])
    block = compute_spine(cols, 0, 0, 60, LIMITS, 3600.0)
    assert block.mean[0, FLOW] == 105.0  # (100 + 130 + 70 + 120) / 4
    assert (block.min[0, FLOW], block.max[0, FLOW], block.last[0, FLOW]) == (70.0, 130.0, 120.0)
    assert block.count[0, FLOW] == 4
    assert block.quality[0, FLOW] == QUALITY_GOOD
    assert block.reading_count[0] == 4
    assert block.product_code[0] == "ULSD"


def test_short_gap_is_interpolated_at_the_midpoint() -> None:
    # Readings at 50 s (100) and 130 s (180): 80 s apart, within a 120 s limit.
    cols = _columns([(50.0, 100.0), (130.0, 180.0)])
    block = compute_spine(cols, 0, 2, 60, LIMITS, 3600.0)
    # Point 1 is [60, 120): empty; midpoint 90 s is half-way: 100 + 80 * 40/80 = 140.
    assert block.quality[1, FLOW] == QUALITY_INTERPOLATED
    assert block.mean[1, FLOW] == 140.0
    assert block.count[1, FLOW] == 0


def test_gap_beyond_the_limit_is_held_then_missing_never_invented() -> None:
    # Last reading at 10 s, next at 600 s: 590 s apart > 120 s limit.
    cols = _columns([(10.0, 100.0), (600.0, 300.0)])
    block = compute_spine(cols, 0, 10, 60, LIMITS, 3600.0)
    # [60, 120) ends 110 s after the reading: held; [120, 180) ends 170 s after: missing.
    assert block.quality[1, FLOW] == QUALITY_CARRIED_FORWARD
    assert block.mean[1, FLOW] == 100.0
    assert (block.quality[2:10, FLOW] == QUALITY_MISSING).all()
    assert np.isnan(block.mean[2:10, FLOW]).all()
    assert block.quality[10, FLOW] == QUALITY_GOOD


def test_discrete_signal_is_held_not_interpolated() -> None:
    cols = _columns([(50.0, 100.0), (130.0, 180.0)])
    cols.values[1, PUMPS] = 3.0
    block = compute_spine(cols, 0, 2, 60, LIMITS, 3600.0)
    assert block.quality[1, PUMPS] == QUALITY_CARRIED_FORWARD
    assert block.mean[1, PUMPS] == 2.0


def test_null_signal_is_not_a_reading() -> None:
    cols = _columns([(0.0, None), (30.0, 50.0)])
    block = compute_spine(cols, 0, 0, 60, LIMITS, 3600.0)
    assert block.count[0, FLOW] == 1
    assert block.mean[0, FLOW] == 50.0
    assert block.reading_count[0] == 2


def test_silent_skid_gets_points_for_a_bounded_time() -> None:
    cols = _columns([(0.0, 100.0)])
    # silent_max_s = 300: points starting at 60..300 exist, from 360 on they do not.
    block = compute_spine(cols, 0, 9, 60, LIMITS, 300.0)
    assert block.emit.tolist() == [True] * 6 + [False] * 4
    assert (block.quality[3:6, FLOW] == QUALITY_MISSING).all()


def test_first_copy_of_a_duplicate_is_kept() -> None:
    ts = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    seq = np.array([0, 1, 0, 2, 1], dtype=np.int64)
    assert dedupe_mask(ts, seq).tolist() == [True, True, False, True, False]


def test_out_of_order_readings_give_the_same_spine() -> None:
    points = [(float(t), float(100 + t)) for t in range(0, 300, 7)]
    ordered = compute_spine(_columns(points), 0, 4, 60, LIMITS, 3600.0)
    rng = np.random.default_rng(3)
    shuffled = [points[i] for i in rng.permutation(len(points))]
    block = compute_spine(_columns(shuffled), 0, 4, 60, LIMITS, 3600.0)
    assert np.array_equal(block.last, ordered.last, equal_nan=True)
    assert np.allclose(block.mean[:, FLOW], ordered.mean[:, FLOW])
    assert math.isclose(float(block.last[0, FLOW]), 100 + 56)  # last sample of [0, 60) is 56 s


def test_take_and_concat_keep_every_column_row_for_row() -> None:
    cols = ReadingColumns(
        ts_s=np.array([0.0, 10.0, 20.0, 30.0]),
        seq=np.arange(4, dtype=np.int64),
        values=np.arange(4 * len(NUMERIC_SIGNALS), dtype=float).reshape(4, -1),
        product_code=("ULSD", None, "RUG", "ULSD"),
        batch_id=("B1", "B2", None, "B4"),
    )
    for index, rows in (
        (np.array([2, 0, 2], dtype=np.int64), [2, 0, 2]),
        (np.array([True, False, False, True]), [0, 3]),
        (np.array([False, True, False, False]), [1]),
        (np.zeros(4, dtype=bool), []),
    ):
        taken = cols.take(index)
        assert taken.ts_s.tolist() == [cols.ts_s[i] for i in rows]
        assert taken.values.tolist() == [cols.values[i].tolist() for i in rows]
        assert taken.product_code == tuple(cols.product_code[i] for i in rows)
        assert taken.batch_id == tuple(cols.batch_id[i] for i in rows)
    joined = ReadingColumns.concat([cols.take(np.array([3])), cols.take(np.array([0, 1]))])
    assert joined.seq.tolist() == [3, 0, 1]
    assert joined.product_code == ("ULSD", "ULSD", None)
    assert joined.batch_id == ("B4", "B1", "B2")
