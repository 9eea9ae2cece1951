"""How far a running backfill has got: readings read and dead letters so far.

Beam's counters are no help while a local batch job runs: the ``FnApiRunner`` runs the
whole job inside ``Pipeline.run()`` and reports its counters when a bundle ends, and a
backfill's reading stage is one bundle. So the backfill also adds to a process-wide
tally, once per batch of readings read (10,000 at a time, not per reading: nothing
measurable) and once per dead letter (few), which the CLI prints while the job runs.

The tally only sees work done in this process (the ``FnApiRunner`` with its default
in-process worker). A job on Dataflow runs elsewhere; ``run()`` returns while it is
running, and its progress comes from the job's counters
(:func:`beam.counts.job_counts` on the running result).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TypeVar

from beam.batches import MessageBatch

__all__ = ["Progress", "count_dead_letter", "count_read", "progress", "reset_progress"]

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Readings read and dead letters so far."""

    readings_read: int = 0
    dead_letters: int = 0


_lock = threading.Lock()
_tally = Progress()


def count_read(batch: MessageBatch) -> MessageBatch:
    """Pass a batch read by the backfill's source on, counting its messages."""
    global _tally
    with _lock:
        _tally = Progress(_tally.readings_read + len(batch), _tally.dead_letters)
    return batch


def count_dead_letter(dead_letter: T) -> T:
    """Pass a dead letter of the backfill on, counting it."""
    global _tally
    with _lock:
        _tally = Progress(_tally.readings_read, _tally.dead_letters + 1)
    return dead_letter


def progress() -> Progress:
    """The tally of this process since :func:`reset_progress`."""
    return _tally


def reset_progress() -> None:
    """Start counting a new job from zero (one backfill runs at a time per process)."""
    global _tally
    with _lock:
        _tally = Progress()
