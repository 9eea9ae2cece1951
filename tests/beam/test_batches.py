"""The backfill's column batches against the streaming path's one-record functions.

The streaming path (one model per message, per spine row, per energy row) is the
reference: every batch function must give the same records, field for field, on
input that exercises its corners (dead letters of every kind, gaps, missing power,
unknown product, several skids and products in one batch).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.io.textio import ReadFromText
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import TaggedOutput
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from beam.batches import MessageBatch, ReadingBatch, RowBatch, records_of
from beam.energy import energy_batch
from beam.lines import line_batches
from beam.pipeline import _ReadLineBatchesFn, build_pipeline, write_outputs
from beam.progress import Progress, progress, reset_progress
from beam.readings import TAG_DEAD_LETTER, TAG_RAW, ParseBatchFn, ParsedReadings, ParseReadingFn
from beam.replay import batch_of_table
from beam.spine import TimeSpine, spine_rows
from schemas.site_config import SiteConfig
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from tests.beam.conftest import T0, is_valid_reading, reading
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import SimulationSpec, simulate
from twin.spine import compute_spine, dedupe_mask, to_spine_point
from twin.spine_energy import energy_rows
from warehouse import open_warehouse
from warehouse.interface import WarehouseError
from warehouse.table_schemas import arrow_table

_NOT_COMPARED = {"ingest_ts", "received_ts", "emitted_ts"}
"""Wall-clock stamps taken when each path ran."""


def _fields(record: Any) -> dict[str, Any]:
    return {k: v for k, v in record.model_dump().items() if k not in _NOT_COMPARED}


def _payloads() -> list[bytes]:
    good = [reading(i * 10.0, i, skid_id="ATL-01" if i % 3 else "ATL-02") for i in range(12)]
    good[4] = reading(40.0, 4, product_code=None, batch_id="B7", injection_pump_running=False)
    one = good[0].model_dump_json().encode()
    return [
        *(r.model_dump_json().encode() for r in good),
        b"",
        b"garbage",
        b"\xff\xfe not json",
        one + b"," + one,  # two readings on one line: one bad line, not two readings
        b"[" + one + b"]",
        one.replace(b"50000.0", b"-9999.0"),
        one.replace(b"+00:00", b"").replace(b"Z", b""),
        b'{"skid_id": "ATL-01", "seq": 1}',
        one[:-1] + b', "unknown_field": 1}',
        one + b" " * 70_000,  # oversize
        one,  # a duplicate is still a valid reading here
    ]


def _messages() -> list[PubsubMessage]:
    return [
        PubsubMessage(p, {"ts": f"t{i}"}, message_id=f"m-{i}", publish_time=T0)
        for i, p in enumerate(_payloads())
    ]


def _assert_batch_parses_as_its_messages(batch: MessageBatch) -> RowBatch:
    """The batch path's readings, raw rows and dead letters are what each message
    gives through the per-message (streaming) path; returns the raw rows."""
    expected_readings, expected_raw, expected_dead = _per_message_outputs(
        [batch.message(i) for i in range(len(batch))]
    )
    batches, raw_batches, dead = _batch_outputs(batch)
    (columns,) = batches
    (raw,) = raw_batches

    assert len(expected_dead) == 10 and len(expected_readings) == 13
    assert columns.readings() == expected_readings
    assert [_fields(r) for r in raw.records()] == expected_raw
    assert sorted(map(repr, dead)) == sorted(map(repr, expected_dead))
    return raw


def _per_message_outputs(
    messages: list[PubsubMessage],
) -> tuple[list[TelemetryReading], list[dict[str, Any]], list[dict[str, Any]]]:
    """What the per-message (streaming) parse gives: readings, raw rows' fields and
    dead letters' fields."""
    one = ParseReadingFn(65_536)
    readings, raw, dead = [], [], []
    for out in (x for m in messages for x in one.process(m)):
        if isinstance(out, TaggedOutput) and out.tag == TAG_RAW:
            raw.append(_fields(out.value.value))
        elif isinstance(out, TaggedOutput):
            dead.append(_fields(out.value))
        else:
            readings.append(out.value)
    return readings, raw, dead


