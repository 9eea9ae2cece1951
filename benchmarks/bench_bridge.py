"""Bridge throughput against a raw paho subscriber on the same broker, same run.

Both drain the same backlog: N simulator readings queued in mosquitto for a persistent
QoS 1 session while its consumer was away. The baseline is a bare paho client that
acknowledges each message as it arrives and does nothing else; the subject is the
bridge, which also builds attributes, publishes to the Pub/Sub emulator and
acknowledges only once the emulator accepted each message. Timed from connect to the
N-th message done (received, resp. accepted by Pub/Sub), interleaved, medians.

Two subjects: one bridge (its MQTT half in this process, like the baseline; its
forwarding process, started by ``Bridge()`` before the clock starts, on the other
core), and two bridge replicas as ``dra-twin bridge`` processes on an MQTT 5 shared
subscription (the scale-out path), timed from the first replica's start log line (once
its forwarding process is up) to N accepted. Everything shares the machine's cores:
mosquitto, the emulator (a JVM) and, for the baseline, nothing else. One untimed round
of the baseline and the single bridge comes first (the emulator's warm-up).

The harness's ``compare`` times whole calls, which would include the backlog
loading; here only the drain is timed, so the medians are taken directly and reported
through the same :class:`~benchmarks._harness.Comparison`.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks._harness import Comparison
from bridge.config import BridgeConfig
from bridge.metrics import parse_prometheus_text
from bridge.service import Bridge
from bridge.sim_publisher import MqttMessage, publish_messages
from cli.local_services import (
    Mosquitto,
    free_port,
    mosquitto,
    pubsub_emulator,
    stop_process_group,
)
from schemas.site_config import load_site_config
from twin.simulator import SimulationSpec, simulate

__all__ = ["main"]

N_MESSAGES = 20_000
REPEATS = 3
GOAL_RATIO = 0.8
_REPO_ROOT = Path(__file__).resolve().parent.parent
_CONFIG = _REPO_ROOT / "config" / "atlanta-pilot.yaml"


def _messages(site: str) -> list[MqttMessage]:
    spec = SimulationSpec(
        start=datetime(2026, 7, 1, tzinfo=UTC),
        duration_s=float(N_MESSAGES),
        interval_s=1.0,
        seed=11,
        skid_ids=("ATL-01",),
    )
    sim = simulate(load_site_config(_CONFIG), spec)
    return [MqttMessage(f"dra/{site}/ATL-01/telemetry", m.payload) for m in sim.messages]


def _session_properties() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    return props


def _raw_client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )


def _create_session(broker: Mosquitto, client_id: str, topic_filter: str) -> None:
    subscribed = threading.Event()
    client = _raw_client(client_id)
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(broker.host, broker.port, clean_start=True, properties=_session_properties())
    client.loop_start()
    client.subscribe(topic_filter, qos=1)
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def _raw_drain_s(broker: Mosquitto, client_id: str) -> float:
    """Baseline: a bare paho subscriber (auto-ack) drains its session's backlog."""
    done = threading.Event()
    count = 0

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if count == N_MESSAGES:
            done.set()

    client = _raw_client(client_id)
    client.on_message = on_message
    start = time.perf_counter()
    client.connect(broker.host, broker.port, clean_start=False, properties=_session_properties())
    client.loop_start()
    if not done.wait(300):
        raise RuntimeError(f"raw subscriber got {count} of {N_MESSAGES}")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


def _bridge_drain_s(config: BridgeConfig) -> float:
    """Subject: the bridge drains its session's backlog into the Pub/Sub emulator."""
    bridge = Bridge(config)
    start = time.perf_counter()
    bridge.start()
    try:
        while bridge.metrics.published < N_MESSAGES:
            if time.perf_counter() - start > 300:
                raise RuntimeError(f"bridge published {bridge.metrics.published} of {N_MESSAGES}")
            time.sleep(0.002)
        return time.perf_counter() - start
    finally:
        bridge.stop()


def _replica_config(base: BridgeConfig, index: int, workdir: Path) -> Path:
    data = base.model_dump(mode="json")
    data["mqtt"]["client_id"] = f"bench-replica-{index}"
    data["mqtt"]["shared_group"] = "bench"
    data["mqtt"]["topic_filters"] = ["dra/bench-shared/+/telemetry"]
    data["health_port"] = free_port()
    data["log_level"] = "INFO"
    path = workdir / f"replica-{index}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return parse_prometheus_text(response.read().decode()).get(name, 0.0)


