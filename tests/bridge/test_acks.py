"""Acknowledgements: only when safe, in arrival order, never on a later connection."""

from __future__ import annotations

from bridge.acks import AckWindow


def test_acks_leave_in_arrival_order_whatever_the_completion_order() -> None:
    sent: list[tuple[int, int]] = []
    window = AckWindow(lambda mid, qos: sent.append((mid, qos)))
    tokens = [window.received(mid, 1) for mid in (11, 12, 13)]
    assert window.complete(tokens[2]) == 0
    assert window.complete(tokens[1]) == 0
    assert sent == []
    assert window.complete(tokens[0]) == 3
    assert sent == [(11, 1), (12, 1), (13, 1)]
    assert window.pending == 0


def test_qos0_needs_no_ack_and_does_not_block_others() -> None:
    sent: list[tuple[int, int]] = []
    window = AckWindow(lambda mid, qos: sent.append((mid, qos)))
    q0 = window.received(0, 0)
    q1 = window.received(5, 1)
    window.complete(q1)
    window.complete(q0)
    assert sent == [(5, 1)]


def test_acks_owed_to_a_dropped_connection_are_never_sent() -> None:
    """After a reconnect the broker resends unacked messages and may reuse their packet
    ids for others: an old ack sent now could acknowledge a message not yet safe."""
    sent: list[tuple[int, int]] = []
    window = AckWindow(lambda mid, qos: sent.append((mid, qos)))
    old = [window.received(mid, 1) for mid in (1, 2)]
    window.complete(old[1])
    assert window.reset() == 2
    new = window.received(1, 1)  # same packet id, possibly a different message
    assert window.complete(old[0]) == 0
    assert sent == []
    assert window.complete(new) == 1
    assert sent == [(1, 1)]
