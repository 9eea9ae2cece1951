"""A simulated week of the pilot skid through both paths: the backfill (the JSONL
file, FnApiRunner) and the streaming job's own graph (``build_pipeline`` on unbounded
input, writing its local warehouse itself as ``dra-twin stream`` does) fed the same
payloads as the bridge's Pub/Sub messages by a ``TestStream`` on the local streaming
runner. For every grid point the streamed spine and energy rows' latest revision is
the backfilled row, column for column but the revision and emission time, floats bit
for bit (both paths compute with :mod:`twin.spine` and :mod:`twin.spine_energy`).

The week is ATL-01 at 10 s (60,480 samples, the benchmark's skid-week): the streaming
path took 9.5-12.6 s here and the backfill ~1 s (2 cores, load ~1), so there is no need
for a coarser interval. Faults (see ``FAULTS``) make gap fill, quality codes,
duplicates, late data and dead letters matter. The stream delivers the week in
publish order in 28 batches of six hours of source time, the watermark advanced to
each batch's end; then to the week's end plus the allowed lateness, then to infinity
(the silent skid's last rows).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

# Renamed: pytest would try to collect a class named Test* imported here.
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from beam.pipeline import build_pipeline, write_outputs
from beam.warehouse_buffer import warehouse_buffer
from bridge.attributes import ATTR_TS, message_attributes
from schemas.site_config import SiteConfig
from tests.beam.conftest import assert_every_message_accounted_for, run_backfill
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind, FaultSpec, SimulatedMessage, SimulationSpec, simulate
from warehouse import open_warehouse

START = datetime(2026, 7, 1, tzinfo=UTC)
DAYS = 7
END = START + timedelta(days=DAYS)
INTERVAL_S = 10.0
BATCH = timedelta(hours=6)
SKID_ID_TOPIC_LEVEL = 2
"""``dra/<site>/<skid>/telemetry``: the bridge's default ``skid_id_topic_level``."""


def _fault(kind: FaultKind, start: timedelta, end: timedelta, **extra: Any) -> FaultSpec:
    return FaultSpec(kind=kind, skid_id="ATL-01", start=START + start, end=START + end, **extra)


_HOUR = timedelta(hours=1)
_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
FAULTS = (
    # Silent 20 min across the 30 h batch boundary: past the 5-min default and 15-min
    # pump-count limits, within the tank level's 30 min and the 60-min silent-skid
    # rows. The stream holds the tank level at 30 h, then interpolates it.
    _fault(FaultKind.DROPOUT, 30 * _HOUR - 10 * _MINUTE, 30 * _HOUR + 10 * _MINUTE),
    # Silent 3 min across the 54 h boundary, within every limit: carried forward,
    # then (stream: revised) interpolated.
    _fault(FaultKind.DROPOUT, 54 * _HOUR - 2 * _MINUTE, 54 * _HOUR + _MINUTE),
    _fault(FaultKind.DROPOUT, 40 * _HOUR, 40 * _HOUR + 12 * _MINUTE, signal="discharge_psig"),
    _fault(FaultKind.DUPLICATE, 50 * _HOUR, 50 * _HOUR + 30 * _MINUTE),
    # Blocks of 5 readings (40 s) published reversed; this window's blocks start 20 s
    # before the 72 h boundary, so two readings of one block come after it, late.
    _fault(FaultKind.OUT_OF_ORDER, 72 * _HOUR - 620 * _SECOND, 72 * _HOUR + 10 * _MINUTE),
    _fault(FaultKind.OUT_OF_ORDER, 100 * _HOUR, 100 * _HOUR + 10 * _MINUTE),
    _fault(FaultKind.MALFORMED, 120 * _HOUR, 120 * _HOUR + 10 * _MINUTE),
)


@pytest.fixture(scope="module")
def week(site_config: SiteConfig) -> list[SimulatedMessage]:
    spec = SimulationSpec(
        start=START,
        duration_s=DAYS * 86_400,
        interval_s=INTERVAL_S,
        seed=23,
        skid_ids=("ATL-01",),
        faults=FAULTS,
    )
    return simulate(site_config, spec).messages


