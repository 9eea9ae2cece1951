"""Publish telemetry (e.g. the simulator's) to an MQTT broker, as the field RTUs would.

Used by ``dra-twin simulate --to-mqtt``, the demo and the bridge tests. QoS 1 on a
persistent session, many messages in flight, and :func:`publish_messages` returns
only once the broker has acknowledged every one, so a caller can count on "published"
meaning "the broker has it" (through a broker restart, too: paho re-sends what was
unacknowledged when it reconnects).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["MqttMessage", "OutgoingMessage", "PacedBy", "publish_messages"]

_MAX_IN_FLIGHT = 1000
"""QoS 1 messages sent and not yet acknowledged by the broker."""
_ACK_TIMEOUT_S = 300.0
"""How long after the last publish the broker gets to acknowledge them all."""


class OutgoingMessage(Protocol):
    """What :func:`publish_messages` needs of a message (the simulator's
    ``SimulatedMessage`` is one); ``source_ts`` paces replay at real or accelerated time."""

    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def source_ts(self) -> datetime | None: ...


@dataclass(frozen=True)
class MqttMessage:
    """A message built by hand (tests, tools)."""

    topic: str
    payload: bytes
    source_ts: datetime | None = None


@dataclass(frozen=True)
class PacedBy:
    """How fast to publish: a fixed rate, or the messages' own clock sped up.

    ``rate_hz``: messages per second overall. ``speed``: source time per wall time
    (1.0 = real time, 60 = one simulated minute per second); messages with no
    ``source_ts`` (malformed ones) go out right after their predecessor. Neither: as
    fast as the broker takes them.
    """

    rate_hz: float | None = None
    speed: float | None = None

    def __post_init__(self) -> None:
        if self.rate_hz is not None and self.speed is not None:
            raise ValueError("give rate_hz or speed, not both")
        for name in ("rate_hz", "speed"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")


class _Pacer:
    def __init__(self, paced_by: PacedBy) -> None:
        self._paced_by = paced_by
        self._start_wall = time.monotonic()
        self._first_ts: datetime | None = None
        self._sent = 0

    def wait_for(self, message: OutgoingMessage) -> None:
        due_s: float | None = None
        if self._paced_by.rate_hz is not None:
            due_s = self._sent / self._paced_by.rate_hz
        elif self._paced_by.speed is not None and message.source_ts is not None:
            if self._first_ts is None:
                self._first_ts = message.source_ts
            elapsed_source_s = (message.source_ts - self._first_ts).total_seconds()
            due_s = max(0.0, elapsed_source_s) / self._paced_by.speed
        self._sent += 1
        if due_s is not None:
            delay_s = self._start_wall + due_s - time.monotonic()
            if delay_s > 0:
                time.sleep(delay_s)


def publish_messages(
    messages: Iterable[OutgoingMessage],
    host: str,
    port: int,
    *,
    client_id: str,
    paced_by: PacedBy = PacedBy(),
) -> int:
    """Publish every message at QoS 1 and wait until the broker acknowledged all of them.

    Returns the number published. Raises ``TimeoutError`` if the broker has not
    acknowledged them all within ``_ACK_TIMEOUT_S`` of the last publish, and
    ``ConnectionError`` if the first connection fails.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    client.max_inflight_messages_set(_MAX_IN_FLIGHT)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 5)
    connected = threading.Event()
    acked = 0
    acked_lock = threading.Lock()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if not rc.is_failure:
            connected.set()

    def on_publish(_c: mqtt.Client, _u: object, _mid: int, _rc: object, _p: object) -> None:
        # Counted here rather than through MQTTMessageInfo: a message published while
        # the broker was away carries rc NO_CONN there, yet paho re-sends it and its
        # PUBACK arrives here once the broker is back.
        nonlocal acked
        with acked_lock:
            acked += 1

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot connect to MQTT broker {host}:{port}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(10):
            raise ConnectionError(f"MQTT broker {host}:{port} did not accept the connection")
        pacer = _Pacer(paced_by)
        sent = 0
        for message in messages:
            pacer.wait_for(message)
            info = client.publish(message.topic, message.payload, qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                raise ConnectionError(f"publish to {message.topic} failed: {info.rc.name}")
            sent += 1
        deadline = time.monotonic() + _ACK_TIMEOUT_S
        while acked < sent:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sent - acked} of {sent} messages not acknowledged")
            time.sleep(0.01)
        return sent
    finally:
        client.disconnect()
        client.loop_stop()
