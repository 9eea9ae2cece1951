"""The streaming sink's buffer: rows land without a flush from the job, a refused
commit keeps its rows and fails the next bundle, a flush lands everything at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import beam.warehouse_buffer as warehouse_buffer_module
from beam.warehouse_buffer import WarehouseBuffer, flush_warehouse_buffers, warehouse_buffer
from tests.warehouse.rows import representative_rows
from warehouse import WarehouseError, open_warehouse

ROWS = representative_rows()


def _count(url: str, table: str) -> int:
    (row,) = open_warehouse(url).query(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"])


def test_buffered_rows_are_committed_by_the_flusher(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/buffered.duckdb"
    buffer = WarehouseBuffer(url, interval_s=0.05)
    buffer.add({"spine_points": [ROWS["spine_points"]], "energy_rows": [ROWS["energy_rows"]]})
    buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _count(url, "raw_readings") == 0:
        time.sleep(0.05)
    assert [_count(url, t) for t in ("spine_points", "energy_rows", "raw_readings")] == [1, 1, 1]
    assert buffer.flush() == 0
    buffer.close()


def test_a_refused_commit_keeps_its_rows_and_fails_the_next_bundle(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/refused.duckdb"
    buffer = WarehouseBuffer(url, interval_s=60.0)
    # A spine row filed under energy_rows: the warehouse refuses the whole commit.
    buffer.add({"energy_rows": [ROWS["spine_points"]], "dead_letters": [ROWS["dead_letters"]]})
    with pytest.raises(WarehouseError):
        buffer.flush()
    with pytest.raises(WarehouseError):
        buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    assert _count(url, "dead_letters") == 0
    with pytest.raises(WarehouseError):  # still there, with nothing dropped
        buffer.close()


def test_flushing_every_buffer_lands_what_a_stopped_job_left(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/stopped.duckdb"
    buffer = warehouse_buffer(url, interval_s=60.0)
    assert buffer.add({"dead_letters": [ROWS["dead_letters"]] * 3}) == 3
    assert flush_warehouse_buffers() == 3
    assert _count(url, "dead_letters") == 3


def test_at_exit_a_refusing_warehouse_does_not_strand_another_ones_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = WarehouseBuffer(f"duckdb:///{tmp_path}/refused.duckdb", interval_s=60.0)
    refused.add({"energy_rows": [ROWS["spine_points"]]})  # a commit the warehouse refuses
    good_url = f"duckdb:///{tmp_path}/good.duckdb"
    good = WarehouseBuffer(good_url, interval_s=60.0)
    good.add({"dead_letters": [ROWS["dead_letters"]] * 2})
    monkeypatch.setattr(warehouse_buffer_module, "_BUFFERS", {"a": refused, "b": good})
    with pytest.raises(WarehouseError):
        warehouse_buffer_module._close_warehouse_buffers()
    assert _count(good_url, "dead_letters") == 2


def test_open_creates_the_tables_and_commits_are_counted_per_table(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/counted.duckdb"
    buffer = WarehouseBuffer(url, interval_s=60.0)
    buffer.open()
    assert _count(url, "raw_readings") == 0  # tables there before any row
    buffer.add({"dead_letters": [ROWS["dead_letters"]] * 2, "raw_readings": [ROWS["raw_readings"]]})
    assert buffer.committed("dead_letters") == 0  # buffered, not committed
    buffer.flush()
    buffer.add({"dead_letters": [ROWS["dead_letters"]]})
    buffer.flush()
    assert [buffer.committed(t) for t in ("dead_letters", "raw_readings", "spine_points")] == [
        3,
        1,
        0,
    ]
    assert _count(url, "dead_letters") == 3
    buffer.close()


def test_rows_are_committed_once_no_more_come_not_after_the_whole_interval(
    tmp_path: Path,
) -> None:
    """A job that has gone quiet (its subscription drained) lands its last rows within
    about ``QUIET_S``, not ``interval_s`` later."""
    url = f"duckdb:///{tmp_path}/quiet.duckdb"
    buffer = WarehouseBuffer(url, interval_s=120.0)
    buffer.open()
    buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and buffer.committed("raw_readings") == 0:
        time.sleep(0.01)
    assert buffer.committed("raw_readings") == 1
    assert _count(url, "raw_readings") == 1
    buffer.close()


def test_the_wait_for_more_rows_follows_a_bursts_pace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows wait ``QUIET_GAPS`` mean gaps of a burst for more (at least ``QUIET_S``);
    gaps of a pause (a trickle after the burst, 30 ms or more) leave the pace as the
    burst set it. The clock is the test's: each add at a time it chooses."""
    now = [100.0]
    monkeypatch.setattr(warehouse_buffer_module.time, "monotonic", lambda: now[0])
    buffer = WarehouseBuffer(f"duckdb:///{tmp_path}/pace.duckdb", interval_s=60.0)
    monkeypatch.setattr(buffer, "_flusher", object())  # no thread: the pace only
    assert buffer.quiet_s() == warehouse_buffer_module.QUIET_S
    for gap_s in (0.0, 0.012, 0.012, 0.012):  # a slow machine's burst
        now[0] += gap_s
        buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    assert buffer.quiet_s() == pytest.approx(1.5 * 0.012)
    for _ in range(5):  # a trickle, one row per 50 ms: pauses, not the burst's pace
        now[0] += 0.05
        buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    assert buffer.quiet_s() == pytest.approx(1.5 * 0.012)
    for _ in range(40):  # a fast burst: the floor
        now[0] += 0.001
        buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    assert buffer.quiet_s() == warehouse_buffer_module.QUIET_S
    for _ in range(40):  # bundles 29 ms apart: still a burst
        now[0] += 0.029
        buffer.add({"raw_readings": [ROWS["raw_readings"]]})
    assert buffer.quiet_s() == pytest.approx(1.5 * 0.029, rel=1e-3)


def test_one_file_has_one_buffer_however_its_url_is_spelt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two buffers on one file would commit past each other's counts; a relative URL
    names a file of the working directory at the time it is asked for."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    buffer = warehouse_buffer(f"duckdb:///{tmp_path}/spelt.duckdb")
    assert warehouse_buffer(f"duckdb://{tmp_path}/sub/../spelt.duckdb") is buffer
    assert warehouse_buffer("duckdb://spelt.duckdb") is buffer
    monkeypatch.chdir(tmp_path / "sub")
    assert warehouse_buffer("duckdb://spelt.duckdb") is not buffer
