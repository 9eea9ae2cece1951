"""A writer and readers at once on one DuckDB file: readers always succeed, see whole
batches only, in growing counts, and no row is lost."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from tests.warehouse.concurrency_workers import BATCH_ROWS, read_counts, write_batches
from warehouse import DuckDBWarehouse, WarehouseBusyError

BATCHES = 20


def _check_counts(counts: list[list[int]], written: int) -> None:
    totals = [n for n, _ in counts]
    assert totals == sorted(totals), "a reader saw the count go down"
    assert all(n == distinct for n, distinct in counts), "a reader saw duplicated rows"
    assert all(n % BATCH_ROWS == 0 for n in totals), "a reader saw part of a batch"
    assert totals[-1] == written
    assert len({n for n in totals if 0 < n < written}) >= 2, "reads did not overlap writes"


def test_reader_process_reads_while_writer_process_writes(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'twin.duckdb'}"
    DuckDBWarehouse(tmp_path / "twin.duckdb")
    started, stop = tmp_path / "reader-started", tmp_path / "writer-done"
    ctx = multiprocessing.get_context("spawn")
    reader = ctx.Process(
        target=read_counts, args=(url, str(started), str(stop), str(tmp_path / "reader.json"))
    )
    writer = ctx.Process(
        target=write_batches, args=(url, BATCHES, str(started), str(tmp_path / "writer.json"))
    )
    reader.start()
    writer.start()
    try:
        writer.join(timeout=120)
        stop.touch()
        reader.join(timeout=120)
    finally:
        for process in (reader, writer):
            if process.is_alive():
                process.kill()
                process.join()
    assert (writer.exitcode, reader.exitcode) == (0, 0)
    written = json.loads((tmp_path / "writer.json").read_text())["written"]
    seen = json.loads((tmp_path / "reader.json").read_text())
    assert seen["errors"] == []
    assert written == BATCHES * BATCH_ROWS
    _check_counts(seen["counts"], written)
    final = DuckDBWarehouse(tmp_path / "twin.duckdb").query(
        "SELECT COUNT(*) AS n FROM spine_points"
    )
    assert final == [{"n": written}]


def test_reader_thread_reads_while_writer_thread_writes(tmp_path: Path) -> None:
    """The Beam DirectRunner writes from worker threads: threads exclude each other too."""
    url = f"duckdb://{tmp_path / 'twin.duckdb'}"
    DuckDBWarehouse(tmp_path / "twin.duckdb")
    started, stop = tmp_path / "reader-started", tmp_path / "writer-done"

    def write() -> None:
        write_batches(url, BATCHES // 2, str(started), str(tmp_path / "writer.json"))
        stop.touch()

    writer = threading.Thread(target=write)
    writer.start()
    read_counts(url, str(started), str(stop), str(tmp_path / "reader.json"))
    writer.join()
    written = json.loads((tmp_path / "writer.json").read_text())["written"]
    seen = json.loads((tmp_path / "reader.json").read_text())
    assert seen["errors"] == []
    _check_counts(seen["counts"], written)


def test_reader_gives_up_with_a_clear_error_when_a_writer_never_finishes(
    tmp_path: Path,
) -> None:
    duck = DuckDBWarehouse(tmp_path / "twin.duckdb", lock_timeout_s=0.3)
    with duck._lock.exclusive(), pytest.raises(WarehouseBusyError, match="stayed locked"):
        duck.query("SELECT COUNT(*) AS n FROM spine_points")