def _batch_outputs(
    batch: MessageBatch,
) -> tuple[list[ReadingBatch], list[RowBatch], list[dict[str, Any]]]:
    """What the batch parse gives: reading batches, raw row batches and dead
    letters' fields."""
    outputs = list(ParseBatchFn(65_536).process(batch))
    tagged = [o for o in outputs if isinstance(o, TaggedOutput)]
    return (
        [o for o in outputs if isinstance(o, ReadingBatch)],
        [o.value for o in tagged if o.tag == TAG_RAW],
        [_fields(o.value) for o in tagged if o.tag == TAG_DEAD_LETTER],
    )


def test_batch_parse_gives_the_per_message_records() -> None:
    messages = _messages()
    _assert_batch_parses_as_its_messages(MessageBatch([bytes(m.data) for m in messages], messages))


_BASE = {
    "skid_id": "ATL-01",
    "source_ts": "2026-07-01T12:00:00Z",
    "seq": 7,
    "product_code": "ULSD",
    "line_flow_bph": 50_000.0,
    "pumps_running": 3,
    "injection_pump_running": True,
}


def _with(**changes: Any) -> bytes:
    """The base payload with fields replaced (``None``: the key left out)."""
    payload = {**_BASE, **changes}
    return json.dumps({k: v for k, v in payload.items() if v is not _ABSENT}).encode()


_ABSENT = object()

_TRICKY_PAYLOADS = [
    _with(),
    _with(source_ts="2026-07-01T17:30:00+05:30"),
    _with(source_ts="2026-07-01T12:00:00.123456-04:00"),
    _with(source_ts="2026-07-01 12:00:00Z"),
    _with(source_ts="2026-07-01T12:00:00"),  # naive
    _with(source_ts="2026-07-01"),
    _with(source_ts=1_782_907_200),  # epoch seconds
    _with(source_ts=1_782_907_200_500),  # epoch milliseconds
    _with(source_ts="0001-01-01T00:00:00+00:00"),
    _with(source_ts="0001-01-01T00:00:00+01:00"),  # before year 1 in UTC: a dead letter
    _with(source_ts=None),
    _with(source_ts=_ABSENT),
    _with(seq=1.0),
    _with(seq=1.5),
    _with(seq="12"),
    _with(seq=-1),
    _with(seq=2**63 - 1),
    _with(seq=True),
    _with(line_flow_bph="51000.5"),
    _with(line_flow_bph=51_000),
    _with(line_flow_bph=250_000.0),
    _with(line_flow_bph=250_000.000001),
    _with(line_flow_bph=-0.0),
    _with(line_flow_bph=float("nan")),
    _with(line_flow_bph=float("inf")),
    _with(line_flow_bph="NaN"),
    _with(line_flow_bph=None),
    _with(line_flow_bph=_ABSENT),
    _with(line_flow_bph=True),
    _with(pumps_running=2.0),
    _with(pumps_running=2.5),
    _with(pumps_running=13),
    _with(pumps_running="4"),
    _with(injection_pump_running=1),
    _with(injection_pump_running=0),
    _with(injection_pump_running=2),
    _with(injection_pump_running="true"),
    _with(injection_pump_running="off"),
    _with(injection_pump_running=None),
    _with(skid_id=""),
    _with(skid_id="A" * 64),
    _with(skid_id="A" * 65),
    _with(skid_id="-ATL"),
    _with(skid_id="ATL 01"),
    _with(skid_id="ATL\u00e9"),
    _with(skid_id=7),
    _with(product_code="X" * 32),
    _with(product_code="X" * 33),
    _with(product_code="\u00e9" * 32),
    _with(product_code=5),
    _with(batch_id=None),
    _with(unknown=None),
    _with(dra_tank_level_gal={"value": 1}),
    b'{"skid_id": "ATL-01", "skid_id": "ATL-02", "source_ts": "2026-07-01T12:00:00Z", "seq": 1}',
    b' {"skid_id": "ATL-01", "source_ts": "2026-07-01T12:00:00Z", "seq": 1} ',
    b'\xef\xbb\xbf{"skid_id": "ATL-01", "source_ts": "2026-07-01T12:00:00Z", "seq": 1}',
    b'{"skid_id": "ATL-01", "source_ts": "2026-07-01T12:00:00Z", "seq": 1, "suction_psig": -0}',
    b'{"skid_id":"ATL-01","source_ts":"2026-07-01T12:00:00Z","seq":1,"pumps_running":3.0}',
    b'{"skid_id":"ATL-01","source_ts":"2026-07-01T12:00:00Z","seq":1,"suction_psig":NaN}',
    b'{"skid_id":"ATL-01","source_ts":"2026-02-30T12:00:00Z","seq":1}',
    b'{"skid_id":"ATL-01","source_ts":"2026-07-01T12:00:00Z","seq":1}{"skid_id":"X"}',
    b"{}",
    b"null",
    b"[]",
    b'"text"',
]
"""Payloads on the edges of the contract: lax conversions pydantic makes (strings,
integers, epoch times), bounds, lengths, patterns, nulls, absent and unknown keys,
duplicate keys, whitespace, a byte-order mark; and where Arrow's reading differs from
pydantic's (``-0``, ``3.0`` for an integer, ``NaN``, a day that does not exist, two
objects in one payload), which the fast path must leave to pydantic."""