def _start_time(log: Path) -> float:
    """The replica's start log line's time (it may land just after /metrics answers)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if event.get("event") == "start":
                    return datetime.fromisoformat(event["time"]).timestamp()
        time.sleep(0.05)
    raise RuntimeError(f"no start line in {log}")


def _replicas_drain_s(configs: list[Path], workdir: Path, expected: int) -> float:
    """Start the replica processes on their queued sessions; seconds from the first
    start line to ``expected`` accepted by Pub/Sub in total; then SIGTERM them."""
    procs: list[tuple[subprocess.Popen[bytes], Path, int]] = []
    try:
        for config in configs:
            port = int(yaml.safe_load(config.read_text())["health_port"])
            log = workdir / f"{config.stem}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "cli.main", "bridge", "--config", str(config)],
                    cwd=_REPO_ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            procs.append((proc, log, port))
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(OSError):
                done = sum(_metric(port, "dra_bridge_published_total") for _, _, port in procs)
                if done >= expected:
                    finished = time.time()
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("replicas did not drain the backlog in 300 s")
            time.sleep(0.01)
        return finished - min(_start_time(log) for _, log, _ in procs)
    finally:
        for proc, _, _ in procs:
            stop_process_group(proc)


def main() -> list[Comparison]:
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(mosquitto())
        emulator = stack.enter_context(pubsub_emulator())
        previous = os.environ.get("PUBSUB_EMULATOR_HOST")
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        try:
            # No subscription: the emulator accepts and discards, so it stays small.
            publisher = pubsub_v1.PublisherClient()
            for topic in ("bench-tel", "bench-tel-dlq"):
                with contextlib.suppress(gexc.AlreadyExists):
                    publisher.create_topic(name=publisher.topic_path(emulator.project, topic))
            config = BridgeConfig.model_validate(
                {
                    "mqtt": {
                        "host": broker.host,
                        "port": broker.port,
                        "client_id": "bench-bridge",
                        "topic_filters": ["dra/bench-bridge/+/telemetry"],
                    },
                    "pubsub": {
                        "project": emulator.project,
                        "topic": "bench-tel",
                        "dead_letter_topic": "bench-tel-dlq",
                        "emulator_host": emulator.host,
                    },
                    "health_port": None,
                    "log_level": "WARNING",
                }
            )
            raw_messages = _messages("bench-raw")
            bridge_messages = _messages("bench-bridge")
            _create_session(broker, "bench-raw", "dra/bench-raw/+/telemetry")
            _create_session(broker, "bench-bridge", "dra/bench-bridge/+/telemetry")
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-br-")))
            replica_configs = [_replica_config(config, i, workdir) for i in range(2)]
            shared_messages = _messages("bench-shared")
            # create the two shared-subscription sessions (no backlog yet)
            _replicas_drain_s(replica_configs, workdir, 0)
            raw_runs: list[float] = []
            bridge_runs: list[float] = []
            replica_runs: list[float] = []
            # One untimed round of each single subscriber first: a fresh emulator JVM
            # compiles its hot paths during its first ~20,000 messages (measured 40-50
            # µs of its CPU per message then, 12-19 after), which would count against
            # whichever bridge run came first.
            for i in range(REPEATS + 1):
                publish_messages(
                    raw_messages, broker.host, broker.port, client_id=f"bench-pub-raw-{i}"
                )
                raw_s = _raw_drain_s(broker, "bench-raw")
                publish_messages(
                    bridge_messages, broker.host, broker.port, client_id=f"bench-pub-br-{i}"
                )
                bridge_s = _bridge_drain_s(config)
                if i == 0:
                    continue  # the warm-up round
                raw_runs.append(raw_s)
                bridge_runs.append(bridge_s)
                publish_messages(
                    shared_messages, broker.host, broker.port, client_id=f"bench-pub-sh-{i}"
                )
                replica_runs.append(_replicas_drain_s(replica_configs, workdir, N_MESSAGES))
        finally:
            if previous is None:
                os.environ.pop("PUBSUB_EMULATOR_HOST", None)
            else:
                os.environ["PUBSUB_EMULATOR_HOST"] = previous
    results = [
        Comparison(
            "bridge MQTT->Pub/Sub vs raw paho subscriber (drain a QoS 1 backlog)",
            statistics.median(bridge_runs),
            statistics.median(raw_runs),
            N_MESSAGES,
            "msg",
            GOAL_RATIO,
        ),
        Comparison(
            "2 bridge replicas (shared subscription, 2 processes) vs raw paho subscriber",
            statistics.median(replica_runs),
            statistics.median(raw_runs),
            N_MESSAGES,
            "msg",
            GOAL_RATIO,
        ),
    ]
    for result in results:
        print(result.report(), flush=True)
    return results
