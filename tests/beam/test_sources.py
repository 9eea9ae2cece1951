"""The backfill's sources: a history kept in ``raw_readings`` and replayed from the
DuckDB warehouse, from a Parquet export or (graph only, no GCP here) from BigQuery
writes the rows the first run wrote, with message ids, attributes and publish times
kept, and ``--start``/``--end`` leave counts that add up on every source."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from apache_beam.io.gcp.bigquery import ReadFromBigQuery
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam.batches import MessageBatch
from beam.counts import job_counts
from beam.options import validate_options
from beam.pipeline import build_pipeline, write_outputs
from beam.replay import REPLAYED_COLUMNS, batch_of_table
from beam.sources import InputError, RowDictsToBatches, _ReadDuckDBFn
from bridge.attributes import rfc3339_utc
from schemas.site_config import SiteConfig
from tests.beam.conftest import run_backfill, simulate_transport_faults
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind
from warehouse import open_warehouse

START = datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
"""An hour before midnight: the replay crosses a day, and the DuckDB source's chunks."""
MINUTES = 180

_SPINE = "SELECT * EXCEPT (emitted_ts, revision) FROM spine_latest ORDER BY skid_id, grid_ts"
_ENERGY = "SELECT * EXCEPT (revision) FROM energy_latest ORDER BY skid_id, grid_ts"
_RAW = (
    "SELECT skid_id, source_ts, seq, message_id, publish_ts, attributes_json, payload "
    "FROM raw_readings"
)


def _messages(config: SiteConfig) -> list[PubsubMessage]:
    """Three hours of the pilot skid with transport faults, as Pub/Sub delivers them:
    ids, attributes and publish times (some messages published twice)."""
    faults = {
        FaultKind.DUPLICATE: (20, 40),
        FaultKind.OUT_OF_ORDER: (50, 55),
        FaultKind.MALFORMED: (70, 75),
    }
    simulated = simulate_transport_faults(config, START, MINUTES, 11, faults)
    return [
        PubsubMessage(
            m.payload,
            {"skid_id": m.skid_id, **({"ts": rfc3339_utc(m.source_ts)} if m.source_ts else {})},
            message_id=f"msg-{i}",
            publish_time=START + timedelta(milliseconds=500 * i),
        )
        for i, m in enumerate(simulated)
    ]


@pytest.fixture(scope="module")
def first_run(site_config: SiteConfig, tmp_path_factory: Any) -> str:
    """A warehouse written by the job from Pub/Sub messages (in batch: the same
    transforms), so its ``raw_readings`` carry message ids, attributes, publish times."""
    url = f"duckdb:///{tmp_path_factory.mktemp('first')}/first.duckdb"
    options = PipelineOptions(
        [f"--config={REFERENCE_CONFIG}", "--input=unused", f"--warehouse={url}"]
    )
    with beam.Pipeline(runner="FnApiRunner", options=options) as p:
        source = p | beam.Create(_messages(site_config))
        write_outputs(build_pipeline(p, options, source=source), options)
    return url


def _export_parquet(url: str, path: Path, where: str = "TRUE") -> None:
    """``raw_readings`` to Parquet as BigQuery exports it (TIMESTAMP as UTC-adjusted
    microseconds, STRING as UTF-8), in small row groups."""
    rows = open_warehouse(url).query_arrow(f"SELECT * FROM raw_readings WHERE {where}")
    pq.write_table(rows, path, row_group_size=2_048)
    assert pq.read_schema(path).field("publish_ts").type == pa.timestamp("us", tz="UTC")


def _assert_same_rows(first: str, replayed: str) -> None:
    a, b = open_warehouse(first), open_warehouse(replayed)
    spine = a.query(_SPINE)
    assert len(spine) >= MINUTES
    assert b.query(_SPINE) == spine
    assert b.query(_ENERGY) == a.query(_ENERGY)
    raw = Counter(tuple(r.values()) for r in a.query(_RAW))
    assert Counter(tuple(r.values()) for r in b.query(_RAW)) == raw
    assert sum(1 for key in raw if key[3] is not None and key[4] is not None) == len(raw)


