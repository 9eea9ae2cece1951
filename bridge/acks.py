"""MQTT acknowledgements sent only once a reading is safe, in arrival order, per connection.

Two rules keep "never lose a reading" true:

* A PUBACK goes out only after Pub/Sub (or the dead-letter topic) accepted the
  message. Completions arrive out of order on Pub/Sub's threads; acknowledgements
  leave in the order the messages arrived (as MQTT asks of a receiver), so one slow
  publish holds back the acks behind it, never the other way round.
* Packet ids belong to a connection. After a disconnect the broker resends every
  unacknowledged message and may reuse an id for a different one, so an ack owed to
  the old connection must never be sent on the new one: :meth:`AckWindow.reset`
  forgets them (the resent copies are forwarded again: a duplicate, not a loss).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AckToken", "AckWindow"]


@dataclass(eq=False)
class AckToken:
    """One received message awaiting its acknowledgement."""

    generation: int
    mid: int
    qos: int
    done: bool = field(default=False)


class AckWindow:
    """Ordered acknowledgements of the current connection.

    ``send_ack(mid, qos)`` is called with the window's lock held, so a reset (from the
    network thread, on disconnect) and an ack (from a publish callback) never
    interleave: once :meth:`reset` returns, no ack of the old connection is sent.
    """

    def __init__(self, send_ack: Callable[[int, int], object]) -> None:
        self._send_ack = send_ack
        self._lock = threading.Lock()
        self._generation = 0
        self._pending: deque[AckToken] = deque()

    def reset(self) -> int:
        """Start a new connection; returns how many acks of the old one are abandoned."""
        with self._lock:
            self._generation += 1
            dropped = len(self._pending)
            self._pending.clear()
            return dropped

    def received(self, mid: int, qos: int) -> AckToken:
        """Register a message as it arrives (network thread); QoS 0 needs no ack."""
        with self._lock:
            token = AckToken(self._generation, mid, qos, done=qos == 0)
            if qos > 0:
                self._pending.append(token)
            return token

    def complete(self, token: AckToken) -> int:
        """The message is safe: acknowledge it and every completed one before it.

        Returns how many acks were sent (0 while an earlier message is still pending,
        or when ``token`` belongs to a connection that has since dropped)."""
        sent = 0
        with self._lock:
            token.done = True
            if token.generation != self._generation:
                return 0
            while self._pending and self._pending[0].done:
                head = self._pending.popleft()
                self._send_ack(head.mid, head.qos)
                sent += 1
        return sent

    @property
    def pending(self) -> int:
        """Acknowledgements owed on the current connection."""
        with self._lock:
            return len(self._pending)
