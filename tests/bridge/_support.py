"""Shared pieces of the bridge tests: readings, a Pub/Sub collector, bridges in-process
and as ``dra-twin bridge`` subprocesses. Each test uses its own MQTT topics, client ids
and Pub/Sub topic names, so tests sharing the session broker and emulator never see
each other's messages."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from bridge.config import BridgeConfig
from bridge.metrics import parse_prometheus_text
from bridge.service import Bridge
from bridge.sim_publisher import MqttMessage, PacedBy, publish_messages
from cli.local_services import Mosquitto, PubSubEmulator, free_port, stop_process_group
from schemas.site_config import load_site_config
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind, FaultSpec, Simulation, SimulationSpec, simulate

REPO_ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def simulation(
    duration_s: float, *, interval_s: float = 1.0, faults: tuple[str, ...] = ()
) -> Simulation:
    """The simulator's ATL-01 telemetry from :data:`START` (seed 7); ``faults`` as
    ``KIND:FROM_MIN:TO_MIN`` minute offsets."""
    specs = []
    for text in faults:
        kind, begin, end = text.split(":")
        specs.append(
            FaultSpec(
                kind=FaultKind(kind),
                skid_id="ATL-01",
                start=START + timedelta(minutes=float(begin)),
                end=START + timedelta(minutes=float(end)),
            )
        )
    spec = SimulationSpec(
        start=START,
        duration_s=duration_s,
        interval_s=interval_s,
        seed=7,
        skid_ids=("ATL-01",),
        faults=tuple(specs),
    )
    return simulate(load_site_config(REFERENCE_CONFIG), spec)


def readings(n: int, *, site: str) -> list[MqttMessage]:
    """``n`` simulated readings, moved to ``dra/<site>/ATL-01/telemetry`` so that tests
    sharing the session broker each have a topic of their own."""
    messages = simulation(float(n)).messages
    assert len(messages) == n
    return [
        MqttMessage(f"dra/{site}/{m.skid_id}/telemetry", m.payload, m.source_ts) for m in messages
    ]


@dataclass
class Collector:
    """Streaming-pulls a fresh subscription and keeps every message (acked at once)."""

    project: str
    topic_id: str
    ordered: bool = False
    messages: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _future: Any = None

    def start(self) -> Collector:
        subscriber = pubsub_v1.SubscriberClient()
        sub_path = subscriber.subscription_path(self.project, f"{self.topic_id}-collector")
        topic_path = subscriber.topic_path(self.project, self.topic_id)
        with contextlib.suppress(gexc.AlreadyExists):
            subscriber.create_subscription(
                request={
                    "name": sub_path,
                    "topic": topic_path,
                    "enable_message_ordering": self.ordered,
                }
            )

        def on_message(message: Any) -> None:
            with self._lock:
                self.messages.append((message.data, dict(message.attributes)))
            message.ack()

        self._future = subscriber.subscribe(
            sub_path,
            on_message,
            flow_control=pubsub_v1.types.FlowControl(max_messages=5_000),
        )
        return self

    def stop(self) -> None:
        if self._future is not None:
            self._future.cancel()
            with contextlib.suppress(Exception):
                self._future.result(timeout=10)
            self._future = None

    def snapshot(self) -> list[tuple[bytes, dict[str, str]]]:
        with self._lock:
            return list(self.messages)

    def distinct_payloads(self) -> set[bytes]:
        return {data for data, _ in self.snapshot()}

    def duplicates(self) -> int:
        """Copies beyond the first of each payload."""
        counts = Counter(data for data, _ in self.snapshot())
        return sum(c - 1 for c in counts.values())

    def wait_for(self, expected: set[bytes], timeout_s: float) -> set[bytes]:
        """Wait until every expected payload arrived; returns the ones still missing."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = expected - self.distinct_payloads()
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.1)


def create_topics(project: str, *topic_ids: str) -> None:
    publisher = pubsub_v1.PublisherClient()
    for topic_id in topic_ids:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic_id))