def test_replaying_the_duckdb_warehouse_writes_its_rows(
    first_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in 37-minute chunks (not a day) so batches span the chunks they come from."""
    monkeypatch.setattr("beam.sources._DUCKDB_CHUNK", timedelta(minutes=37))
    url = f"duckdb:///{tmp_path}/replayed.duckdb"
    counts = job_counts(run_backfill(first_run, url))
    (raw,) = open_warehouse(first_run).query("SELECT COUNT(*) AS n FROM raw_readings")
    assert counts.readings_in == raw["n"] and counts.dead_letters == 0
    _assert_same_rows(first_run, url)


def test_replaying_a_parquet_export_writes_its_rows(first_run: str, tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    _export_parquet(first_run, export / "part-0.parquet", "source_ts < '2026-07-02'")
    _export_parquet(first_run, export / "part-1.parquet", "source_ts >= '2026-07-02'")
    url = f"duckdb:///{tmp_path}/replayed.duckdb"
    run_backfill(f"{export}/*.parquet", url)
    _assert_same_rows(first_run, url)


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "duckdb"])
def test_a_time_range_selects_the_same_readings_from_every_source(
    first_run: str, tmp_path: Path, kind: str
) -> None:
    """readings in = distinct used + duplicates + dead letters + out of range, and the
    raw rows landed are the first run's in the range; the warehouse and Parquet
    sources filter at the source, so they read fewer readings than the file."""
    start, end = START + timedelta(minutes=30), START + timedelta(minutes=100)
    first = open_warehouse(first_run)
    params = {"start": start, "end": end}
    in_range = first.query(f"{_RAW} WHERE source_ts >= @start AND source_ts < @end", params)
    if kind == "jsonl":
        source = tmp_path / "raw.jsonl"
        source.write_bytes(b"".join(r["payload"].encode() + b"\n" for r in first.query(_RAW)))
    elif kind == "parquet":
        source = tmp_path / "raw.parquet"
        _export_parquet(first_run, source)
    else:
        source = Path(first_run.removeprefix("duckdb://"))
    url = f"duckdb:///{tmp_path}/range.duckdb"
    prefix = "duckdb://" if kind == "duckdb" else ""
    counts = job_counts(
        run_backfill(
            f"{prefix}{source}", url, f"--start={start.isoformat()}", f"--end={end.isoformat()}"
        )
    )
    assert counts.readings_in == (
        counts.distinct_used + counts.duplicates + counts.dead_letters + counts.out_of_range
    )
    assert counts.valid - counts.out_of_range == len(in_range)
    # A JSONL line has no message id, publish time or attributes to keep.
    kept = ("payload",) if kind == "jsonl" else ("payload", *REPLAYED_COLUMNS[1:])
    landed = open_warehouse(url).query(_RAW)
    assert Counter(tuple(r[k] for k in kept) for r in landed) == Counter(
        tuple(r[k] for k in kept) for r in in_range
    )
    total = len(first.query(_RAW))
    if kind == "duckdb":
        assert counts.readings_in == len(in_range) and counts.out_of_range == 0
    elif kind == "parquet":
        assert len(in_range) <= counts.readings_in < total
    else:
        assert counts.readings_in == total


def test_a_parquet_file_of_another_layout_is_refused_before_the_job(tmp_path: Path) -> None:
    """Every file's footer is checked before the job starts, so a wrong file fails
    at once with what is wrong, not mid-job (nothing is written)."""
    when = pa.array([START], pa.timestamp("us", tz="UTC"))
    pq.write_table(
        pa.table({"payload": ["{}"], "message_id": ["m"], "publish_ts": when}),
        tmp_path / "b.parquet",
    )
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    with pytest.raises(
        InputError,
        match=r"b\.parquet is not a raw_readings export: missing "
        r"column 'attributes_json' \(has payload, message_id, publish_ts\)",
    ):
        run_backfill(f"{tmp_path}/*.parquet", url)
    pq.write_table(
        pa.table(
            {"payload": ["{}"], "message_id": ["m"], "publish_ts": ["x"], "attributes_json": ["{}"]}
        ),
        tmp_path / "b.parquet",
    )
    with pytest.raises(InputError, match="column 'publish_ts' is string, expected a timestamp"):
        run_backfill(f"{tmp_path}/*.parquet", url)
    (tmp_path / "a.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"a\.parquet is not a readable Parquet file"):
        run_backfill(f"{tmp_path}/*.parquet", url)
    assert not (tmp_path / "wh.duckdb").exists()


def test_bad_warehouse_inputs_are_refused(first_run: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such warehouse file"):
        run_backfill(f"duckdb:///{tmp_path}/none.duckdb", f"duckdb:///{tmp_path}/wh.duckdb")
    with pytest.raises(InputError, match="replaying a warehouse into itself"):
        run_backfill(first_run, first_run)
    base = [f"--config={REFERENCE_CONFIG}", "--warehouse=duckdb:///x.duckdb"]
    with pytest.raises(ValueError, match="expected bigquery://PROJECT/DATASET"):
        validate_options(PipelineOptions([*base, "--input=bigquery://project-only"]))


def _bigquery_graph(source: str, *extra: str) -> beam.Pipeline:
    options = PipelineOptions(
        [
            f"--config={REFERENCE_CONFIG}",
            f"--input={source}",
            "--warehouse=duckdb:///x.duckdb",
            "--project=my-project",
            *extra,
        ]
    )
    validate_options(options)
    p = beam.Pipeline(options=options)
    write_outputs(build_pipeline(p, options), options)
    return p


def _applied(p: beam.Pipeline) -> dict[str, Any]:
    found: dict[str, Any] = {}

    class Visitor(beam.pipeline.PipelineVisitor):  # type: ignore[misc]
        def enter_composite_transform(self, node: Any) -> None:
            found[node.full_label] = node.transform

        def visit_transform(self, node: Any) -> None:
            found[node.full_label] = node.transform

    p.visit(Visitor())
    return found


def test_a_bigquery_input_is_a_direct_read_with_the_range_pushed_down() -> None:
    p = _bigquery_graph(
        "bigquery://my-project/dra_twin",
        "--start=2026-07-01T00:00:00+00:00",
        "--end=2026-07-08T02:00:00-02:00",
    )
    applied = _applied(p)
    read = applied["Read/ReadRawReadings/ReadFromBigQuery"]
    assert isinstance(read, ReadFromBigQuery)
    assert read.method == ReadFromBigQuery.Method.DIRECT_READ
    assert read.use_native_datetime is True
    assert read._kwargs == {
        "table": "my-project:dra_twin.raw_readings",
        "selected_fields": ["payload", "message_id", "publish_ts", "attributes_json"],
        "row_restriction": (
            "source_ts >= CAST('2026-07-01 00:00:00.000000+00:00' AS TIMESTAMP) AND "
            "source_ts < CAST('2026-07-08 04:00:00.000000+00:00' AS TIMESTAMP)"
        ),
    }
    assert isinstance(applied["Read/ReadRawReadings/ToMessageBatches"], RowDictsToBatches)
    # The batches go to the batch parsing, which also counts them into the progress tally.
    assert "ParsedReadings/ParseBatches" in applied

    other = _applied(_bigquery_graph("bigquery://other-project/history/raw_copy"))
    read = other["Read/ReadRawReadings/ReadFromBigQuery"]
    assert read._kwargs["table"] == "other-project:history.raw_copy"
    assert read._kwargs["row_restriction"] is None


def test_bigquery_rows_make_the_batches_the_duckdb_source_makes(first_run: str) -> None:
    """Rows shaped as ``ReadFromBigQuery`` (DIRECT_READ, native datetimes) gives them:
    timestamps as aware datetimes, ``attributes_json`` the JSON string the column holds
    (``schemas/bigquery/raw_readings.json``: STRING), absent values None."""
    rows = open_warehouse(first_run).query(
        f"SELECT {', '.join(REPLAYED_COLUMNS)} FROM raw_readings"
    )
    assert all(isinstance(r["publish_ts"], datetime) and r["publish_ts"].tzinfo for r in rows)
    # One row as BigQuery gives a message that had no id or publish time.
    blank = rows[0]["message_id"]
    rows = [
        {**r, "message_id": None, "publish_ts": None} if r["message_id"] == blank else r
        for r in rows
    ]
    path = first_run.removeprefix("duckdb://")

    def messages(batch: MessageBatch) -> list[tuple[Any, ...]]:
        return [
            (m.data, m.message_id, m.publish_time, tuple(sorted(m.attributes.items())))
            for m in (batch.message(i) for i in range(len(batch)))
        ]

    from_duckdb = [
        (data, None, None, attributes)
        if message_id == blank
        else (data, message_id, ts, attributes)
        for b in _ReadDuckDBFn(None, None, 4_000).process(path)
        for data, message_id, ts, attributes in messages(b)
    ]
    assert len(from_duckdb) == len(rows) > 4_000

    def check_sizes(sizes: list[int]) -> None:
        assert sum(sizes) == len(rows) and max(sizes) <= 4_000 and len(sizes) >= 3

    with TestPipeline(runner="FnApiRunner") as p:
        batches = p | beam.Create(rows) | RowDictsToBatches(rows=4_000)
        assert_that(batches | beam.FlatMap(messages), equal_to(from_duckdb))
        assert_that(batches | beam.Map(len), check_sizes, label="Batched")
    one = batch_of_table(pa.Table.from_pylist(rows[:3]))
    assert one.replayed is not None and one.replayed.schema.field("publish_ts").type == (
        pa.timestamp("us", tz="UTC")
    )
