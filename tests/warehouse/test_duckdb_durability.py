"""A writer keeps the file attached between writes and checkpoints only when the WAL
has grown: what it committed survives the process being killed, readers in other
processes still get in (and see rows still in the WAL), an idle writer lets go of
the file."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path

from tests.warehouse.concurrency_workers import write_and_hold
from tests.warehouse.rows import representative_rows
from warehouse import DuckDBWarehouse

ROWS = 300
_WAIT_S = 60.0


@contextmanager
def _holding_writer(path: Path) -> Iterator[BaseProcess]:
    """A writer process that committed ``ROWS`` rows and still has the file attached."""
    DuckDBWarehouse(path).close()
    ready = path.with_name("writer-ready")
    writer = multiprocessing.get_context("spawn").Process(
        target=write_and_hold, args=(f"duckdb://{path}", ROWS, str(ready))
    )
    writer.start()
    try:
        deadline = time.monotonic() + _WAIT_S
        while not ready.exists():
            assert writer.is_alive(), "the writer process died"
            assert time.monotonic() < deadline, "the writer never committed"
            time.sleep(0.05)
        yield writer
    finally:
        writer.kill()
        writer.join()


def _plain_duckdb_can_open(path: Path) -> bool:
    """Whether DuckDB itself (no lock of ours) can open the file from another process."""
    probe = f"import duckdb; duckdb.connect({str(path)!r}, read_only=True).close()"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def test_committed_rows_survive_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "twin.duckdb"
    with _holding_writer(path) as writer:
        wal = path.with_name(path.name + ".wal")
        assert wal.exists() and wal.stat().st_size > 0, "rows should be in the WAL only"
        assert not _plain_duckdb_can_open(path), "the writer should still hold the file"
        writer.kill()
        writer.join()
    assert writer.exitcode == -9
    # A reader replays the WAL the killed writer left; so does the next writer.
    assert DuckDBWarehouse(path).query("SELECT COUNT(*) AS n FROM spine_points") == [{"n": ROWS}]
    reopened = DuckDBWarehouse(path, linger_s=0, checkpoint_wal_bytes=0)
    assert reopened.query("SELECT COUNT(DISTINCT grid_ts) AS n FROM spine_points") == [{"n": ROWS}]
    assert not wal.exists() or wal.stat().st_size == 0, "the writer should have checkpointed"


def test_reader_process_gets_in_while_a_writer_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "twin.duckdb"
    with _holding_writer(path) as writer:
        reader = DuckDBWarehouse(path, lock_timeout_s=_WAIT_S, linger_s=0)
        assert reader.query("SELECT COUNT(*) AS n FROM spine_points") == [{"n": ROWS}]
        assert writer.is_alive()


def test_idle_writer_lets_go_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "twin.duckdb"
    writer = DuckDBWarehouse(path, linger_s=0.2)  # creating the tables is a write
    deadline = time.monotonic() + _WAIT_S
    while not _plain_duckdb_can_open(path):
        assert time.monotonic() < deadline, "the idle writer kept the file"
        time.sleep(0.2)
    assert writer.query("SELECT COUNT(*) AS n FROM dead_letters") == [{"n": 0}]


def test_writer_checkpoints_only_past_the_wal_threshold(tmp_path: Path) -> None:
    path = tmp_path / "twin.duckdb"
    wal = path.with_name(path.name + ".wal")
    rows = [representative_rows()["raw_readings"]] * 10
    keep_wal = DuckDBWarehouse(path, linger_s=0, checkpoint_wal_bytes=1 << 30)
    keep_wal.insert_rows("raw_readings", rows)
    assert wal.exists() and wal.stat().st_size > 0, "under the threshold the WAL stays"
    assert keep_wal.query("SELECT COUNT(*) AS n FROM raw_readings") == [{"n": 10}]
    DuckDBWarehouse(path, linger_s=0, checkpoint_wal_bytes=0).insert_rows("raw_readings", rows)
    assert not wal.exists() or wal.stat().st_size == 0, "past the threshold: checkpointed"
    assert keep_wal.query("SELECT COUNT(*) AS n FROM raw_readings") == [{"n": 20}]


def test_a_process_exiting_while_its_writer_lingers_shuts_down_cleanly(tmp_path: Path) -> None:
    # The interpreter exits right after a write, while the lingering writer's watcher
    # thread still runs: the exit closes the warehouse and ends that thread, so the
    # rows are there and DuckDB's bindings report nothing left alive at shutdown.
    path = tmp_path / "exit.duckdb"
    script = (
        "import sys\n"
        "from tests.warehouse.rows import representative_rows\n"
        "from warehouse import open_warehouse\n"
        "row = representative_rows()['spine_points']\n"
        "open_warehouse(sys.argv[1]).insert_rows('spine_points', [row])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"duckdb://{path}"],
        capture_output=True,
        text=True,
        timeout=_WAIT_S,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr[:500]
    reader = DuckDBWarehouse(path)
    try:
        (row,) = reader.query("SELECT COUNT(*) AS n FROM spine_points")
        assert row["n"] == 1
    finally:
        reader.close()


def test_a_large_write_goes_straight_into_the_file(tmp_path: Path) -> None:
    """A write past ``_DIRECT_WRITE_BYTES`` is committed by a checkpoint (no WAL left
    even while the writer keeps the file), and visible to the next reader; a small
    write after it still commits through the WAL."""
    path = tmp_path / "twin.duckdb"
    wal = path.with_name(path.name + ".wal")
    row = representative_rows()["raw_readings"]
    big = row.model_copy(update={"payload": "x" * 100_000})
    writer = DuckDBWarehouse(path, linger_s=60, checkpoint_wal_bytes=1 << 30)
    try:
        writer.insert_rows("raw_readings", [big] * 50)  # 5 MB of payloads
        assert not wal.exists() or wal.stat().st_size == 0, "written past the WAL"
        writer.insert_rows("raw_readings", [row])
        assert wal.exists() and wal.stat().st_size > 0, "a small write uses the WAL"
        (setting,) = writer.query("SELECT current_setting('checkpoint_threshold') AS t")
        assert setting["t"] == "16.0 MiB", "DuckDB's own threshold is restored"
    finally:
        writer.close()
    reader = DuckDBWarehouse(path, linger_s=0)
    try:
        (got,) = reader.query("SELECT COUNT(*) AS n, SUM(LENGTH(payload)) AS b FROM raw_readings")
        assert got == {"n": 51, "b": 50 * 100_000 + len(row.payload)}
    finally:
        reader.close()


def test_a_reader_through_the_writers_own_handle_leaves_the_file_attached(
    tmp_path: Path,
) -> None:
    """A reader in the writer's process reads through the writer's handle
    (``shared_warehouse``): it sees every committed row, WAL included, and the writer
    keeps the file; a second handle's query takes the file from it (the writer
    detaches, and attaches again at its next write)."""
    path = tmp_path / "twin.duckdb"
    row = representative_rows()["raw_readings"]
    writer = DuckDBWarehouse(path, linger_s=60, checkpoint_wal_bytes=1 << 30)
    other = DuckDBWarehouse(path, linger_s=0)
    try:
        writer.insert_rows("raw_readings", [row] * 3)
        attachment = writer._lingering
        assert attachment is not None, "the write left the file attached"
        assert writer.query("SELECT COUNT(*) AS n FROM raw_readings") == [{"n": 3}]
        assert writer._lingering is attachment, "the own-handle read kept the attachment"
        assert other.query("SELECT COUNT(*) AS n FROM raw_readings") == [{"n": 3}]
        assert writer._lingering is None, "a second handle's read made the writer let go"
        writer.insert_rows("raw_readings", [row])
        assert writer.query("SELECT COUNT(*) AS n FROM raw_readings") == [{"n": 4}]
    finally:
        other.close()
        writer.close()


def test_reads_through_the_writers_handle_do_not_keep_the_file(tmp_path: Path) -> None:
    """The writer lets go ``linger_s`` after its last write even while a reader of its
    own process keeps querying through its handle."""
    path = tmp_path / "twin.duckdb"
    linger_s = 2.0  # long enough that a descheduled test thread still finds it attached
    writer = DuckDBWarehouse(path, linger_s=linger_s, checkpoint_wal_bytes=1 << 30)
    count = "SELECT COUNT(*) AS n FROM raw_readings"
    try:
        # Transpiled (sqlglot imported) before the write: a first query slower than
        # linger_s would let the file go whatever the reads do.
        assert writer.query(count) == [{"n": 0}]
        writer.insert_rows("raw_readings", [representative_rows()["raw_readings"]])
        assert writer._lingering is not None
        deadline = time.monotonic() + 30 * linger_s
        while writer._lingering is not None and time.monotonic() < deadline:
            assert writer.query(count) == [{"n": 1}]
            time.sleep(0.01)
        assert writer._lingering is None, "reads kept the writer attached"
    finally:
        writer.close()
