"""A readers-writer lock between processes (and threads) for one DuckDB file.

DuckDB lets one process open a file read-write or many open it read-only, never both,
and it fails at once (it does not wait) on a conflict. This lock turns that into
waiting: readers share it, a writer holds it alone, for as long as one short-lived
connection is open.

It uses ``flock`` on two side files, not ``fcntl``/``lockf`` record locks: ``flock``
belongs to the open file, so two threads of one process (the Beam DirectRunner runs
bundles in threads) exclude each other too, whereas record locks are per process.

Writer preference: a writer first takes the *gate* exclusively and holds it until it
has the data lock; readers pass the gate (shared) before taking the data lock. A
waiting writer thus stops new readers from queueing up in front of it, so a steady
stream of readers cannot starve the streaming job, and a reader waits at most for the
write in progress plus the one queued.

Waits are bounded: past ``timeout_s`` the caller gets :class:`WarehouseBusyError`
(the Beam bundle then retries; a function answers 503) instead of hanging.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from warehouse.interface import WarehouseBusyError

__all__ = ["ReadWriteFileLock"]

_FIRST_SLEEP_S = 0.001
_MAX_SLEEP_S = 0.005


class ReadWriteFileLock:
    """Shared/exclusive lock on ``<path>.lock`` with a writer gate ``<path>.gate``."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self._gate = path.with_name(path.name + ".gate")
        self._data = path.with_name(path.name + ".lock")
        self.timeout_s = timeout_s

    def _acquire(self, path: Path, operation: int, deadline: float) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
        sleep_s = _FIRST_SLEEP_S
        while True:
            try:
                fcntl.flock(fd, operation | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise WarehouseBusyError(
                        f"{path} stayed locked for {self.timeout_s:g} s "
                        "(another process is writing the warehouse)"
                    ) from None
                time.sleep(sleep_s)
                sleep_s = min(sleep_s * 2, _MAX_SLEEP_S)

    @contextmanager
    def _held(self, operation: int) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        gate = self._acquire(self._gate, operation, deadline)
        try:
            data = self._acquire(self._data, operation, deadline)
        finally:
            os.close(gate)
        try:
            yield
        finally:
            os.close(data)

    def shared(self) -> AbstractContextManager[None]:
        """Hold the lock with other readers."""
        return self._held(fcntl.LOCK_SH)

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the lock alone."""
        return self._held(fcntl.LOCK_EX)

    def wanted(self) -> bool:
        """True when someone else is at the gate: a reader or writer (another process,
        or another handle in this one) waiting for the lock this caller holds. Also
        True when the gate file is gone (its directory is being removed): let go."""
        try:
            fd = os.open(self._gate, os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False
