"""Streaming rows on their way to a local warehouse, committed across bundles.

The local streaming runner runs one bundle at a time on its only worker thread, and
a DuckDB commit (7-18 ms with its WAL fsync, more while a reader holds the file) per
bundle ran on that thread. Here a bundle hands its rows to a per-process buffer and
returns; a flusher thread commits what has gathered, all tables in one
``insert_many``, once no row has come for a little longer than a burst's bundles are
apart (``QUIET_S``: the job is idle or waiting on Pub/Sub, the rows need not wait for
more) or ``interval_s`` after the first row came in (a burst: one commit for many
bundles), whichever is first.

Durability. The local runner acknowledges Pub/Sub messages when it pulls them, so
whatever a bundle holds is already lost if the process dies; buffering widens that
window by at most ``interval_s``. :func:`flush_warehouse_buffers` commits everything
now: ``dra-twin stream`` calls it after stopping the job, and it runs at interpreter
exit. A commit that fails keeps its rows; the flusher retries, and the next bundle
commits on the worker thread before adding its own, so the bundle fails (and the
runner retries it, then fails the job) if the warehouse still refuses: nothing is
dropped silently. Dataflow does not use this: its sink is ``WriteToBigQuery``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from apache_beam.metrics import Metrics
from pydantic import BaseModel

from schemas.tables import TABLE_OF_MODEL

__all__ = ["BundleRows", "WarehouseBuffer", "flush_warehouse_buffers", "warehouse_buffer"]

_LOG = logging.getLogger(__name__)

_MAX_PENDING_ROWS = 50_000
"""Rows buffered at most: beyond, the bundle commits them itself (back-pressure)."""

FLUSH_INTERVAL_S = 0.2
"""How long rows wait in the buffer for more, at most, before they are committed."""

QUIET_S = 0.005
"""Rows are committed once no more have come for a little longer than the bundles of a
burst are apart (:data:`QUIET_GAPS` of their recent mean gap), this long at least:
the burst is over. Too short and a burst's rows go in a commit per bundle, whose
work on the buffer's thread slows the pulling thread; too long and the last rows
wait. The gap depends on the machine, so the wait follows it: in paired streaming
benchmark runs, a fixed 5 ms landed a backlog ~80 ms sooner than 20 ms when bundles
came every ~5 ms, and ~90 ms later when the machine was slower."""

QUIET_GAPS = 1.5
"""How many mean gaps between a burst's bundles make it over."""

_BURST_GAP_MAX_S = 0.03
"""Gaps between rows longer than this are pauses, not a burst's pace (so the wait is
45 ms at most)."""

_GAP_WEIGHT = 0.2
"""Weight of the newest gap in the running mean."""

_IDLE_EXIT_S = 5.0
"""A flusher with nothing to do for this long ends (a new one starts with the next row)."""


class WarehouseBuffer:
    """Rows for one warehouse, committed by a flusher thread (see the module docstring)."""

    def __init__(self, url: str, interval_s: float) -> None:
        self._url = url
        self._interval_s = interval_s
        self._state = threading.Condition()
        self._commit = threading.Lock()
        self._pending: dict[str, list[BaseModel]] = {}
        self._pending_rows = 0
        self._first_at: float | None = None
        self._last_add_at: float | None = None
        self._previous_add_at: float | None = None
        self._mean_gap_s: float | None = None
        self._flusher: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._closing = False
        self._committed: dict[str, int] = {}

    def open(self) -> None:
        """Open the warehouse now (a new file's tables and views take a tenth of a
        second or more), rather than in the first commit, while bundles run."""
        self._open()

    def _open(self) -> Any:
        """The process's handle on the warehouse (:func:`warehouse.shared_warehouse`,
        imported when first needed: the package loads DuckDB)."""
        from warehouse import shared_warehouse

        return shared_warehouse(self._url)

    def committed(self, table: str) -> int:
        """Rows of ``table`` this buffer has committed so far."""
        return self._committed.get(table, 0)

    def add(self, rows_by_table: Mapping[str, Sequence[BaseModel]]) -> int:
        """Buffer rows; returns how many. Commits on the calling thread first when the
        last commit failed (raising if it fails again) or the buffer is full."""
        if self._failed is not None:
            self.flush()
        added = 0
        with self._state:
            for table, rows in rows_by_table.items():
                self._pending.setdefault(table, []).extend(rows)
                added += len(rows)
            self._pending_rows += added
            if added:
                self._last_add_at = time.monotonic()
                self._note_gap(self._last_add_at)
                if self._first_at is None:
                    self._first_at = self._last_add_at
            full = self._pending_rows >= _MAX_PENDING_ROWS
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="warehouse-buffer", daemon=True
                )
                self._flusher.start()
            self._state.notify()
        if full:
            self.flush()
        return added

    def _note_gap(self, now: float) -> None:
        """With ``_state`` held: the running mean of the gaps between rows in a burst."""
        if self._previous_add_at is not None:
            gap_s = now - self._previous_add_at
            if gap_s < _BURST_GAP_MAX_S:
                mean = self._mean_gap_s
                self._mean_gap_s = gap_s if mean is None else mean + _GAP_WEIGHT * (gap_s - mean)
        self._previous_add_at = now

    def quiet_s(self) -> float:
        """How long rows wait for more before they are committed (see :data:`QUIET_S`)."""
        if self._mean_gap_s is None:
            return QUIET_S
        return max(QUIET_S, QUIET_GAPS * self._mean_gap_s)

    def flush(self) -> int:
        """Commit everything buffered now (one transaction); the rows written."""
        with self._commit:
            with self._state:
                pending, self._pending = self._pending, {}
                self._pending_rows, self._first_at, self._last_add_at = 0, None, None
            if not pending:
                return 0
            try:
                written = int(self._open().insert_many(pending))
            except BaseException as exc:
                self._failed = exc
                self._restore(pending)
                raise
            self._failed = None
            for table, rows in pending.items():
                self._committed[table] = self._committed.get(table, 0) + len(rows)
            return written

    def _restore(self, rows_by_table: dict[str, list[BaseModel]]) -> None:
        """Put rows whose commit failed back in front of what came since."""
        with self._state:
            for table, rows in self._pending.items():
                rows_by_table.setdefault(table, []).extend(rows)
            self._pending = rows_by_table
            self._pending_rows = sum(len(rows) for rows in rows_by_table.values())
            self._first_at, self._last_add_at = time.monotonic(), None

    def _flush_loop(self) -> None:
        while True:
            with self._state:
                if not self._wait_until_due():
                    self._flusher = None
                    return
            try:
                self.flush()
            except Exception:
                # The rows are back in the buffer, due again in interval_s.
                _LOG.exception("warehouse commit failed; retrying in %.1f s", self._interval_s)

    def _wait_until_due(self) -> bool:
        """With ``_state`` held: wait until the buffered rows are due. False when the
        buffer closes or nothing came for ``_IDLE_EXIT_S``."""
        idle_since = time.monotonic()
        while not self._closing:
            if self._first_at is None:
                if time.monotonic() - idle_since >= _IDLE_EXIT_S:
                    return False
                self._state.wait(_IDLE_EXIT_S)
                continue
            due_at = self._first_at + self._interval_s
            if self._last_add_at is not None:
                due_at = min(due_at, self._last_add_at + self.quiet_s())
            due_s = due_at - time.monotonic()
            if due_s <= 0:
                return True
            self._state.wait(due_s)
        return False

    def close(self) -> None:
        """Commit what is left and end the flusher (at interpreter exit: a daemon
        thread frozen there would keep DuckDB objects alive)."""
        try:
            self.flush()
        finally:
            with self._state:
                self._closing = True
                flusher = self._flusher
                self._state.notify()
            if flusher is not None and flusher is not threading.current_thread():
                flusher.join()