@pytest.fixture(scope="module")
def backfilled(week: list[SimulatedMessage], tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("backfill")
    readings = folder / "readings.jsonl"
    readings.write_bytes(b"".join(m.payload + b"\n" for m in week))
    url = f"duckdb:///{folder}/backfill.duckdb"
    run_backfill(str(readings), url)
    return url


def _as_pubsub(m: SimulatedMessage, received_at: datetime) -> TimestampedValue:
    """The message the bridge would publish, at the time ``ReadFromPubSub`` would give
    it: its ``ts`` attribute, else (a payload the bridge could not read) its publish
    time, here the time it was received."""
    attributes = message_attributes(
        topic=m.topic,
        qos=1,
        retain=False,
        payload=m.payload,
        received_at=received_at,
        skid_id_level=SKID_ID_TOPIC_LEVEL,
    )
    at = Timestamp.from_rfc3339(attributes[ATTR_TS]) if ATTR_TS in attributes else received_at
    return TimestampedValue(PubsubMessage(m.payload, attributes), at)


def _stream_of(week: list[SimulatedMessage]) -> BeamTestStream:
    """The week in publish order, a batch per ``BATCH`` of source time; after each,
    the watermark to the batch's end. A batch ends at the first message (in publish
    order) whose source time is past its end: a reading published after it but older
    (out of order) comes in the next batch, behind the watermark."""
    # Processing time an hour ahead of the wall clock: a late reading the spine holds
    # back sets its re-firing timer 0.1 s ahead on the wall clock (the DoFn reads it),
    # due at once here as it would be 0.1 s later in the job, not never.
    stream = (
        BeamTestStream()
        .advance_processing_time(time.time() + 3600)
        .advance_watermark_to(Timestamp.from_utc_datetime(START))
    )
    batch: list[TimestampedValue] = []
    boundary = START + BATCH
    received_at = START
    for m in week:
        if m.source_ts is not None:
            received_at = m.source_ts
            while m.source_ts >= boundary:
                stream.add_elements(batch)
                stream.advance_watermark_to(Timestamp.from_utc_datetime(boundary))
                batch, boundary = [], boundary + BATCH
        batch.append(_as_pubsub(m, received_at))
    stream.add_elements(batch)
    return stream


@pytest.fixture(scope="module")
def streamed(
    week: list[SimulatedMessage],
    site_config: SiteConfig,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The streaming job's graph and local sinks (``beam.pipeline.run`` less the
    Pub/Sub read) run over the week to the end; then what its stages handed the
    warehouse buffer is committed (``dra-twin stream`` does the same after stopping)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('stream')}/stream.duckdb"
    options = PipelineOptions(
        [
            f"--config={REFERENCE_CONFIG}",
            f"--warehouse={url}",
            "--streaming",
            "--runner=BundleBasedDirectRunner",
        ]
    )
    lateness = timedelta(seconds=site_config.spine.allowed_lateness_s)
    stream = (
        _stream_of(week)
        .advance_watermark_to(Timestamp.from_utc_datetime(END + lateness))
        .advance_watermark_to_infinity()
    )
    warehouse_buffer(url).open()
    p = beam.Pipeline(options=options)
    write_outputs(build_pipeline(p, options, source=p | "Messages" >> stream), options)
    result = p.run(test_runner_api=False)
    assert result.wait_until_finish() == PipelineState.DONE
    warehouse_buffer(url).flush()
    return url


def _rows(url: str, table: str, excluded: str) -> list[dict[str, Any]]:
    """Every latest row of ``table`` but the ``excluded`` columns, in grid order."""
    return open_warehouse(url).query(
        f"SELECT * EXCEPT ({excluded}) FROM {table} ORDER BY skid_id, grid_ts"
    )


def test_latest_streamed_spine_rows_are_the_backfilled_rows(backfilled: str, streamed: str) -> None:
    backfill = _rows(backfilled, "spine_latest", "revision, emitted_ts")
    stream = _rows(streamed, "spine_latest", "revision, emitted_ts")
    assert len(stream) == len(backfill)
    assert stream == backfill


def test_latest_streamed_energy_rows_are_the_backfilled_rows(
    backfilled: str, streamed: str
) -> None:
    backfill = _rows(backfilled, "energy_latest", "revision")
    stream = _rows(streamed, "energy_latest", "revision")
    assert stream == backfill