def _single_and_batch(payloads: list[bytes]) -> tuple[Any, Any]:
    """Per-message outputs and batch outputs of the same payloads, as comparable
    values: (readings, raw rows, dead letters); readings as columns."""
    messages = [PubsubMessage(p, {}, message_id=f"m-{i}") for i, p in enumerate(payloads)]
    readings, raw, dead = _per_message_outputs(messages)
    batches, raw_batches, batch_dead = _batch_outputs(MessageBatch(payloads, messages))
    single = (
        _columns(ReadingBatch.of(readings)) if readings else None,
        raw,
        sorted(map(repr, dead)),
    )
    batch = (
        _columns(batches[0]) if batches else None,
        [_fields(r) for b in raw_batches for r in b.records()],
        sorted(map(repr, batch_dead)),
    )
    return single, batch


def _columns(batch: ReadingBatch) -> tuple[Any, ...]:
    cols = batch.columns
    return (
        batch.skid_id,
        cols.ts_s.tolist(),
        cols.seq.tolist(),
        # as reprs: -0.0 and 0.0 compare equal as floats
        [[None if np.isnan(v) else repr(v) for v in row] for row in cols.values.tolist()],
        cols.product_code,
        cols.batch_id,
    )


def test_batch_validation_accepts_and_rejects_what_the_model_does() -> None:
    single, batch = _single_and_batch(_TRICKY_PAYLOADS)
    assert single[0] is not None and len(single[0][0]) >= 20  # many valid, many not
    assert len(single[2]) >= 20
    assert batch == single


_field_values = {
    "skid_id": st.one_of(
        st.sampled_from(["ATL-01", "X", "A" * 64, "A" * 65, "", "-x", "é"]), st.integers()
    ),
    "source_ts": st.one_of(
        st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
        st.integers(min_value=-(10**12), max_value=10**14),
        st.text(max_size=30),
    ),
    "seq": st.one_of(
        st.integers(min_value=-5, max_value=2**63 - 1), st.floats(), st.text(max_size=5)
    ),
    "product_code": st.one_of(st.none(), st.text(max_size=40), st.integers()),
    "line_flow_bph": st.one_of(
        st.none(), st.floats(), st.integers(), st.sampled_from(["1.5", "x", "1e3"])
    ),
    "pumps_running": st.one_of(st.none(), st.integers(min_value=-2, max_value=14), st.floats()),
    "injection_pump_running": st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-1, max_value=2), st.text(max_size=5)
    ),
    "unknown_field": st.integers(),
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional=_field_values,
        ).map(lambda d: {**{k: v for k, v in _BASE.items() if k not in d}, **d}),
        min_size=1,
        max_size=30,
    )
)
def test_batch_validation_matches_the_model_on_generated_payloads(
    payloads: list[dict[str, Any]],
) -> None:
    encoded = [json.dumps(p).encode() for p in payloads]
    single, batch = _single_and_batch(encoded)
    assert batch == single


def test_batch_parsing_counts_progress() -> None:
    """The backfill's progress line: every message of a batch read, every dead letter."""
    payloads = _payloads()
    reset_progress()
    try:
        outputs = list(ParseBatchFn(65_536).process(MessageBatch(payloads)))
        dead = [o for o in outputs if isinstance(o, TaggedOutput) and o.tag == TAG_DEAD_LETTER]
        assert dead
        assert progress() == Progress(len(payloads), len(dead))
    finally:
        reset_progress()