_BUFFERS: dict[str, WarehouseBuffer] = {}
"""Canonical URL -> its buffer."""
_SPELLINGS: dict[str, WarehouseBuffer] = {}
"""Each URL as asked for -> its file's buffer."""
_BUFFERS_LOCK = threading.Lock()


def warehouse_buffer(url: str, interval_s: float = FLUSH_INTERVAL_S) -> WarehouseBuffer:
    """The process's buffer for the warehouse at ``url`` (opened by :meth:`WarehouseBuffer.open`
    or its first commit): one per file, however its URL is spelt
    (:func:`warehouse.url.canonical_url`, resolved once per absolute spelling: every
    bundle asks; a relative one depends on the working directory, so always)."""
    with _BUFFERS_LOCK:
        buffer = _SPELLINGS.get(url)
        if buffer is None:
            from warehouse.url import canonical_url  # the package loads DuckDB

            canonical = canonical_url(url)
            buffer = _BUFFERS.get(canonical)
            if buffer is None:
                buffer = WarehouseBuffer(canonical, interval_s)
                _BUFFERS[canonical] = buffer
            if url.partition("://")[2].startswith("/") or canonical == url:
                _SPELLINGS[url] = buffer
        return buffer


def flush_warehouse_buffers() -> int:
    """Commit every buffer of this process now; the rows written."""
    with _BUFFERS_LOCK:
        buffers = list(_BUFFERS.values())
    return sum(buffer.flush() for buffer in buffers)


@atexit.register
def _close_warehouse_buffers() -> None:
    with _BUFFERS_LOCK:
        buffers = list(_BUFFERS.values())
    failures = []
    for buffer in buffers:
        try:
            buffer.close()
        except Exception as exc:  # one warehouse refusing must not strand the others' rows
            failures.append(exc)
    if failures:
        raise failures[0]


class BundleRows:
    """The rows a streaming stage writes to the local warehouse itself: gathered over
    a bundle, handed to the process's :class:`WarehouseBuffer` when it finishes.

    The parsing and the spine write their own rows rather than emit them to a sink
    stage: on the local runner a sink stage costs a bundle (a DoFn built, pickled and
    inspected, watermarks updated) per producing bundle, empty or not, on the one
    thread that also pulls from Pub/Sub. Never pickled: the DoFns holding one pickle
    as their constructor's arguments (:mod:`beam.dofn_pickling`) and make their own.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._rows: dict[str, list[BaseModel]] = {}
        self._buffered = Metrics.counter("warehouse", "rows")

    def add(self, record: BaseModel) -> None:
        """One row of any warehouse table (told by its model)."""
        self._rows.setdefault(TABLE_OF_MODEL[type(record)], []).append(record)

    def hand_over(self) -> None:
        """The bundle's rows to the buffer (the DoFn's ``finish_bundle``)."""
        rows, self._rows = self._rows, {}
        if rows:
            self._buffered.inc(warehouse_buffer(self._url).add(rows))
