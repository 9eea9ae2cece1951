"""Backfill rows committed on a thread of their own while the job goes on computing.

The backfill's sinks are fused into the stages that produce their rows: the raw rows'
into the parsing, the spine and energy rows' into the spine stage. Committing on the
bundle's thread made the job wait for DuckDB (a skid-week: 0.15 s for the 27 MB of raw
rows, 0.07 s for the spine and energy rows, 0.05 s opening the new file) on top of
the parsing and the spine. Here one writer thread per job commits each batch as a
sink hands it over, while the bundle parses or computes the next one and while the
runner ends the parsing stage and starts the spine's (it waits up to a fifth of a
stage's time there for its state sampler thread); the warehouse is opened on it too.
DuckDB inserts without holding the GIL but takes it back between its tasks, so while
the writer opens or commits the interpreter hands the GIL over every 0.5 ms instead of
5 ms (restored after; otherwise the writer waits 5 ms for the GIL each time the
parsing holds it).

What the job promises is unchanged, and checked by the job itself: its last stage
(:func:`finish_job_writes`, after every sink's stage) waits until every batch handed
over is committed, and fails the job with the error of a failed commit or opening;
a sink handing over after a failure fails its bundle with that error at once. After
a failure the writer commits nothing more (batches committed before it stay written,
as a failed job's earlier rows did). The rows counted written (``warehouse/rows``)
are those committed. A sink running in another process than the one that built the
graph (a multi-process runner) cannot be waited for from there, so it waits for its
own commits at the end of each bundle instead.
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["WarehouseWriter", "finish_job_writes", "gil_handed_over_often", "job_writer"]

_COMMIT_SWITCH_INTERVAL_S = 0.0005
"""The interpreter's GIL switch interval while a writer opens or commits (Python's
default: 5 ms)."""

_switching = threading.Lock()
_commits_running = 0
_interval_before_s = 0.005


@contextmanager
def gil_handed_over_often() -> Iterator[None]:
    """While any writer opens or commits: the GIL switch interval lowered, then restored."""
    global _commits_running, _interval_before_s
    with _switching:
        if _commits_running == 0:
            _interval_before_s = sys.getswitchinterval()
            sys.setswitchinterval(_COMMIT_SWITCH_INTERVAL_S)
        _commits_running += 1
    try:
        yield
    finally:
        with _switching:
            _commits_running -= 1
            if _commits_running == 0:
                sys.setswitchinterval(_interval_before_s)


class WarehouseWriter:
    """Commits ``(table, Arrow rows)`` batches in the order handed over, on a thread of
    its own; batches waiting together go in one transaction of up to ``max_rows``.

    Args:
        open_warehouse: called once, on the writer thread, for the warehouse to write
            to (anything with ``insert_many({table: pa.Table}) -> int``).
        max_rows: most rows one transaction takes from the batches waiting.
    """

    def __init__(self, open_warehouse: Callable[[], Any], max_rows: int) -> None:
        self._open = open_warehouse
        self._max_rows = max_rows
        self._state = threading.Condition()
        self._waiting: deque[tuple[str, pa.Table]] = deque()
        self._committing = False
        self._committed_rows = 0
        self._failure: BaseException | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="warehouse-writer", daemon=True)
        self._thread.start()

    def submit(self, table: str, rows: pa.Table) -> None:
        """Hand over a batch of ``table``'s rows; raises an earlier failure instead."""
        with self._state:
            self._raise_failure()
            if self._closing:
                raise RuntimeError("the warehouse writer is closed")
            self._waiting.append((table, rows))
            self._state.notify_all()

    def wait(self) -> int:
        """Block until every batch handed over is committed; the rows committed since
        the last call. Raises the first failure (opening or commit)."""
        with self._state:
            while (self._waiting or self._committing) and self._failure is None:
                self._state.wait()
            self._raise_failure()
            committed, self._committed_rows = self._committed_rows, 0
            return committed

    def close(self) -> None:
        """End the thread once it has committed what it holds (raises nothing)."""
        with self._state:
            self._closing = True
            self._state.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        try:
            with gil_handed_over_often():
                warehouse = self._open()
        except BaseException as exc:
            self._fail(exc)
            return
        while True:
            with self._state:
                while not self._waiting and not self._closing:
                    self._state.wait()
                if not self._waiting:
                    return
                rows_by_table = self._take()
                self._committing = True
            try:
                with gil_handed_over_often():
                    committed = int(warehouse.insert_many(rows_by_table))
            except BaseException as exc:
                self._fail(exc)
                return
            with self._state:
                self._committed_rows += committed
                self._committing = False
                self._state.notify_all()

    def _take(self) -> dict[str, pa.Table]:
        """With ``_state`` held: the waiting batches for one transaction, by table
        (always the first; more while they fit in ``max_rows``)."""
        parts: dict[str, list[pa.Table]] = {}
        rows = 0
        while self._waiting:
            table, batch = self._waiting[0]
            if parts and rows + batch.num_rows > self._max_rows:
                break
            self._waiting.popleft()
            parts.setdefault(table, []).append(batch)
            rows += batch.num_rows
        return {table: pa.concat_tables(batches) for table, batches in parts.items()}

    def _fail(self, exc: BaseException) -> None:
        with self._state:
            self._failure = exc
            self._waiting.clear()
            self._committing = False
            self._state.notify_all()


_JOB_WRITERS: dict[str, WarehouseWriter] = {}
_JOB_WRITERS_LOCK = threading.Lock()


def job_writer(job: str, open_warehouse: Callable[[], Any], max_rows: int) -> WarehouseWriter:
    """The writer of job ``job`` in this process (started, and the warehouse opened on
    it, by the first sink that asks)."""
    with _JOB_WRITERS_LOCK:
        writer = _JOB_WRITERS.get(job)
        if writer is None:
            writer = WarehouseWriter(open_warehouse, max_rows)
            _JOB_WRITERS[job] = writer
        return writer


def finish_job_writes(job: str) -> int:
    """Wait until job ``job``'s writer has committed everything, then end it; the rows
    committed since the last wait (0 if the job had no writer here). Raises the first
    failure."""
    with _JOB_WRITERS_LOCK:
        writer = _JOB_WRITERS.pop(job, None)
    if writer is None:
        return 0
    try:
        return writer.wait()
    finally:
        writer.close()


@atexit.register
def _end_job_writers() -> None:
    """Writers of jobs that failed elsewhere: commit what they hold and end (a daemon
    thread frozen at exit would keep DuckDB objects alive)."""
    with _JOB_WRITERS_LOCK:
        writers = list(_JOB_WRITERS.values())
        _JOB_WRITERS.clear()
    for writer in writers:
        writer.close()