def test_file_lines_have_no_message_attributes() -> None:
    payloads = _payloads()
    outputs = list(ParseBatchFn(65_536).process(MessageBatch(payloads)))
    (raw,) = [o.value for o in outputs if isinstance(o, TaggedOutput) and o.tag == TAG_RAW]
    records = raw.records()
    assert len(records) == 13
    assert {(r.message_id, r.publish_ts, r.attributes_json) for r in records} == {
        (None, None, "{}")
    }
    dead = [o.value for o in outputs if isinstance(o, TaggedOutput) and o.tag == TAG_DEAD_LETTER]
    assert sorted(d.raw_payload for d in dead) == sorted(
        p for p in payloads if p not in {r.payload.encode() for r in records}
    )


def _replayed_rows() -> pa.Table:
    """``raw_readings`` rows as a replay reads them: every payload of :func:`_payloads`
    (a history holds only valid ones, but a replay must treat any alike), with message
    ids, publish times and attributes, some of them absent."""
    payloads = _payloads()
    return pa.table(
        {
            "payload": [p.decode("utf-8", errors="replace") for p in payloads],
            "message_id": [None if i % 5 == 0 else f"m-{i}" for i in range(len(payloads))],
            "publish_ts": [
                None if i % 4 == 0 else T0 + timedelta(seconds=i) for i in range(len(payloads))
            ],
            "attributes_json": [
                json.dumps({"ts": f"t{i}", "skid_id": "ATL-01"}, sort_keys=True) if i % 3 else "{}"
                for i in range(len(payloads))
            ],
        }
    )


def test_replayed_rows_parse_as_their_messages() -> None:
    """A replayed batch gives what each of its rows gives as a single message (the
    streaming path), and the raw rows keep the replayed ids, times and attributes."""
    raw = _assert_batch_parses_as_its_messages(batch_of_table(_replayed_rows()))
    rows = _replayed_rows().to_pylist()
    kept = {(r.message_id, r.publish_ts, r.attributes_json) for r in raw.records()}
    assert kept == {
        (row["message_id"], row["publish_ts"], row["attributes_json"])
        for row in rows
        if is_valid_reading(row["payload"].encode()) and len(row["payload"]) <= 65_536
    }
    assert len({k[0] for k in kept}) > 2 and None in {k[1] for k in kept}


@pytest.mark.parametrize("block_bytes", [3, 1 << 20])
def test_lines_are_split_as_read_from_text_splits_them(tmp_path: Path, block_bytes: int) -> None:
    """Also when the file is read in blocks that cut lines (and ``\\r\\n``) in two."""
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b'{"a": 1}\r\n\nsecond\nthird\r\n\r\nlast without newline')
    batches = list(_ReadLineBatchesFn(batch_lines=2, block_bytes=block_bytes).process(str(path)))
    assert [len(b) for b in batches] == [2, 2, 2]
    with TestPipeline(runner="FnApiRunner") as p:
        lines = p | ReadFromText(str(path), coder=beam.coders.BytesCoder())
        assert_that(lines, equal_to([line for b in batches for line in b.payloads]))


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"])
def test_a_file_lines_batch_parses_as_its_lines_listed(line_end: bytes) -> None:
    """A file's lines as one buffer and offsets give the readings, raw rows and dead
    letters the same lines give as a list of payloads (empty, oversize, not UTF-8
    and not JSON lines among them; \\r\\n: not the buffer, the lines joined)."""
    payloads = _payloads()
    (lines,) = line_batches(io.BytesIO(line_end.join(payloads)), 10_000)
    assert list(lines) == payloads
    (listed,), (listed_raw,), listed_dead = _batch_outputs(MessageBatch(payloads))
    (columns,), (raw,), dead = _batch_outputs(MessageBatch(lines))
    assert columns.readings() == listed.readings()
    assert [_fields(r) for r in raw.records()] == [_fields(r) for r in listed_raw.records()]
    assert dead == listed_dead
    assert len(raw) == 13 and len(dead) == 10


