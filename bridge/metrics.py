"""The bridge's counters and gauges, safe to update from any thread.

Exposed as Prometheus text on ``/metrics`` (names ``dra_bridge_<counter>_total`` and
``dra_bridge_<gauge>``) and as a dict for logs and tests. Counts in = counts out:
``received = published + dead_lettered + in_flight + abandoned-then-redelivered``,
where an abandoned message (its connection dropped before the ack) is received again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

__all__ = ["BridgeMetrics", "parse_prometheus_text"]


@dataclass
class BridgeMetrics:
    """Counters (monotonic) and gauges of one bridge process."""

    received: int = 0
    """MQTT messages delivered to the bridge (redeliveries included)."""
    published: int = 0
    """Messages Pub/Sub accepted on the main topic."""
    publish_failed: int = 0
    """Publish attempts that failed (each is retried or dead-lettered)."""
    retried: int = 0
    """Publish attempts made again after a failure."""
    dead_lettered: int = 0
    """Messages the dead-letter topic accepted (oversize or rejected by Pub/Sub)."""
    forwarded_without_ts: int = 0
    """Messages forwarded with no ``ts`` attribute (payload not a readable reading)."""
    acked: int = 0
    """PUBACKs sent to the broker."""
    acks_abandoned: int = 0
    """Acks owed to a connection that dropped; the broker redelivers those messages."""
    mqtt_connects: int = 0
    mqtt_disconnects: int = 0
    in_flight: int = 0
    """Gauge: received, not yet accepted by Pub/Sub or the dead-letter topic."""
    mqtt_connected: int = 0
    """Gauge: 1 when connected and subscribed."""
    pubsub_ready: int = 0
    """Gauge: 1 when the Pub/Sub channel is up and the last publish did not fail."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    _GAUGES = frozenset({"in_flight", "mqtt_connected", "pubsub_ready"})

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def set(self, name: str, value: int) -> None:
        with self._lock:
            setattr(self, name, value)

    def set_many(self, **values: int) -> None:
        """Several values at once, seen together by :meth:`snapshot`."""
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}

    def prometheus_text(self) -> str:
        lines = []
        for name, value in self.snapshot().items():
            if name in self._GAUGES:
                metric, kind = f"dra_bridge_{name}", "gauge"
            else:
                metric, kind = f"dra_bridge_{name}_total", "counter"
            lines += [f"# TYPE {metric} {kind}", f"{metric} {value}"]
        return "\n".join(lines) + "\n"


def parse_prometheus_text(text: str) -> dict[str, float]:
    """``{metric_name: value}`` of unlabelled samples (for health checks and tests)."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            samples[name] = float(value)
    return samples
