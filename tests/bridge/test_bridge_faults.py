"""Pub/Sub outages, malformed and oversize payloads, readiness: nothing silently dropped."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bridge.service import Bridge
from bridge.sim_publisher import MqttMessage, publish_messages
from cli.local_services import Mosquitto, PubSubEmulator, free_port, pubsub_emulator
from tests.bridge._support import (
    BackgroundPublisher,
    Collector,
    bridge_in_process,
    collector_for,
    config_dict,
    create_topics,
    local_config,
    readings,
    wait_until,
)
from tests.bridge._tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def test_pubsub_emulator_stopped_for_10_s_mid_stream_loses_nothing(
    mqtt_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An emulator of its own, reached through a proxy. 5,000 readings at 250/s; after
    ~1,000 the emulator is stopped for 10 s while the stream goes on, then restarted.

    The emulator keeps messages in memory and loses its topics on restart (real
    Pub/Sub does neither), so the test (1) cuts the proxy and drains what the emulator
    accepted before stopping it, and (2) re-creates the topics and subscription before
    restoring the proxy. The bridge meanwhile sees Pub/Sub unavailable: it stops
    acknowledging, goes not-ready, retries with backoff and catches up.
    """
    with pubsub_emulator() as emulator:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
        proxy = TcpProxy(free_port(), emulator.port)
        proxy.open()
        collector = collector_for(emulator.project, "outage")
        cfg = config_dict(
            "outage",
            broker_port=mqtt_broker.port,
            emulator_host=f"127.0.0.1:{proxy.port}",
            project=emulator.project,
            max_in_flight=500,
        )
        messages = readings(5_000, site="outage")
        publisher = BackgroundPublisher(messages, mqtt_broker, "pub-outage", rate_hz=250)
        try:
            with bridge_in_process(cfg) as bridge:
                wait_until(lambda: bridge.not_ready_reason() is None, 30, "bridge ready")
                publisher.start()
                wait_until(lambda: bridge.metrics.received >= 1_000, 30, "1000 received")
                proxy.cut()
                # once the bridge sees Pub/Sub gone, nothing more can be accepted: pull
                # everything that was, before the emulator forgets it
                wait_until(lambda: bridge.not_ready_reason() is not None, 30, "not ready")
                wait_until(
                    lambda: len(collector.distinct_payloads()) >= bridge.metrics.published,
                    20,
                    "drain",
                )
                collector.stop()
                emulator.stop()
                down_at = time.monotonic()
                received_at_stop = bridge.metrics.received
                time.sleep(max(0.0, 10.0 - (time.monotonic() - down_at)))
                in_flight_during_outage = bridge.metrics.in_flight
                received_during_outage = bridge.metrics.received - received_at_stop
                emulator.start()
                create_topics(emulator.project, "outage-tel", "outage-tel-dlq")
                collector.start()
                proxy.open()
                wait_until(lambda: bridge.not_ready_reason() is None, 30, "ready again")
                publisher.finish()
                missing = collector.wait_for({m.payload for m in messages}, timeout_s=90)
                snapshot = bridge.metrics.snapshot()
            print(
                f"Pub/Sub outage 10 s: {len(messages)} published, "
                f"{len(collector.distinct_payloads())} distinct arrived, "
                f"{collector.duplicates()} duplicates (after the restart), "
                f"{received_during_outage} received and {in_flight_during_outage} held "
                f"unacknowledged during the outage, {snapshot['retried']} retries"
            )
            assert not missing, f"{len(missing)} readings lost"
            # The bridge kept taking readings up to its in-flight bound, then stopped
            # acknowledging; the broker held the rest.
            assert 0 < in_flight_during_outage <= 500
            assert snapshot["retried"] > 0
        finally:
            collector.stop()
            proxy.cut()


@pytest.fixture
def small_limit_bridge(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator, tmp_path: Path
) -> Iterator[tuple[Bridge, Collector, Collector]]:
    main = collector_for(pubsub.project, "dl")
    dead = Collector(pubsub.project, "dl-tel-dlq").start()
    cfg = local_config(
        "dl",
        mqtt_broker,
        pubsub,
        pubsub__max_message_bytes=5_000,
        pubsub__dead_letter_payload_bytes=1_000,
        pubsub__oversize_spill_dir=str(tmp_path / "spill"),
    )
    try:
        with bridge_in_process(cfg) as bridge:
            wait_until(lambda: bridge.not_ready_reason() is None, 30, "bridge ready")
            yield bridge, main, dead
    finally:
        main.stop()
        dead.stop()


