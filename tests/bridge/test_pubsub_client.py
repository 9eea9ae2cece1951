"""The bridge's batcher: batches close when full, an ordering key has one batch in flight
at a time, each batch completes once with its items, a stop sends what is queued.

The gRPC channel is replaced by a recorder whose calls complete when the test says, so
the order of events is the test's, not the network's (the batcher against the real
emulator is covered by the bridge's integration tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from bridge.pubsub_client import BatchPublisher


class _Call:
    """A pending Publish call: ``complete()`` runs its done callbacks."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.data = [m.data for m in request.messages]
        self._callbacks: list[Callable[[_Call], None]] = []
        self._exception: BaseException | None = None

    def add_done_callback(self, callback: Callable[[_Call], None]) -> None:
        self._callbacks.append(callback)

    def exception(self) -> BaseException | None:
        return self._exception

    def complete(self, exception: BaseException | None = None) -> None:
        self._exception = exception
        for callback in self._callbacks:
            callback(self)


class _Channel:
    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self._lock = threading.Lock()

    def unary_unary(self, method: str, **_kwargs: Any) -> _Channel:
        assert method == "/google.pubsub.v1.Publisher/Publish"
        return self

    def future(self, request: Any, **_kwargs: Any) -> _Call:
        call = _Call(request)
        with self._lock:
            self.calls.append(call)
        return call

    def wait_calls(self, n: int) -> list[_Call]:
        deadline = time.monotonic() + 5
        while len(self.calls) < n:
            assert time.monotonic() < deadline, f"{len(self.calls)} calls, expected {n}"
            time.sleep(0.01)
        time.sleep(0.05)
        assert len(self.calls) == n, f"{len(self.calls)} calls, expected {n}"
        return list(self.calls)


def _publisher(
    channel: _Channel, done: list[tuple[list[int], BaseException | None]]
) -> BatchPublisher[int]:
    def on_done(items: Sequence[int], exc: Exception | None) -> None:
        done.append((list(items), exc))

    return BatchPublisher(
        channel,  # type: ignore[arg-type]
        on_done,
        max_messages=2,
        max_bytes=10_000,
        max_latency_s=60.0,
        max_in_flight_bytes=1_000_000,
        timeout_s=5.0,
    )


def test_ordering_key_has_one_batch_in_flight_and_batches_leave_in_order() -> None:
    channel, done = _Channel(), []
    publisher = _publisher(channel, done)
    for i in range(1, 6):
        publisher.publish("projects/p/topics/t", b"m%d" % i, {"k": "v"}, "ATL-01", 100, i)
    (first,) = channel.wait_calls(1)  # [m1, m2] sent; [m3, m4] waits for it
    assert first.data == [b"m1", b"m2"]
    assert first.request.messages[0].ordering_key == "ATL-01"
    assert first.request.messages[0].attributes["k"] == "v"
    first.complete()
    assert done == [([1, 2], None)]
    second = channel.wait_calls(2)[1]
    assert second.data == [b"m3", b"m4"]
    failure = RuntimeError("unavailable")
    second.complete(failure)
    assert done[1] == ([3, 4], failure)
    publisher.stop(timeout_s=0.5)  # m5 was waiting for its latency: sent now
    third = channel.wait_calls(3)[2]
    assert third.data == [b"m5"]
    third.complete()
    assert done[2] == ([5], None)


def test_without_ordering_key_full_batches_go_out_together() -> None:
    channel, done = _Channel(), []
    publisher = _publisher(channel, done)
    for i in range(1, 5):
        publisher.publish("projects/p/topics/t", b"m%d" % i, {}, "", 100, i)
    calls = channel.wait_calls(2)
    assert [c.data for c in calls] == [[b"m1", b"m2"], [b"m3", b"m4"]]
    calls[1].complete()
    calls[0].complete()
    assert done == [([3, 4], None), ([1, 2], None)]
    publisher.stop(timeout_s=0.5)


def test_a_stopped_publisher_refuses_new_messages() -> None:
    channel, done = _Channel(), []
    publisher = _publisher(channel, done)
    publisher.stop(timeout_s=0.5)
    with pytest.raises(RuntimeError):
        publisher.publish("projects/p/topics/t", b"late", {}, "", 100, 1)
    assert channel.calls == [] and done == []
