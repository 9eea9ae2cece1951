"""The bridge's Pub/Sub half, in a process of its own: attributes, dead letters, batched
publishing and retries.

Why a second process: paho-mqtt's network thread is pure Python and, in the bridge's
benchmark, already costs ~40 µs of CPU per message; building the attributes (a JSON
parse for ``ts``), the protobuf messages and the gRPC calls cost as much again, and in
one process the interpreter lock serialises both halves on one core (measured: one
process 74-91 µs per message, 0.49-0.53x of a raw paho subscriber). Here the MQTT
process only receives, hands raw messages over in batches and acknowledges; this
process does the rest on the other core.

The two talk over two pipes, in pickled frames (``multiprocessing.connection``
framing). MQTT process → here: the :class:`ForwarderSettings`, then batches
``(first_seq, [record, ...])`` numbered in arrival order, then ``None`` to stop. Here →
MQTT process: a :class:`ForwarderStatus` when ready and after every change, whose
``done_through`` says that every message numbered below it is safe (accepted by
Pub/Sub or the dead-letter topic). The MQTT process acknowledges exactly those, so the
guarantee is unchanged: a message is acknowledged only after Pub/Sub accepted it, and
whatever either process loses in a crash is redelivered by the broker.

If the MQTT process goes away (its end of the pipe closes), this process exits at once:
what it had not published is still unacknowledged in the broker's session.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import heapq
import itertools
import logging
import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions as gexc

from bridge.attributes import (
    ATTR_SKID_ID,
    ATTR_TS,
    PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES,
    USER_PROPERTY_PREFIX,
    attribute_problem,
    estimated_message_bytes,
    message_attributes,
    truncate_utf8,
)
from bridge.config import PubSubConfig
from bridge.logs import configure_logging
from bridge.pubsub_client import BatchPublisher, Outgoing, make_channel, topic_path

__all__ = [
    "DEAD_LETTER_STAGE_INVALID",
    "DEAD_LETTER_STAGE_OVERSIZE",
    "ForwarderProcess",
    "ForwarderSettings",
    "ForwarderStatus",
    "Record",
]

log = logging.getLogger("bridge")

DEAD_LETTER_STAGE_OVERSIZE = "OVERSIZE"
"""``dead_letter_stage`` of a payload over the Pub/Sub size limit (schemas.DeadLetterStage)."""
DEAD_LETTER_STAGE_INVALID = "VALIDATE"
"""``dead_letter_stage`` of a message Pub/Sub would refuse (e.g. an attribute too long)."""

Record = tuple[float, str, bytes, int, bool, list[tuple[str, str]] | None]
"""One received MQTT message: (receive time as epoch seconds, topic, payload, QoS,
retain flag, MQTT 5 user properties or None)."""

_PIPE_BYTES = 1 << 20
"""Pipe buffer asked for (Linux ``F_SETPIPE_SZ``; its default ceiling is 1 MiB)."""
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ForwarderSettings:
    """What the forwarding process needs of the bridge's config (no MQTT secrets)."""

    pubsub: PubSubConfig
    skid_id_topic_level: int
    max_in_flight_bytes: int
    log_level: str


@dataclass(frozen=True)
class ForwarderStatus:
    """The forwarding process's state, sent after every change."""

    done_through: int
    """Every message numbered below this was accepted (main or dead-letter topic)."""
    published: int
    publish_failed: int
    retried: int
    dead_lettered: int
    forwarded_without_ts: int
    pubsub_up: bool
    """The gRPC channel is ready (or idle after having been ready)."""
    pubsub_state: str
    """The gRPC channel's state, for the readiness answer."""
    pubsub_error: str | None
    """The last publish's error, None once a publish succeeds again."""


@dataclass(eq=False, slots=True)
class _InFlight:
    """One received message on its way to Pub/Sub."""

    seq: int
    payload: bytes
    attributes: dict[str, str]
    ordering_key: str
    size_bytes: int
    dead_letter: bool = False
    attempts: int = 0