def test_malformed_forwarded_and_oversize_dead_lettered_all_counted(
    mqtt_broker: Mosquitto, small_limit_bridge: tuple[Bridge, Collector, Collector]
) -> None:
    bridge, main, dead = small_limit_bridge
    valid = readings(100, site="dl")
    malformed = [
        MqttMessage("dra/dl/K1/telemetry", payload)
        for payload in (
            b"not json",
            b"\xff\xfe\x00\x01binary",
            b"",
            b'{"skid_id": "K1", "source_ts": "not a time"}',
            b'{"skid_id": "K1", "source_ts": "2026-07-01T12:00:00"}',
            b'{"skid_id": "K1", "seq": -1, "source_ts": "2026-07-01T12:00:00Z"',
            b"[]",
        )
    ]
    oversize = [MqttMessage("dra/dl/K2/telemetry", bytes([i]) * 6_000 + b"tail") for i in range(3)]
    everything = valid + malformed + oversize
    publish_messages(everything, mqtt_broker.host, mqtt_broker.port, client_id="pub-dl")

    forwarded = {m.payload for m in valid + malformed}
    assert not main.wait_for(forwarded, timeout_s=30)
    wait_until(lambda: len(dead.distinct_payloads()) >= len(oversize), 30, "dead letters")
    wait_until(lambda: bridge.metrics.in_flight == 0, 10, "nothing in flight")

    by_payload = dict(main.snapshot())
    for message in malformed:
        assert "ts" not in by_payload[message.payload]
        assert by_payload[message.payload]["mqtt_topic"] == "dra/dl/K1/telemetry"
    assert all("ts" in by_payload[m.payload] for m in valid)
    assert not {m.payload for m in oversize} & main.distinct_payloads()

    letters = {attrs["payload_sha256"]: (data, attrs) for data, attrs in dead.snapshot()}
    for message in oversize:
        digest = hashlib.sha256(message.payload).hexdigest()
        data, attrs = letters[digest]
        assert data == message.payload[:1_000]
        assert attrs["dead_letter_stage"] == "OVERSIZE"
        assert "exceeds the 5000-byte Pub/Sub limit" in attrs["dead_letter_reason"]
        assert attrs["dead_letter_source"] == "bridge"
        assert attrs["payload_bytes"] == str(len(message.payload))
        assert attrs["payload_truncated"] == "true"
        assert Path(attrs["payload_spill_path"]).read_bytes() == message.payload
        assert attrs["mqtt_topic"] == "dra/dl/K2/telemetry"

    snapshot = bridge.metrics.snapshot()
    # counts in = counts out
    assert snapshot["received"] == len(everything)
    assert snapshot["published"] == len(valid) + len(malformed)
    assert snapshot["dead_lettered"] == len(oversize)
    assert snapshot["forwarded_without_ts"] == len(malformed)
    assert snapshot["acked"] == len(everything)


def test_message_pubsub_would_refuse_is_dead_lettered_alone(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator
) -> None:
    """A 2,000-byte MQTT 5 user property makes an attribute Pub/Sub refuses (limit 1,024
    bytes; the emulator does not check). Pub/Sub would refuse the whole batch, so the
    bridge checks first and dead-letters that message alone; its neighbours go through."""
    main = collector_for(pubsub.project, "rej")
    dead = Collector(pubsub.project, "rej-tel-dlq").start()
    cfg = local_config("rej", mqtt_broker, pubsub)
    producer = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="pub-rej", protocol=MQTTProtocolVersion.MQTTv5
    )
    try:
        with bridge_in_process(cfg) as bridge:
            wait_until(lambda: bridge.not_ready_reason() is None, 30, "bridge ready")
            producer.connect(mqtt_broker.host, mqtt_broker.port)
            producer.loop_start()
            for payload, value in ((b"before", "rtu-7"), (b"bad", "x" * 2_000), (b"after", "é")):
                props = Properties(PacketTypes.PUBLISH)
                props.UserProperty = [("note", value)]
                producer.publish("dra/rej/K1/telemetry", payload, qos=1, properties=props)
            wait_until(lambda: dead.distinct_payloads() == {b"bad"}, 30, "dead letter")
            wait_until(lambda: main.distinct_payloads() == {b"before", b"after"}, 30, "forwarded")
            wait_until(lambda: bridge.metrics.acked == 3, 10, "all acknowledged")
            snapshot = bridge.metrics.snapshot()
        (_, attrs), *_ = dead.snapshot()
        assert attrs["dead_letter_stage"] == "VALIDATE"
        assert attrs["dead_letter_reason"] == (
            "Pub/Sub would refuse it: attribute 'mqtt_user_note' is 2000 bytes; Pub/Sub allows 1024"
        )
        assert "mqtt_user_note" not in attrs
        forwarded = dict(main.snapshot())
        assert forwarded[b"after"]["mqtt_user_note"] == "é"
        assert snapshot["dead_lettered"] == 1
        assert snapshot["published"] == 2
    finally:
        producer.loop_stop()
        producer.disconnect()
        main.stop()
        dead.stop()