def _simulated_columns(site_config: SiteConfig) -> ReadingBatch:
    """Two hours at 10 s with the meter and the product missing for a while, and a
    silent half hour (gap fill, carried-forward and MISSING rows)."""
    sim = simulate(
        site_config,
        SimulationSpec(start=T0, duration_s=7_200, interval_s=10.0, seed=3, skid_ids=("ATL-01",)),
    )
    readings = []
    for m in sim.messages:
        r = TelemetryReading.model_validate_json(m.payload)
        offset_s = (r.source_ts - T0).total_seconds()
        if 1_800 <= offset_s < 3_600:
            continue
        if offset_s < 900:
            r = r.model_copy(update={"pump_power_kw": None})
        if 4_000 <= offset_s < 4_600:
            r = r.model_copy(update={"product_code": None})
        if 5_000 <= offset_s < 5_400:
            r = r.model_copy(update={"product_code": "NO-SUCH-PRODUCT"})
        readings.append(r)
    return ReadingBatch.of(readings)


def test_spine_rows_are_the_spine_points(site_config: SiteConfig) -> None:
    batch = _simulated_columns(site_config)
    cols = batch.columns.take(dedupe_mask(batch.columns.ts_s, batch.columns.seq))
    first = int(T0.timestamp()) // 60
    limits = np.array([site_config.spine.gap_limit_s(s) for s in NUMERIC_SIGNALS], dtype=float)
    block = compute_spine(cols, first, first + 150, 60, limits, 900.0)
    emitted = np.flatnonzero(block.emit)
    now = datetime.now(UTC)
    points = [to_spine_point(block, int(i), "ATL-01", 0, now) for i in emitted]
    qualities = {getattr(p, s).quality.value for p in points for s in NUMERIC_SIGNALS}
    assert qualities == {"GOOD", "CARRIED_FORWARD", "MISSING"}
    rows = spine_rows(block, emitted, "ATL-01", 0, now)
    assert rows.arrow.equals(arrow_table("spine_points", points))
    assert rows.records() == points


def test_energy_batch_is_the_energy_rows(site_config: SiteConfig) -> None:
    batch = _simulated_columns(site_config)
    first = int(T0.timestamp()) // 60
    limits = np.array([site_config.spine.gap_limit_s(s) for s in NUMERIC_SIGNALS], dtype=float)
    block = compute_spine(batch.columns, first, first + 150, 60, limits, 900.0)
    emitted = np.flatnonzero(block.emit)
    now = datetime.now(UTC)
    points = [to_spine_point(block, int(i), "ATL-01", 0, now) for i in emitted]
    expected = energy_rows(points, site_config)
    assert {r.power_source.value for r in expected} == {"MEASURED", "MODELLED", "NONE"}
    assert any(r.dr_observed_pct is None and r.electric_kw is not None for r in expected)
    got = energy_batch(spine_rows(block, emitted, "ATL-01", 0, now), site_config)
    assert got.arrow.equals(arrow_table("energy_rows", expected))
    assert got.records() == expected


def test_reading_batch_keeps_every_field() -> None:
    readings = [
        reading(0.5, 1, pumps_running=2, injection_pump_running=False, batch_id="B1"),
        reading(
            10.000001,
            2,
            skid_id="ATL-02",
            line_flow_bph=None,
            product_code=None,
            api_gravity_deg=35,
        ),
    ]
    assert ReadingBatch.of(readings).readings() == readings


def test_row_batch_is_refused_by_a_table_of_other_columns(tmp_path: Path) -> None:
    wh = open_warehouse(f"duckdb:///{tmp_path}/wh.duckdb")
    outputs = list(ParseBatchFn(65_536).process(MessageBatch(_payloads())))
    (raw,) = [o.value for o in outputs if isinstance(o, TaggedOutput) and o.tag == TAG_RAW]
    assert isinstance(raw, RowBatch)
    with pytest.raises(WarehouseError, match="spine_points: Arrow rows have schema"):
        wh.insert_many({"spine_points": raw.arrow})
    assert wh.insert_many({"raw_readings": raw.arrow}) == 13
    (row,) = wh.query("SELECT COUNT(*) AS n, COUNT(DISTINCT payload) AS d FROM raw_readings")
    assert row == {"n": 13, "d": 12}