def collector_for(project: str, name: str, *, ordered: bool = False) -> Collector:
    """Create the topics of the test called ``name`` (``<name>-tel`` and its dead-letter
    topic ``<name>-tel-dlq``, as :func:`config_dict` names them) and start a collector
    on ``<name>-tel``."""
    create_topics(project, f"{name}-tel", f"{name}-tel-dlq")
    return Collector(project, f"{name}-tel", ordered=ordered).start()


def config_dict(
    name: str,
    *,
    broker_port: int,
    emulator_host: str,
    project: str,
    site: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A bridge config for the test called ``name``: client id ``bridge-<name>``, topic
    filter ``dra/<site>/+/telemetry`` (site defaults to ``name``), topics ``<name>-tel``
    and ``<name>-tel-dlq``. ``overrides``: ``key=value`` at the top level,
    ``section__key=value`` inside a section."""
    topic = f"{name}-tel"
    config: dict[str, Any] = {
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker_port,
            "client_id": f"bridge-{name}",
            "topic_filters": [f"dra/{site or name}/+/telemetry"],
            "reconnect_min_delay_s": 1,
            "reconnect_max_delay_s": 2,
        },
        "pubsub": {
            "project": project,
            "topic": topic,
            "dead_letter_topic": f"{topic}-dlq",
            "emulator_host": emulator_host,
            "retry_initial_s": 0.2,
            "retry_max_s": 1.0,
            "publish_timeout_s": 5.0,
        },
        "health_host": "127.0.0.1",
        "health_port": 0,
        "drain_timeout_s": 5.0,
    }
    for key, value in overrides.items():
        section, _, name_in_section = key.partition("__")
        if name_in_section:
            config[section][name_in_section] = value
        else:
            config[section] = value
    return config


def local_config(
    name: str, broker: Mosquitto, pubsub: PubSubEmulator, **overrides: Any
) -> dict[str, Any]:
    """:func:`config_dict` for the session's broker and Pub/Sub emulator."""
    return config_dict(
        name,
        broker_port=broker.port,
        emulator_host=pubsub.host,
        project=pubsub.project,
        **overrides,
    )


class BackgroundPublisher(threading.Thread):
    """Publishes ``messages`` at ``rate_hz`` on a thread; :meth:`finish` re-raises its error."""

    def __init__(
        self, messages: list[MqttMessage], broker: Mosquitto, client_id: str, rate_hz: float
    ) -> None:
        super().__init__(daemon=True)
        self.messages, self.broker, self.client_id = messages, broker, client_id
        self.rate_hz = rate_hz
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            publish_messages(
                self.messages,
                self.broker.host,
                self.broker.port,
                client_id=self.client_id,
                paced_by=PacedBy(rate_hz=self.rate_hz),
            )
        except BaseException as exc:
            self.error = exc

    def finish(self, timeout_s: float = 120) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), "publisher did not finish"
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def bridge_in_process(config: dict[str, Any]) -> Iterator[Bridge]:
    bridge = Bridge(BridgeConfig.model_validate(config))
    bridge.start()
    try:
        yield bridge
    finally:
        bridge.stop()


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of ``GET http://127.0.0.1:<port><path>`` (a bridge's health server)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class BridgeProcess:
    """``dra-twin bridge --config FILE`` in its own process group."""

    def __init__(self, config: dict[str, Any], workdir: Path, name: str) -> None:
        self.port = free_port()
        config = {**config, "health_port": self.port}
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BridgeProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRA_BRIDGE_")}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "bridge", "--config", str(self.config_path)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def ready(self) -> bool:
        try:
            return http_get(self.port, "/readyz")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout_s: float = 30.0) -> BridgeProcess:
        def check() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"bridge exited {self.proc.returncode}:\n{self.log()}")
            return self.ready()

        wait_until(check, timeout_s, f"bridge {self.config_path.stem} ready")
        return self

    def metrics(self) -> dict[str, float]:
        return parse_prometheus_text(http_get(self.port, "/metrics")[1])

    def kill(self) -> None:
        """SIGKILL: no drain, no disconnect; the broker keeps the session."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events


@contextlib.contextmanager
def bridge_processes(workdir: Path) -> Iterator[list[BridgeProcess]]:
    """A list to put :class:`BridgeProcess` objects in; every one is stopped at the end."""
    procs: list[BridgeProcess] = []
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()
