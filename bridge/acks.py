"""MQTT acknowledgements sent only once a reading is safe, in arrival order, per connection.

Two rules keep "never lose a reading" true:

* A PUBACK goes out only after Pub/Sub (or the dead-letter topic) accepted the
  message. Messages are numbered in arrival order and the forwarding process reports
  how far every message is safe ("all below N"), so acknowledgements leave in arrival
  order (as MQTT asks of a receiver) and one slow publish holds back the acks behind
  it, never the other way round.
* Packet ids belong to a connection. After a disconnect the broker resends every
  unacknowledged message and may reuse an id for a different one, so an ack owed to
  the old connection must never be sent on the new one: :meth:`AckWindow.reset`
  forgets them (the resent copies are forwarded again: a duplicate, not a loss).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

__all__ = ["AckWindow"]


class AckWindow:
    """Ordered acknowledgements of the current connection.

    :meth:`received` and :meth:`reset` are called on the MQTT network thread only, so
    they never interleave and :meth:`received` takes no lock (a deque append is atomic).
    ``send_ack(mid, qos)`` is called with the window's lock held, so a reset (on
    disconnect) and an ack (from the thread reading the forwarding process's
    statuses) never interleave either: once :meth:`reset` returns, no ack of the old
    connection is sent.
    """

    def __init__(self, send_ack: Callable[[int, int], object]) -> None:
        self._send_ack = send_ack
        self._lock = threading.Lock()
        self._pending: deque[tuple[int, int, int]] = deque()

    def reset(self) -> int:
        """Start a new connection; returns how many acks of the old one are abandoned."""
        with self._lock:
            dropped = len(self._pending)
            self._pending.clear()
            return dropped

    def received(self, seq: int, mid: int, qos: int) -> None:
        """Register message number ``seq`` (numbers increase in arrival order, across
        connections) with its packet id. Only QoS 1 and 2 need an ack: QoS 0 messages
        are not registered."""
        if qos > 0:
            self._pending.append((seq, mid, qos))

    def complete_through(self, done_through: int) -> int:
        """Every message numbered below ``done_through`` is safe: acknowledge those of
        the current connection, in arrival order. Returns how many acks were sent (none
        for messages of a connection that has since dropped: they were forgotten)."""
        sent = 0
        with self._lock:
            pending = self._pending
            while pending and pending[0][0] < done_through:
                _, mid, qos = pending.popleft()
                self._send_ack(mid, qos)
                sent += 1
        return sent

    @property
    def pending(self) -> int:
        """Acknowledgements owed on the current connection."""
        with self._lock:
            return len(self._pending)
