"""Event-time behaviour of the time spine, driven by TestStream on the local streaming
runner: late readings revise rows, too-late ones go to the side output, gaps are
filled only within their limit, a silent skid gets MISSING rows for a bounded time,
duplicates are removed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from beam.spine import TAG_TOO_LATE, SpineFn, TimeSpine, _GroupBySkidFn
from beam.warehouse_buffer import flush_warehouse_buffers
from schemas.site_config import SpineConfig
from schemas.spine import Quality, SpinePoint
from schemas.telemetry import TelemetryReading
from tests.beam.conftest import T0, reading, streaming_options
from warehouse import open_warehouse

SPINE = SpineConfig(
    interval_s=60,
    default_gap_fill_limit_s=120,
    silent_skid_max_s=300,
    allowed_lateness_s=180,
    # Every late bundle re-fires at once: the DoFn reads the wall clock, TestStream
    # runs on a test clock (see the refire test below for the held-back firings).
    late_refire_interval_s=0,
)
BASE = T0.timestamp()


def _at(r: TelemetryReading) -> TimestampedValue:
    return TimestampedValue(r, r.source_ts.timestamp())


def _run(stream: TestStream, check: Callable[[dict[str, beam.PCollection]], None]) -> None:
    with TestPipeline(options=streaming_options()) as p:
        outputs = p | stream | TimeSpine(SPINE)
        check(outputs)


def _minute(p: SpinePoint) -> int:
    return int((p.grid_ts - T0).total_seconds() // 60)


def _summary(points: Iterable[SpinePoint]) -> list[tuple[int, int, float | None, str]]:
    return sorted(
        (_minute(p), p.revision, p.line_flow_bph.mean, p.line_flow_bph.quality.value)
        for p in points
    )


def _matches(expected: list[Any]) -> Callable[[list[SpinePoint]], None]:
    def check(actual: list[SpinePoint]) -> None:
        assert _summary(actual) == sorted(expected), _summary(actual)

    return check


def test_late_reading_revises_spine_row() -> None:
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements(
            [_at(reading(10, 1, line_flow_bph=100.0)), _at(reading(70, 2, line_flow_bph=200.0))]
        )
        .advance_watermark_to(BASE + 120)
        # Point 0 ended 60 s ago; lateness is 180 s: still revisable.
        .add_elements([_at(reading(30, 3, line_flow_bph=300.0))])
        .advance_watermark_to(BASE + 180)
        .advance_watermark_to_infinity()
    )

    def check(out: dict[str, beam.PCollection]) -> None:
        first_two = out["spine"] | beam.Filter(lambda p: _minute(p) <= 1)
        assert_that(
            first_two,
            _matches([(0, 0, 100.0, "GOOD"), (0, 1, 200.0, "GOOD"), (1, 0, 200.0, "GOOD")]),
        )
        assert_that(out["too_late"], equal_to([]), label="NoneTooLate")

    _run(stream, check)


def _too_late_stream() -> TestStream:
    return (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements([_at(reading(10, 1)), _at(reading(250, 2))])
        .advance_watermark_to(BASE + 300)
        # Point 0 ended at 60 s; 60 + 180 <= 300: final, the reading is too late.
        .add_elements([_at(reading(20, 3))])
        .advance_watermark_to_infinity()
    )


def test_too_late_reading_goes_to_side_output() -> None:
    stream = _too_late_stream()

    def check(out: dict[str, beam.PCollection]) -> None:
        assert_that(
            out["too_late"]
            | beam.Map(lambda d: (d.stage.value, d.skid_id, b'"seq":3' in d.raw_payload)),
            equal_to([("TOO_LATE", "ATL-01", True)]),
        )
        revised = out["spine"] | "Rev" >> beam.Filter(lambda p: _minute(p) == 0)
        assert_that(revised | beam.Map(lambda p: p.revision), equal_to([0]), label="NoRevision")

    _run(stream, check)


def test_too_late_reading_is_stored_in_the_local_warehouse(tmp_path: Path) -> None:
    """Streaming to a local warehouse, the spine writes its rows itself: the too-late
    reading lands in ``dead_letters`` (stage, reason, raw payload), counted once,
    beside the spine rows, and is in no spine row."""
    url = f"duckdb://{tmp_path}/spine.duckdb"
    with TestPipeline(options=streaming_options()) as p:
        _ = p | _too_late_stream() | TimeSpine(SPINE, warehouse_url=url)
    flush_warehouse_buffers()
    wh = open_warehouse(url)
    letters = wh.query("SELECT stage, skid_id, error, raw_payload FROM dead_letters")
    assert [(r["stage"], r["skid_id"]) for r in letters] == [("TOO_LATE", "ATL-01")]
    assert b'"seq":3' in letters[0]["raw_payload"]
    assert "allowed lateness is 180 s" in letters[0]["error"]
    (first,) = wh.query(
        "SELECT reading_count, revision FROM spine_latest WHERE grid_ts = @t0", {"t0": T0}
    )
    assert first == {"reading_count": 1, "revision": 0}


def test_live_gap_is_carried_forward_then_interpolated_when_data_resume() -> None:
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements([_at(reading(50, 1, line_flow_bph=100.0))])
        # The watermark passes point 1 ([60, 120)) with no reading: held from 50 s.
        .advance_watermark_to(BASE + 120)
        .add_elements([_at(reading(130, 2, line_flow_bph=180.0))])
        .advance_watermark_to(BASE + 190)
        .advance_watermark_to_infinity()
    )

    def check(out: dict[str, beam.PCollection]) -> None:
        early = out["spine"] | beam.Filter(lambda p: _minute(p) <= 2)
        assert_that(
            early,
            _matches(
                [
                    (0, 0, 100.0, "GOOD"),
                    (1, 0, 100.0, "CARRIED_FORWARD"),
                    # 80 s between readings <= 120 s limit: midpoint 90 s -> 140.
                    (1, 1, 140.0, "INTERPOLATED"),
                    (2, 0, 180.0, "GOOD"),
                ]
            ),
        )

    _run(stream, check)


def test_silent_skid_gets_missing_rows_for_a_bounded_time() -> None:
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements([_at(reading(50, 1, line_flow_bph=100.0))])
        .advance_watermark_to(BASE + 3600)
        .advance_watermark_to_infinity()
    )

    def check(out: dict[str, beam.PCollection]) -> None:
        # Silent from 50 s; rows while the point starts <= 50 + 300 s: points 0..5.
        # Flow held until 50 + 120 s (point 1 ends at 120), then MISSING.
        assert_that(
            out["spine"],
            _matches(
                [(0, 0, 100.0, "GOOD"), (1, 0, 100.0, "CARRIED_FORWARD")]
                + [(m, 0, None, "MISSING") for m in range(2, 6)]
            ),
        )

    _run(stream, check)


def test_duplicates_are_removed_and_counted() -> None:
    first = reading(10, 1, line_flow_bph=100.0)
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements([_at(first), _at(reading(20, 2, line_flow_bph=200.0))])
        .add_elements([_at(first.model_copy())])
        .advance_watermark_to(BASE + 60)
        # A redelivery after the row was emitted changes nothing.
        .add_elements([_at(first.model_copy())])
        .advance_watermark_to(BASE + 120)
        .advance_watermark_to_infinity()
    )

    def check(out: dict[str, beam.PCollection]) -> None:
        point0 = out["spine"] | beam.Filter(lambda p: _minute(p) == 0)
        assert_that(
            point0 | beam.Map(lambda p: (p.revision, p.reading_count, p.line_flow_bph.mean)),
            equal_to([(0, 2, 150.0)]),
        )
        assert_that(
            out["duplicates"] | beam.Map(lambda d: (d.seq, d.source_ts == first.source_ts)),
            equal_to([(1, True), (1, True)]),
            label="Dupes",
        )

    _run(stream, check)


def test_quality_codes_are_the_schema_names() -> None:
    assert {q.value for q in Quality} == {"GOOD", "INTERPOLATED", "CARRIED_FORWARD", "MISSING"}


def test_late_readings_within_the_refire_interval_make_one_revision() -> None:
    """Late readings less than ``late_refire_interval_s`` after the last firing are held
    for a processing-time timer and come out together, as one revision, not one per
    bundle. The DoFn reads a fixed clock here (1,000 s); TestStream's processing time
    starts at 0 and is advanced past 1,000.1 s to fire the timer. With every bundle
    re-firing (interval 0) the same stream gives revisions 1 and 2."""

    with TestPipeline(options=streaming_options()) as p:
        assert_that(
            _minute_zero(p, 0.1),
            _matches([(0, 0, 100.0, "GOOD"), (0, 1, 200.0, "GOOD")]),
        )
    with TestPipeline(options=streaming_options()) as p:
        assert_that(
            _minute_zero(p, 0.0),
            _matches([(0, 0, 100.0, "GOOD"), (0, 1, 150.0, "GOOD"), (0, 2, 200.0, "GOOD")]),
        )


def test_late_readings_of_the_newest_point_fire_at_once() -> None:
    """Late readings that all fall in the newest point emitted (a late stream caught up
    with the present) re-fire in their own bundle, one revision each, however recent
    the last firing: the clock is fixed, so the re-firing interval (0.1 s) would hold
    them (as it does for minute 0 in the test above, whose newest point is minute 1)."""
    spine = SPINE.model_copy(update={"late_refire_interval_s": 0.1, "silent_skid_max_s": 0})
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements([_at(reading(10, 1, line_flow_bph=100.0))])
        .advance_watermark_to(BASE + 90)  # minute 0 fires (revision 0), the newest point
        .add_elements([_at(reading(20, 2, line_flow_bph=200.0))])  # late, minute 0
        .add_elements([_at(reading(30, 3, line_flow_bph=300.0))])  # late, minute 0
        .advance_watermark_to_infinity()
    )
    with TestPipeline(options=streaming_options()) as p:
        points = (
            p
            | stream
            | beam.ParDo(_GroupBySkidFn())
            | beam.ParDo(SpineFn(spine, clock=lambda: 1_000.0)).with_outputs(
                TAG_TOO_LATE, main="spine"
            )
        ).spine
        assert_that(
            points,
            _matches([(0, 0, 100.0, "GOOD"), (0, 1, 150.0, "GOOD"), (0, 2, 200.0, "GOOD")]),
        )


_TICKS: list[float] = []
"""The wall clock the next test's DoFn reads: one value per call, in order, the last
one from then on."""


def _next_tick() -> float:
    return _TICKS.pop(0) if len(_TICKS) > 1 else _TICKS[0]


def test_held_back_late_readings_fire_once_a_burst_is_quiet() -> None:
    """A late reading held back by the re-firing interval (0.1 s) fires once no other
    has come for ``late_refire_quiet_s`` (0.02 s), not when the interval is up: a
    burst's last revision does not wait. Minute 1 is the newest point emitted, so the
    late readings of minute 0 are held (not fired at once as the newest point's are).
    Clock (the DoFn's ``_next_tick``, TestStream's processing time kept in step): the
    watermark's firings of minutes 0 and 1 at 1,000.00 s; a late reading at 1,000.01
    (held: timer at 1,000.03); processing time to 1,000.035, so the timer fires there
    (revision 1); another late reading at 1,000.05, 15 ms after that firing (held:
    timer at 1,000.07), fired when processing time moves on (revision 2). Throttled to
    the interval alone, the first timer (1,000.10) would not have fired by 1,000.035:
    one revision holding both readings, as in the test above."""
    _TICKS[:] = [1_000.0, 1_000.0, 1_000.01, 1_000.035, 1_000.05, 1_000.07]
    spine = SPINE.model_copy(
        # No silent-skid ticking past the readings: each firing is one clock reading.
        update={"late_refire_interval_s": 0.1, "late_refire_quiet_s": 0.02, "silent_skid_max_s": 0}
    )
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements(
            [_at(reading(10, 1, line_flow_bph=100.0)), _at(reading(70, 4, line_flow_bph=70.0))]
        )
        .advance_watermark_to(BASE + 120)  # minutes 0 and 1 fire (revision 0) at 1,000.00
        .add_elements([_at(reading(20, 2, line_flow_bph=200.0))])  # late, 1,000.01
        .advance_processing_time(1_000.035)
        .add_elements([_at(reading(30, 3, line_flow_bph=300.0))])  # late, 1,000.05
        .advance_processing_time(1_000)
        .advance_watermark_to_infinity()
    )
    with TestPipeline(options=streaming_options()) as p:
        points = (
            p
            | stream
            | beam.ParDo(_GroupBySkidFn())
            | beam.ParDo(SpineFn(spine, clock=_next_tick)).with_outputs(TAG_TOO_LATE, main="spine")
        ).spine
        assert_that(
            points | beam.Filter(lambda point: _minute(point) == 0),
            _matches([(0, 0, 100.0, "GOOD"), (0, 1, 150.0, "GOOD"), (0, 2, 200.0, "GOOD")]),
        )
    assert _TICKS == [1_000.07]


def _minute_zero(p: beam.Pipeline, interval_s: float) -> beam.PCollection:
    """Minute 0's spine rows when two late readings follow its firing, the DoFn's
    clock fixed at 1,000 s and its re-firing interval ``interval_s``."""
    spine = SPINE.model_copy(update={"late_refire_interval_s": interval_s})
    stream = (
        TestStream()
        .advance_watermark_to(BASE)
        .add_elements([_at(reading(10, 1, line_flow_bph=100.0))])
        .advance_watermark_to(BASE + 120)  # point 0 fires (revision 0) at clock 1,000
        .add_elements([_at(reading(20, 2, line_flow_bph=200.0))])  # late
        .add_elements([_at(reading(30, 3, line_flow_bph=300.0))])  # late
        .advance_processing_time(2_000)
        .advance_watermark_to_infinity()
    )
    points = (
        p
        | stream
        | beam.ParDo(_GroupBySkidFn())
        | beam.ParDo(SpineFn(spine, clock=lambda: 1_000.0)).with_outputs(TAG_TOO_LATE, main="spine")
    ).spine
    return points | beam.Filter(lambda point: _minute(point) == 0)