class _RetryQueue:
    """Re-publishes failed messages after their backoff, on one thread."""

    def __init__(self, republish: Callable[[_InFlight], None]) -> None:
        self._republish = republish
        self._heap: list[tuple[float, int, _InFlight]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="bridge-retry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def schedule(self, item: _InFlight, delay_s: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._counter), item))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, item = heapq.heappop(self._heap)
            self._republish(item)


def _fatal_on_error(callback: _F) -> _F:
    """A callback that raises on a gRPC or retry thread would leave its messages
    pending forever: log it and end the process, so the MQTT process stops too and the
    broker redelivers what was not acknowledged."""

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except Exception:
            log.exception("forwarder callback failed", extra={"event": "fatal"})
            logging.shutdown()
            os._exit(70)

    return wrapper  # type: ignore[return-value]


class _Forwarder:
    """Turns records into Pub/Sub messages, publishes them, retries failures, and
    reports which ones are safe through ``report`` (called with its lock held, so
    statuses leave in order)."""

    def __init__(self, settings: ForwarderSettings, report: Callable[[ForwarderStatus], None]):
        ps = settings.pubsub
        self._settings = settings
        self._report = report
        self._lock = threading.Lock()
        self._done_through = 0
        self._done_ahead: set[int] = set()
        self._published = 0
        self._publish_failed = 0
        self._retried = 0
        self._dead_lettered = 0
        self._without_ts = 0
        self._pubsub_error: str | None = None
        self._channel_state: grpc.ChannelConnectivity | None = None
        self._channel_was_ready = False
        self._topic_path = topic_path(ps.project, ps.topic)
        self._dead_letter_path = topic_path(ps.project, ps.dead_letter_topic)
        self._channel = make_channel(ps)
        self._publisher: BatchPublisher[_InFlight] = BatchPublisher(
            self._channel,
            _fatal_on_error(self._on_published),
            max_messages=ps.batch_max_messages,
            max_bytes=ps.batch_max_bytes,
            max_latency_s=ps.batch_max_latency_s,
            max_in_flight_bytes=settings.max_in_flight_bytes,
            timeout_s=ps.publish_timeout_s,
        )
        self._retries = _RetryQueue(_fatal_on_error(self._send))
        self._retries.start()
        self._channel.subscribe(_fatal_on_error(self._on_channel_state), try_to_connect=True)

    def status(self) -> ForwarderStatus:
        """The current state (lock held by the caller)."""
        state = self._channel_state
        return ForwarderStatus(
            done_through=self._done_through,
            published=self._published,
            publish_failed=self._publish_failed,
            retried=self._retried,
            dead_lettered=self._dead_lettered,
            forwarded_without_ts=self._without_ts,
            pubsub_up=state == grpc.ChannelConnectivity.READY
            or (state == grpc.ChannelConnectivity.IDLE and self._channel_was_ready),
            pubsub_state=str(state) if state is not None else "not connected yet",
            pubsub_error=self._pubsub_error,
        )

    def report_now(self) -> None:
        with self._lock:
            self._report(self.status())

    def forward(self, first_seq: int, records: Sequence[Record]) -> None:
        """Build each record's message and queue them all (blocks while the publisher's
        byte bound is reached, which in turn holds back the MQTT process)."""
        ps = self._settings.pubsub
        level = self._settings.skid_id_topic_level
        outgoing: list[Outgoing[_InFlight]] = []
        for seq, (received_at_s, topic, payload, qos, retain, user_properties) in enumerate(
            records, first_seq
        ):
            attributes = message_attributes(
                topic=topic,
                qos=qos,
                retain=retain,
                payload=payload,
                received_at=datetime.fromtimestamp(received_at_s, UTC),
                skid_id_level=level,
                user_properties=user_properties or (),
            )
            ordering_key = attributes.get(ATTR_SKID_ID, "") if ps.ordering_by_skid else ""
            size = estimated_message_bytes(payload, attributes)
            item = _InFlight(seq, payload, attributes, ordering_key, size)
            if size > ps.max_message_bytes:
                self._to_dead_letter(
                    item,
                    DEAD_LETTER_STAGE_OVERSIZE,
                    f"message of about {size} bytes exceeds the "
                    f"{ps.max_message_bytes}-byte Pub/Sub limit",
                )
            elif (problem := _envelope_problem(attributes, ordering_key)) is not None:
                self._to_dead_letter(item, DEAD_LETTER_STAGE_INVALID, problem)
            elif ATTR_TS not in attributes:
                self._without_ts += 1
            outgoing.append(self._outgoing(item))
        with contextlib.suppress(RuntimeError):  # stopped: the rest stay unacknowledged
            self._publisher.publish_many(outgoing)

    def stop(self) -> None:
        """Stop retrying, send what is queued and wait for it (up to the publisher's
        timeout), close the channel."""
        self._retries.stop()
        self._publisher.stop()
        self._channel.close()

    def _outgoing(self, item: _InFlight) -> Outgoing[_InFlight]:
        path = self._dead_letter_path if item.dead_letter else self._topic_path
        return (path, item.payload, item.attributes, item.ordering_key, item.size_bytes, item)

    def _send(self, item: _InFlight) -> None:
        """Re-publish one message; its batch's completion marks it done or re-queues it."""
        with contextlib.suppress(RuntimeError):  # stopped: it stays unacknowledged
            self._publisher.publish(*self._outgoing(item))

    def _on_published(self, items: Sequence[_InFlight], exc: Exception | None) -> None:
        """One batch done: mark its messages safe, or re-queue every one of them."""
        if exc is None:
            with self._lock:
                self._pubsub_error = None
                if items[0].dead_letter:
                    self._dead_lettered += len(items)
                else:
                    self._published += len(items)
                ahead = self._done_ahead
                ahead.update(item.seq for item in items)
                done = self._done_through
                while done in ahead:
                    ahead.remove(done)
                    done += 1
                self._done_through = done
                self._report(self.status())
            return
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, gexc.InvalidArgument):
            # Not expected (the envelope is checked before publishing) and it fails the
            # whole batch, so these messages may be innocent: retry, loudly, never drop.
            log.error(
                "Pub/Sub refused a publish as invalid",
                extra={"event": "publish_invalid", "error": error},
            )
        ps = self._settings.pubsub
        for item in items:
            item.attempts += 1
            delay_s = min(ps.retry_max_s, ps.retry_initial_s * 2 ** (item.attempts - 1))
            delay_s *= random.uniform(0.5, 1.0)  # jitter: replicas do not retry in lockstep
            self._retries.schedule(item, delay_s)
        log.warning(
            "publish failed; will retry",
            extra={
                "event": "publish_retry",
                "error": error,
                "messages": len(items),
                "attempt": items[0].attempts,
                "dead_letter": items[0].dead_letter,
            },
        )
        with self._lock:
            self._publish_failed += len(items)
            self._retried += len(items)
            self._pubsub_error = error
            self._report(self.status())

    def _to_dead_letter(self, item: _InFlight, stage: str, reason: str) -> None:
        """Turn ``item`` into its dead letter: the payload's head, its size and digest,
        and the reason; the whole payload is spilled to ``oversize_spill_dir`` if set."""
        ps = self._settings.pubsub
        payload = item.payload
        digest = hashlib.sha256(payload).hexdigest()
        attributes = {
            k: truncate_utf8(v, PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES)
            for k, v in item.attributes.items()
            if not k.startswith(USER_PROPERTY_PREFIX)
        }
        attributes |= {
            "dead_letter_stage": stage,
            "dead_letter_reason": truncate_utf8(reason, PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES),
            "dead_letter_source": "bridge",
            "payload_bytes": str(len(payload)),
            "payload_sha256": digest,
            "payload_truncated": "true" if len(payload) > ps.dead_letter_payload_bytes else "false",
        }
        if ps.oversize_spill_dir is not None and len(payload) > ps.dead_letter_payload_bytes:
            spill = ps.oversize_spill_dir / f"{digest}.bin"
            try:
                spill.parent.mkdir(parents=True, exist_ok=True)
                spill.write_bytes(payload)
                attributes["payload_spill_path"] = str(spill)
            except OSError as exc:
                attributes["payload_spill_error"] = truncate_utf8(
                    str(exc), PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES
                )
        log.warning(
            "dead-lettering a message",
            extra={
                "event": "dead_letter",
                "stage": stage,
                "reason": reason,
                "mqtt_topic": attributes.get("mqtt_topic"),
                "payload_bytes": len(payload),
            },
        )
        item.payload = payload[: ps.dead_letter_payload_bytes]
        item.attributes = attributes
        item.size_bytes = estimated_message_bytes(item.payload, attributes)
        item.dead_letter = True
        item.ordering_key = ""

    def _on_channel_state(self, state: grpc.ChannelConnectivity) -> None:
        with self._lock:
            self._channel_state = state
            if state == grpc.ChannelConnectivity.READY:
                self._channel_was_ready = True
            self._report(self.status())


