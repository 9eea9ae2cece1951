"""The backfill's writer thread: batches committed in order, the job waits for all of
them, and a failed commit or opening fails the job with its error, nothing written
after it."""

from __future__ import annotations

import os
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from beam.batches import RowBatch
from beam.pipeline import run
from beam.sinks import WriteToWarehouseFn
from beam.warehouse_writer import WarehouseWriter, finish_job_writes, job_writer
from schemas.site_config import SiteConfig
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import SimulationSpec, simulate
from warehouse import open_warehouse
from warehouse.interface import WarehouseError
from warehouse.table_schemas import arrow_schema, duckdb_columns


class _Recording:
    """A warehouse stand-in: records each transaction; fails when told to."""

    def __init__(self, fail_on: int | None = None, gate: threading.Event | None = None) -> None:
        self.transactions: list[dict[str, int]] = []
        self._fail_on = fail_on
        self._gate = gate

    def insert_many(self, rows_by_table: dict[str, pa.Table]) -> int:
        if self._gate is not None:
            self._gate.wait(10)
        if len(self.transactions) == self._fail_on:
            raise WarehouseError("raw_readings: rows rejected, nothing written: disk full")
        self.transactions.append({t: rows.num_rows for t, rows in rows_by_table.items()})
        return sum(rows.num_rows for rows in rows_by_table.values())


