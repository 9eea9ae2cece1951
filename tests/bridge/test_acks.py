"""Acknowledgements: only when safe, in arrival order, never on a later connection."""

from __future__ import annotations

from bridge.acks import AckWindow


def test_acks_leave_in_arrival_order_only_up_to_what_is_safe() -> None:
    sent: list[tuple[int, int]] = []
    window = AckWindow(lambda mid, qos: sent.append((mid, qos)))
    for seq, mid in enumerate((11, 12, 13)):
        window.received(seq, mid, 1)
    assert window.complete_through(0) == 0
    assert sent == []
    assert window.complete_through(2) == 2
    assert sent == [(11, 1), (12, 1)]
    assert window.pending == 1
    assert window.complete_through(2) == 0  # a repeated status sends nothing twice
    assert window.complete_through(3) == 1
    assert sent == [(11, 1), (12, 1), (13, 1)]
    assert window.pending == 0


def test_qos0_needs_no_ack_and_does_not_block_others() -> None:
    sent: list[tuple[int, int]] = []
    window = AckWindow(lambda mid, qos: sent.append((mid, qos)))
    window.received(0, 0, 0)
    window.received(1, 5, 1)
    assert window.pending == 1
    assert window.complete_through(2) == 1
    assert sent == [(5, 1)]


def test_acks_owed_to_a_dropped_connection_are_never_sent() -> None:
    """After a reconnect the broker resends unacked messages and may reuse their packet
    ids for others: an old ack sent now could acknowledge a message not yet safe."""
    sent: list[tuple[int, int]] = []
    window = AckWindow(lambda mid, qos: sent.append((mid, qos)))
    window.received(0, 1, 1)
    window.received(1, 2, 1)
    assert window.reset() == 2
    window.received(2, 1, 1)  # same packet id, possibly a different message
    assert window.complete_through(2) == 0  # the old connection's messages are safe now
    assert sent == []
    assert window.complete_through(3) == 1
    assert sent == [(1, 1)]
