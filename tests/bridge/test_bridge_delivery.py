"""The bridge never loses a reading: real mosquitto, real Pub/Sub emulator, the bridge as
``dra-twin bridge --config FILE`` subprocesses (so SIGKILL is a real kill).

Duplicates are allowed (at-least-once) and reported on stdout (``pytest -s``) and in
the assertion messages; losses are not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bridge.attributes import rfc3339_utc
from cli.local_services import Mosquitto, PubSubEmulator, mosquitto
from cli.main import main
from tests.bridge._support import (
    START,
    BackgroundPublisher,
    BridgeProcess,
    Collector,
    bridge_processes,
    collector_for,
    local_config,
    readings,
    simulation,
    wait_until,
)
from tests.conftest import REFERENCE_CONFIG

pytestmark = pytest.mark.integration


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[BridgeProcess]]:
    with bridge_processes(tmp_path) as started:
        yield started


def _report(name: str, collector: Collector, published: list[bytes]) -> str:
    """Arrivals against what was published. Duplicates are counted beyond the copies
    published (the simulator's duplicate fault publishes some readings twice)."""
    arrived = collector.snapshot()
    line = (
        f"{name}: {len(published)} published ({len(set(published))} distinct), "
        f"{len({data for data, _ in arrived})} distinct arrived, "
        f"{len(arrived) - len(published)} duplicates beyond those published"
    )
    print(line)
    return line


def test_ten_thousand_simulated_readings_arrive_with_their_attributes(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator, procs: list[BridgeProcess], tmp_path: Path
) -> None:
    """``dra-twin simulate --to-mqtt`` publishes 2.5 h of ATL-01 at 0.9 s (10,000 readings)
    with a minute of duplicates and a minute of malformed payloads: 10,067 messages.
    Every distinct one arrives; readings carry ``ts``, malformed ones do not."""
    sim = simulation(2.5 * 3600, interval_s=0.9, faults=("duplicate:10:11", "malformed:20:21"))
    expected = {m.payload for m in sim.messages}
    assert len(expected) == 10_000
    collector = collector_for(pubsub.project, "ten-k")
    cfg = local_config(
        "ten-k",
        mqtt_broker,
        pubsub,
        site="atl-pilot",
    )
    bridge = BridgeProcess(cfg, tmp_path, "ten-k").start()
    procs.append(bridge)
    try:
        bridge.wait_ready()
        args = [
            *("simulate", "--config", str(REFERENCE_CONFIG), "--start", START.isoformat()),
            *("--hours", "2.5", "--interval-s", "0.9", "--seed", "7"),
            *("--fault", "duplicate:ATL-01:10m:11m", "--fault", "malformed:ATL-01:20m:21m"),
            *("--to-mqtt", f"{mqtt_broker.host}:{mqtt_broker.port}"),
            *("--mqtt-client-id", "sim-ten-k"),
        ]
        assert main(args) == 0
        missing = collector.wait_for(expected, timeout_s=90)
        report = _report("10k simulated readings", collector, [m.payload for m in sim.messages])
        assert not missing, f"{len(missing)} readings lost; {report}"

        by_payload = {data: attributes for data, attributes in collector.snapshot()}
        without_ts = 0
        for message in sim.messages:
            attributes = dict(by_payload[message.payload])
            if message.source_ts is None:
                # malformed: garbled (no ts) or JSON with invalid values, whose readable
                # source_ts still gives it an event time for the pipeline's dead letter
                if "ts" in attributes:
                    stated = datetime.fromisoformat(json.loads(message.payload)["source_ts"])
                    assert attributes.pop("ts") == rfc3339_utc(stated)
                else:
                    without_ts += 1
            else:
                assert attributes.pop("ts") == rfc3339_utc(message.source_ts)
            received = datetime.fromisoformat(attributes.pop("bridge_received_ts"))
            assert received.tzinfo is not None
            assert attributes == {
                "mqtt_topic": "dra/atl-pilot/ATL-01/telemetry",
                "mqtt_qos": "1",
                "mqtt_retain": "false",
                "skid_id": "ATL-01",
            }
        assert without_ts > 0
        wait_until(
            lambda: bridge.metrics()["dra_bridge_acked_total"] >= len(sim.messages), 10, "acks"
        )
        metrics = bridge.metrics()
        assert metrics["dra_bridge_received_total"] == len(sim.messages)
        assert metrics["dra_bridge_published_total"] == len(sim.messages)
        assert metrics["dra_bridge_in_flight"] == 0
    finally:
        collector.stop()


def test_sigkill_and_restart_mid_stream_loses_nothing(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator, procs: list[BridgeProcess], tmp_path: Path
) -> None:
    """3,000 readings at 1,000/s; the bridge is SIGKILLed after ~800 with readings in
    flight and restarted with the same client id: its persistent session on the broker
    redelivers what it had not acknowledged (those Pub/Sub already had arrive twice)."""
    collector = collector_for(pubsub.project, "kill")
    cfg = local_config(
        "kill",
        mqtt_broker,
        pubsub,
        # batches wait 0.2 s, so ~200 readings are in flight (received, not yet
        # acknowledged) whenever the kill lands
        pubsub__batch_max_latency_s=0.2,
    )
    first = BridgeProcess(cfg, tmp_path, "kill-1").start()
    procs.append(first)
    try:
        first.wait_ready()
        messages = readings(3_000, site="kill")
        publisher = BackgroundPublisher(messages, mqtt_broker, "pub-kill", rate_hz=1_000)
        publisher.start()
        before: dict[str, float] = {}

        def mid_stream_with_readings_in_flight() -> bool:
            # a busy machine can stall the publisher right after a batch went out, when
            # nothing is in flight: wait for a moment that has some, then kill at once
            before.update(first.metrics())
            return before["dra_bridge_received_total"] >= 800 and before["dra_bridge_in_flight"] > 0

        wait_until(mid_stream_with_readings_in_flight, 30, "800 received, some in flight")
        first.kill()
        time.sleep(1.0)  # the stream goes on into the broker meanwhile
        second = BridgeProcess(cfg, tmp_path, "kill-2").start()
        procs.append(second)
        second.wait_ready()
        publisher.finish()
        missing = collector.wait_for({m.payload for m in messages}, timeout_s=60)
        report = _report("SIGKILL + restart", collector, [m.payload for m in messages])
        assert not missing, f"{len(missing)} readings lost; {report}"
        assert before["dra_bridge_received_total"] < len(messages), "kill was not mid-stream"
        assert second.metrics()["dra_bridge_received_total"] > 0
        assert any(
            e.get("event") == "connected" and e.get("session_present") for e in second.log_events()
        ), "restarted bridge did not resume its session"
    finally:
        collector.stop()


def test_broker_restart_bridge_reconnects_and_resumes(
    pubsub: PubSubEmulator, procs: list[BridgeProcess], tmp_path: Path
) -> None:
    """A broker of its own (restarting the session broker would disturb other tests):
    3,000 readings at 600/s, the broker restarted (persistence on) after ~1,000."""
    collector = collector_for(pubsub.project, "brk")
    with mosquitto() as broker:
        cfg = local_config("brk", broker, pubsub)
        bridge = BridgeProcess(cfg, tmp_path, "brk").start()
        procs.append(bridge)
        try:
            bridge.wait_ready()
            messages = readings(3_000, site="brk")
            publisher = BackgroundPublisher(messages, broker, "pub-brk", rate_hz=600)
            publisher.start()
            wait_until(
                lambda: bridge.metrics()["dra_bridge_received_total"] >= 1_000, 30, "1000 in"
            )
            broker.restart()
            wait_until(
                lambda: bridge.metrics()["dra_bridge_mqtt_connects_total"] >= 2, 30, "reconnect"
            )
            publisher.finish()
            missing = collector.wait_for({m.payload for m in messages}, timeout_s=60)
            report = _report("broker restart", collector, [m.payload for m in messages])
            assert not missing, f"{len(missing)} readings lost; {report}"
            metrics = bridge.metrics()
            assert metrics["dra_bridge_mqtt_disconnects_total"] >= 1
            assert bridge.ready()
            reconnects = [e for e in bridge.log_events() if e.get("event") == "connected"][1:]
            assert reconnects and all(e["session_present"] for e in reconnects)
            assert not [e for e in bridge.log_events() if e.get("event") == "session_lost"]
        finally:
            collector.stop()


def test_two_replicas_share_the_load_and_survive_one_being_killed(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator, procs: list[BridgeProcess], tmp_path: Path
) -> None:
    """MQTT 5 shared subscription ``$share/bridges/...``: the broker splits the readings
    between the replicas. Replica B is SIGKILLed mid-stream and restarted by its
    supervisor with the same client id (mosquitto keeps routing B's share to B's
    persistent session meanwhile and delivers it when B is back)."""
    collector = collector_for(pubsub.project, "shared")
    base = local_config("shared", mqtt_broker, pubsub)

    def replica(client_id: str, name: str) -> BridgeProcess:
        cfg = {**base, "mqtt": {**base["mqtt"], "client_id": client_id, "shared_group": "brg"}}
        proc = BridgeProcess(cfg, tmp_path, name).start()
        procs.append(proc)
        return proc

    a, b = replica("bridge-shared-a", "shared-a"), replica("bridge-shared-b", "shared-b")
    try:
        a.wait_ready()
        b.wait_ready()
        messages = readings(4_000, site="shared")
        publisher = BackgroundPublisher(messages, mqtt_broker, "pub-shared", rate_hz=1_000)
        publisher.start()
        wait_until(
            lambda: (
                a.metrics()["dra_bridge_received_total"] + b.metrics()["dra_bridge_received_total"]
                >= 1_200
            ),
            30,
            "1200 received",
        )
        got_a, got_b = (p.metrics()["dra_bridge_received_total"] for p in (a, b))
        b.kill()
        time.sleep(1.0)
        b2 = replica("bridge-shared-b", "shared-b2")
        b2.wait_ready()
        publisher.finish()
        missing = collector.wait_for({m.payload for m in messages}, timeout_s=60)
        report = _report("shared subscription, B killed", collector, [m.payload for m in messages])
        print(f"  split before the kill: A {got_a:.0f}, B {got_b:.0f}")
        assert not missing, f"{len(missing)} readings lost; {report}"
        total = got_a + got_b
        assert got_a >= 0.3 * total and got_b >= 0.3 * total, (got_a, got_b)
        assert b2.metrics()["dra_bridge_received_total"] > 0
    finally:
        collector.stop()