def test_mqtt_311_with_a_small_in_flight_bound_forwards_everything(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator
) -> None:
    """MQTT 3.1.1 has no Receive Maximum and the test broker sets no in-flight limit, so
    the broker pushes everything at once: the bridge's own bound (20 here) must hold the
    network thread back without losing or leaking a message."""
    collector = collector_for(pubsub.project, "v311")
    cfg = local_config(
        "v311",
        mqtt_broker,
        pubsub,
        max_in_flight=20,
    )
    cfg["mqtt"]["protocol"] = "3.1.1"
    messages = readings(1_000, site="v311")
    peak_in_flight = 0
    try:
        with bridge_in_process(cfg) as bridge:
            wait_until(lambda: bridge.not_ready_reason() is None, 30, "bridge ready")
            publish_messages(messages, mqtt_broker.host, mqtt_broker.port, client_id="pub-v311")

            def all_acked() -> bool:
                nonlocal peak_in_flight
                peak_in_flight = max(peak_in_flight, bridge.metrics.in_flight)
                return bridge.metrics.acked >= len(messages)

            wait_until(all_acked, 60, "all acknowledged")
            snapshot = bridge.metrics.snapshot()
        assert not collector.wait_for({m.payload for m in messages}, timeout_s=30)
        assert snapshot["received"] == snapshot["published"] == len(messages)
        assert 0 < peak_in_flight <= 20
    finally:
        collector.stop()


def test_ordering_by_skid_keeps_each_skids_readings_in_order(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator
) -> None:
    """With ``ordering_by_skid`` the skid id is the ordering key: an ordered subscription
    gets each skid's readings in the order the bridge received them."""
    collector = collector_for(pubsub.project, "ord", ordered=True)
    cfg = local_config(
        "ord",
        mqtt_broker,
        pubsub,
        pubsub__ordering_by_skid=True,
    )
    messages = readings(300, site="ord")
    try:
        with bridge_in_process(cfg) as bridge:
            wait_until(lambda: bridge.not_ready_reason() is None, 30, "bridge ready")
            publish_messages(messages, mqtt_broker.host, mqtt_broker.port, client_id="pub-ord")
            assert not collector.wait_for({m.payload for m in messages}, timeout_s=60)
        arrived = [data for data, _ in collector.snapshot()]
        first_copies = list(dict.fromkeys(arrived))
        assert first_copies == [m.payload for m in messages]
    finally:
        collector.stop()


def test_forwarding_process_killed_stops_the_bridge_and_loses_nothing(
    mqtt_broker: Mosquitto, pubsub: PubSubEmulator
) -> None:
    """The bridge's second process (attributes, publishing) dies: the MQTT process must
    acknowledge nothing it can no longer publish, say so, and stop; the broker keeps
    the readings for the next bridge on the same session."""
    collector = collector_for(pubsub.project, "fk")
    cfg = local_config("fk", mqtt_broker, pubsub)
    messages = readings(600, site="fk")
    try:
        with bridge_in_process(cfg) as bridge:
            wait_until(lambda: bridge.not_ready_reason() is None, 30, "bridge ready")
            os.kill(bridge.forwarder_pid, signal.SIGKILL)
            wait_until(lambda: bridge.fatal_error is not None, 10, "the fatal error")
            assert "forwarding process exited with code -9" in str(bridge.fatal_error)
            assert str(bridge.not_ready_reason()).startswith("fatal error")
            publish_messages(messages, mqtt_broker.host, mqtt_broker.port, client_id="pub-fk")
            wait_until(lambda: bridge.metrics.received == len(messages), 30, "all received")
            assert bridge.metrics.acked == 0
            assert bridge.metrics.in_flight == len(messages)
        assert not collector.distinct_payloads()
        with bridge_in_process(cfg) as again:
            assert not collector.wait_for({m.payload for m in messages}, timeout_s=60)
            wait_until(lambda: again.metrics.acked == len(messages), 10, "all acknowledged")
    finally:
        collector.stop()