def test_raw_rows_and_dead_letters_are_the_backfilled_ones(backfilled: str, streamed: str) -> None:
    """The same readings kept, duplicates included, and the same dead letters, worded
    alike. Not compared: what comes from the bridge's attributes, which a file line
    lacks (``attributes_json``; a dead letter's ``skid_id``, from the ``skid_id``
    attribute when the payload names none)."""
    for sql in (
        "SELECT skid_id, source_ts, seq, payload FROM raw_readings "
        "ORDER BY skid_id, source_ts, seq",
        "SELECT stage, error, raw_payload FROM dead_letters ORDER BY raw_payload",
    ):
        assert open_warehouse(streamed).query(sql) == open_warehouse(backfilled).query(sql)


@pytest.fixture(params=["backfilled", "streamed"])
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """Either path's warehouse: what holds for one must hold for the other."""
    return str(request.getfixturevalue(request.param))


def test_every_message_is_used_duplicated_or_dead_lettered(
    week: list[SimulatedMessage], warehouse_url: str
) -> None:
    assert_every_message_accounted_for([m.payload for m in week], warehouse_url)


def test_one_latest_row_per_grid_point_of_the_week(
    site_config: SiteConfig, warehouse_url: str
) -> None:
    """Every minute of the week once, then the silent skid's rows after the last
    reading (``silent_skid_max_s``), in the spine and in energy."""
    spine = site_config.spine
    tail = spine.silent_skid_max_s // spine.interval_s
    week_points = DAYS * 86_400 // spine.interval_s
    expected = [START + timedelta(seconds=i * spine.interval_s) for i in range(week_points + tail)]
    wh = open_warehouse(warehouse_url)
    for table in ("spine_latest", "energy_latest"):
        grid = [r["grid_ts"] for r in wh.query(f"SELECT grid_ts FROM {table} ORDER BY grid_ts")]
        assert grid == expected, table


def test_the_faults_reach_the_quality_codes_and_the_stream_revises(streamed: str) -> None:
    """What makes the comparison worth making: every quality code is in the latest
    rows, and the stream revised rows (a late reading; gaps it held, later
    interpolated), one row per revision."""
    wh = open_warehouse(streamed)
    latest = wh.query(
        "SELECT line_flow_bph.quality AS flow, dra_tank_level_gal.quality AS tank FROM spine_latest"
    )
    assert {r["flow"] for r in latest} == {"GOOD", "CARRIED_FORWARD", "MISSING", "INTERPOLATED"}
    assert {r["tank"] for r in latest} == {"GOOD", "CARRIED_FORWARD", "MISSING", "INTERPOLATED"}
    for table in ("spine_points", "energy_rows"):
        (dupes,) = wh.query(
            f"SELECT COUNT(*) AS n FROM (SELECT skid_id, grid_ts, revision FROM {table} "
            "GROUP BY skid_id, grid_ts, revision HAVING COUNT(*) > 1)"
        )
        assert dupes["n"] == 0, table
    held_then_interpolated = wh.query(
        "SELECT first.grid_ts FROM spine_points AS first JOIN spine_latest AS last "
        "USING (skid_id, grid_ts) WHERE first.revision = 0 AND last.revision > 0 "
        "AND first.dra_tank_level_gal.quality = 'CARRIED_FORWARD' "
        "AND last.dra_tank_level_gal.quality = 'INTERPOLATED' ORDER BY grid_ts"
    )
    # The points before each silence's batch boundary (the 20-min one from 29:50 h,
    # the 3-min one from 53:58 h): held when the watermark passed, then interpolated.
    assert [r["grid_ts"] for r in held_then_interpolated] == [
        START + 30 * _HOUR + m * _MINUTE for m in range(-10, 0)
    ] + [START + 54 * _HOUR + m * _MINUTE for m in range(-2, 0)]
    # The out-of-order block across the 72 h boundary: its two readings of the point
    # before it came after the watermark had passed, and revised that point.
    late = wh.query(
        "SELECT revision, reading_count FROM spine_points WHERE grid_ts = @at ORDER BY revision",
        {"at": START + 72 * _HOUR - _MINUTE},
    )
    assert late == [{"revision": 0, "reading_count": 4}, {"revision": 1, "reading_count": 6}]