def test_backfill_spine_across_day_chunks_is_one_block_per_skid(site_config: SiteConfig) -> None:
    """Two skids over midnight UTC (the batch spine's chunk boundary), one with a gap
    across it and a repeated reading: the rows are those of one ``compute_spine`` over
    the whole span per skid, as the streaming path computes them."""
    midnight = datetime(2026, 7, 2, tzinfo=UTC)
    readings = []
    for skid_id, skipped in (("ATL-01", range(-90, 90)), ("ATL-02", range(0))):
        for offset_s in range(-600, 600, 15):
            if offset_s not in skipped:
                readings.append(
                    reading(
                        (midnight - T0).total_seconds() + offset_s,
                        offset_s + 600,
                        skid_id=skid_id,
                        line_flow_bph=50_000.0 + offset_s,
                    )
                )
    payloads = [r.model_dump_json().encode() for r in [*readings, readings[3]]]

    limits = np.array([site_config.spine.gap_limit_s(s) for s in NUMERIC_SIGNALS], dtype=float)
    expected = []
    for skid_id in ("ATL-01", "ATL-02"):
        cols = ReadingBatch.of([r for r in readings if r.skid_id == skid_id]).columns
        first = int(midnight.timestamp()) // 60 - 60
        block = compute_spine(
            cols, first, first + 180, 60, limits, float(site_config.spine.silent_skid_max_s)
        )
        now = datetime.now(UTC)
        expected += [
            _fields(to_spine_point(block, int(i), skid_id, 0, now))
            for i in np.flatnonzero(block.emit)
        ]
    assert any(
        row["line_flow_bph"]["quality"] == "INTERPOLATED" and row["grid_ts"] == midnight
        for row in expected
    )

    with TestPipeline(runner="FnApiRunner") as p:
        source = p | beam.Create([PubsubMessage(d, {}) for d in payloads])
        parsed = source | ParsedReadings()
        out = parsed["readings"] | TimeSpine(site_config.spine)
        rows = out["spine"] | beam.FlatMap(records_of) | beam.Map(_fields)
        assert_that(rows, equal_to(expected))
        duplicates = out["duplicates"] | beam.combiners.Count.Globally()
        assert_that(duplicates, equal_to([1]), label="OneDuplicate")


def test_backfill_to_bigquery_writes_single_rows() -> None:
    """BigQuery takes rows, not Arrow batches: the backfill graph unbatches them."""
    options = PipelineOptions(
        [
            f"--config={REFERENCE_CONFIG}",
            "--input=gs://bucket/readings/*.jsonl",
            "--warehouse=bigquery://my-project/dra_twin",
        ]
    )
    p = beam.Pipeline(options=options)
    write_outputs(build_pipeline(p, options), options)
    labels = {t.unique_name for t in p.to_runner_api().components.transforms.values()}
    for table in ("raw_readings", "spine_points", "energy_rows", "dead_letters"):
        assert f"WriteToWarehouse/{table}/Unbatch" in labels
        assert f"WriteToWarehouse/{table}/WriteToBigQuery" in labels


def test_readings_keep_the_batch_order_whichever_path_takes_them() -> None:
    """A line with an escape goes to pydantic, the plain one after it to the Arrow
    fast path; the batch still comes out in line order (hypothesis found the fast
    path's readings first)."""
    payloads = [
        _with(product_code="\x1f", seq=1),
        _with(seq=2),
        _with(product_code="\u00e9", seq=3),
    ]
    single, batch = _single_and_batch(payloads)
    assert batch == single
    assert single[0] is not None and single[0][2] == [1, 2, 3]


@pytest.mark.parametrize("blank", [b" ", b"\t", b" \r"])
def test_a_blank_line_beside_a_line_of_two_objects_is_two_dead_letters(blank: bytes) -> None:
    """One line with no object and one with two read as two rows, as many as lines:
    the fast path once put those rows on the wrong lines (a blank payload stored with
    a reading). Both are dead letters, as one message at a time, also as file lines."""
    two = _with(seq=1) + _with(seq=2)
    single, batch = _single_and_batch([blank, two])
    assert batch == single
    assert single[0] is None and len(single[2]) == 2
    lines = next(line_batches(io.BytesIO(blank + b"\n" + two + b"\n"), 10))
    readings, _, dead = _batch_outputs(MessageBatch(lines))
    assert readings == [] and len(dead) == 2