def _rows(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


def test_batches_are_committed_in_order_and_waiting_ones_share_a_transaction() -> None:
    gate = threading.Event()
    warehouse = _Recording(gate=gate)
    writer = WarehouseWriter(lambda: warehouse, max_rows=25)
    try:
        for table, n in [("a", 10), ("b", 10), ("a", 10), ("b", 10), ("a", 30)]:
            writer.submit(table, _rows(n))
        gate.set()
        assert writer.wait() == 70
    finally:
        writer.close()
    # The first batch may be taken alone (the gate holds it), the rest 25 rows at most,
    # except a batch larger than that, which goes alone; order kept.
    flat = [(t, n) for tx in warehouse.transactions for t, n in tx.items()]
    assert sum(n for _, n in flat) == 70
    assert all(sum(tx.values()) <= 25 or len(tx) == 1 for tx in warehouse.transactions)
    assert warehouse.transactions[-1] == {"a": 30}


def test_a_failed_commit_is_raised_and_nothing_after_it_is_committed() -> None:
    gate = threading.Event()
    warehouse = _Recording(fail_on=1, gate=gate)
    writer = WarehouseWriter(lambda: warehouse, max_rows=10)
    try:
        for _ in range(4):
            writer.submit("raw_readings", _rows(10))
        gate.set()
        with pytest.raises(WarehouseError, match="disk full"):
            writer.wait()
        with pytest.raises(WarehouseError, match="disk full"):
            writer.submit("spine_points", _rows(1))
    finally:
        writer.close()
    assert warehouse.transactions == [{"raw_readings": 10}]


def test_a_failed_opening_is_raised() -> None:
    def refuse() -> Any:
        raise WarehouseError("table raw_readings has columns that differ from schemas/")

    writer = WarehouseWriter(refuse, max_rows=10)
    try:
        with pytest.raises(WarehouseError, match="columns that differ"):
            writer.wait()
    finally:
        writer.close()


def test_the_gil_switch_interval_is_restored_after_the_writer_commits() -> None:
    before = sys.getswitchinterval()
    seen: list[float] = []

    class Watching(_Recording):
        def insert_many(self, rows_by_table: dict[str, pa.Table]) -> int:
            seen.append(sys.getswitchinterval())
            return super().insert_many(rows_by_table)

    writer = WarehouseWriter(Watching, max_rows=10)
    try:
        writer.submit("a", _rows(1))
        assert writer.wait() == 1
    finally:
        writer.close()
    assert seen == [pytest.approx(0.0005)]
    assert sys.getswitchinterval() == before


def _week_file(site_config: SiteConfig, path: Path, hours: int = 6) -> int:
    spec = SimulationSpec(
        start=datetime(2026, 7, 1, tzinfo=UTC),
        duration_s=hours * 3600,
        interval_s=10.0,
        seed=5,
        skid_ids=("ATL-01",),
    )
    messages = simulate(site_config, spec).messages
    path.write_bytes(b"".join(m.payload + b"\n" for m in messages))
    return len(messages)


def _count(url: str, table: str) -> int:
    (row,) = open_warehouse(url).query(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"])


def test_backfill_reports_done_only_with_every_row_committed(
    site_config: SiteConfig, tmp_path: Path
) -> None:
    readings = tmp_path / "readings.jsonl"
    n = _week_file(site_config, readings)
    url = f"duckdb:///{tmp_path}/twin.duckdb"
    result = run([f"--config={REFERENCE_CONFIG}", f"--input={readings}", f"--warehouse={url}"])
    result.wait_until_finish()
    # Checkpointed and let go of by the job itself, not left to a lingering writer.
    assert not (tmp_path / "twin.duckdb.wal").exists()
    counted = sum(
        c.committed or c.attempted or 0
        for c in result.metrics().query()["counters"]
        if c.key.metric.namespace == "warehouse" and c.key.metric.name == "rows"
    )
    tables = ("raw_readings", "spine_points", "energy_rows", "dead_letters")
    landed = {table: _count(url, table) for table in tables}
    assert landed["raw_readings"] == n
    # Six hours of grid minutes, then the silent skid's MISSING rows.
    assert landed["spine_points"] == landed["energy_rows"] >= 6 * 60
    assert counted == sum(landed.values())


def test_a_failed_commit_fails_the_backfill_with_its_error(
    site_config: SiteConfig, tmp_path: Path
) -> None:
    """A warehouse file whose raw_readings (same columns) refuses these rows: the job
    fails with DuckDB's reason, and no spine or energy row is written after it."""
    readings = tmp_path / "readings.jsonl"
    _week_file(site_config, readings)
    path = tmp_path / "twin.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            f"CREATE TABLE raw_readings ({duckdb_columns('raw_readings')}, CHECK (seq < 0))"
        )
    url = f"duckdb:///{path}"
    with pytest.raises(Exception, match=r"raw_readings: rows rejected, nothing written.*CHECK"):
        run([f"--config={REFERENCE_CONFIG}", f"--input={readings}", f"--warehouse={url}"])
    for table in ("raw_readings", "spine_points", "energy_rows"):
        assert _count(url, table) == 0


def test_a_sink_in_another_process_than_the_builder_waits_for_its_own_commits(
    tmp_path: Path,
) -> None:
    url = f"duckdb:///{tmp_path}/twin.duckdb"
    batch = RowBatch("raw_readings", _raw_rows_like(arrow_schema("raw_readings")))
    fn = WriteToWarehouseFn(url, "job-1", builder_pid=os.getpid() + 1, batch_rows=1000)
    fn.start_bundle()
    assert list(fn.process(batch)) == []
    (token,) = list(fn.finish_bundle())
    assert token.value == 2
    assert _count(url, "raw_readings") == 2
    assert finish_job_writes("job-1") == 0  # nothing left for the last stage to wait for


def test_the_last_stage_waits_for_every_sink_of_its_job() -> None:
    gate = threading.Event()
    warehouse = _Recording(gate=gate)
    writer = job_writer("job-2", lambda: warehouse, 100)
    assert job_writer("job-2", lambda: warehouse, 100) is writer
    writer.submit("raw_readings", _rows(5))
    writer.submit("spine_points", _rows(3))
    threading.Timer(0.2, gate.set).start()
    assert finish_job_writes("job-2") == 8
    assert finish_job_writes("job-2") == 0


def _raw_rows_like(schema: pa.Schema) -> pa.Table:
    ts = datetime(2026, 7, 1, tzinfo=UTC)
    values = {
        "skid_id": ["ATL-01", "ATL-01"],
        "source_ts": [ts, ts],
        "seq": [1, 2],
        "message_id": [None, None],
        "publish_ts": [None, None],
        "ingest_ts": [ts, ts],
        "attributes_json": ["{}", "{}"],
        "payload": ["{}", "{}"],
    }
    return pa.table({f.name: pa.array(values[f.name], f.type) for f in schema}, schema=schema)