def _envelope_problem(attributes: dict[str, str], ordering_key: str) -> str | None:
    if ordering_key and len(ordering_key.encode()) > PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES:
        return f"ordering key (skid id) over {PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES} bytes"
    problem = attribute_problem(attributes)
    return None if problem is None else f"Pub/Sub would refuse it: {problem}"


def _widen_pipe(fd: int) -> None:
    """Fewer, larger writes between the processes (best effort: Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class ForwarderProcess:
    """The MQTT process's handle on the forwarding process.

    Started (and ready: channel created, first status received) by the constructor.
    ``on_status`` is called on a reader thread for every status; ``on_exit(reason)``
    once, if the process ends without having been asked to.
    """

    def __init__(
        self,
        settings: ForwarderSettings,
        on_status: Callable[[ForwarderStatus], None],
        on_exit: Callable[[str], None],
        *,
        start_timeout_s: float = 60.0,
    ) -> None:
        self._on_status = on_status
        self._on_exit = on_exit
        self._stopping = False
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        _widen_pipe(to_child_w)
        # The same code as this process, whether installed or run from a checkout.
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                # not "-m bridge.forwarder": pickled statuses must name this module
                "from bridge.forwarder import main; main()",
                "--in-fd",
                str(to_child_r),
                "--out-fd",
                str(from_child_w),
            ],
            pass_fds=(to_child_r, from_child_w),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._out = Connection(to_child_w, readable=False)
        self._in = Connection(from_child_r, writable=False)
        self._out.send_bytes(_dumps(settings))
        if not self._in.poll(start_timeout_s):
            self._kill()
            raise RuntimeError(f"the forwarding process did not start in {start_timeout_s} s")
        try:
            first: ForwarderStatus = pickle.loads(self._in.recv_bytes())
        except EOFError:
            code = self._proc.wait(10)
            raise RuntimeError(f"the forwarding process exited with code {code}") from None
        on_status(first)
        self._reader = threading.Thread(target=self._read, name="bridge-forwarder", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def send(self, first_seq: int, records: list[Record]) -> None:
        """Hand over a batch (one caller at a time). Blocks while the pipe is full."""
        self._out.send_bytes(_dumps((first_seq, records)))

    def stop(self, timeout_s: float) -> None:
        """Ask the process to publish what it holds and exit; kill it after ``timeout_s``."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._out.send_bytes(_dumps(None))
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._kill()
        self._reader.join(timeout_s)
        self._out.close()

    def _kill(self) -> None:
        self._proc.kill()
        self._proc.wait(10)

    def _read(self) -> None:
        while True:
            try:
                status = pickle.loads(self._in.recv_bytes())
            except (EOFError, OSError):
                break
            self._on_status(status)
        self._in.close()
        if not self._stopping:
            code = self._proc.wait()
            self._on_exit(f"the forwarding process exited with code {code}")


def _serve(inbox: Connection, outbox: Connection) -> int:
    settings: ForwarderSettings = pickle.loads(inbox.recv_bytes())
    configure_logging(settings.log_level)
    forwarder = _Forwarder(settings, lambda status: outbox.send_bytes(_dumps(status)))
    forwarder.report_now()
    while True:
        try:
            frame = inbox.recv_bytes()
        except EOFError:
            # The MQTT process is gone: nothing can be acknowledged any more, and what
            # is unacknowledged is redelivered to its next session. Leave at once.
            return 0
        batch = pickle.loads(frame)
        if batch is None:
            forwarder.stop()
            forwarder.report_now()
            return 0
        forwarder.forward(*batch)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the bridge's forwarding process (internal)")
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    args = parser.parse_args(argv)
    # Stopped by the MQTT process (a None frame, or its end of the pipe closing), never
    # by a signal: a SIGTERM or Ctrl-C sent to the whole process group must let the MQTT
    # process drain first, which needs this one.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = Connection(args.out_fd, readable=False)
    try:
        code = _serve(Connection(args.in_fd, writable=False), outbox)
    except BaseException:
        log.exception("forwarding process failed", extra={"event": "fatal"})
        code = 70
    logging.shutdown()
    # No interpreter teardown: gRPC's threads may still be finishing calls whose
    # results no longer matter (nothing more can be acknowledged).
    os._exit(code)
