"""The local service launchers start real services and leave nothing behind."""

from __future__ import annotations

import os
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from google.cloud import pubsub_v1

from cli.local_services import Mosquitto, PubSubEmulator

# Every test here starts mosquitto or the Pub/Sub emulator.
pytestmark = pytest.mark.integration


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_mosquitto_round_trips_a_qos1_message(mqtt_broker: Mosquitto) -> None:
    got = threading.Event()
    payloads: list[bytes] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-local-services")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        payloads.append(msg.payload)
        got.set()

    client.on_message = on_message
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.subscribe("t/local", qos=1)
    client.loop_start()
    try:
        client.publish("t/local", b"hello", qos=1).wait_for_publish(5)
        assert got.wait(5)
    finally:
        client.loop_stop()
        client.disconnect()
    assert payloads == [b"hello"]


def test_pubsub_emulator_publishes_and_pulls(pubsub: PubSubEmulator) -> None:
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(pubsub.project, "t-local-services")
    sub = subscriber.subscription_path(pubsub.project, "t-local-services-sub")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=sub, topic=topic)
    publisher.publish(topic, b"x", k="v").result(timeout=10)
    resp = subscriber.pull(subscription=sub, max_messages=10, timeout=10)
    assert [(m.message.data, dict(m.message.attributes)) for m in resp.received_messages] == [
        (b"x", {"k": "v"})
    ]


def test_stopping_a_service_stops_its_whole_process_group() -> None:
    from cli.local_services import mosquitto, pubsub_emulator

    with mosquitto() as broker:
        pgid = broker.proc.pid
        assert _group_alive(pgid)
    assert not _group_alive(pgid)
    with pubsub_emulator() as emulator:
        pgid = emulator.proc.pid
    assert not _group_alive(pgid)


def test_mosquitto_restart_keeps_persistent_sessions_and_queued_messages() -> None:
    """What the bridge's no-loss guarantee across a broker restart rests on."""
    from cli.local_services import mosquitto

    def session(client_id: str) -> tuple[mqtt.Client, threading.Event, list[bytes]]:
        present = threading.Event()
        got: list[bytes] = []
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        client.on_connect = lambda _c, _u, flags, _rc, _p: (
            present.set() if flags.session_present else None
        )
        client.on_message = lambda _c, _u, msg: got.append(msg.payload)
        return client, present, got

    with mosquitto() as broker:
        sub, _, _ = session("t-persist-sub")
        sub.connect(broker.host, broker.port)
        sub.subscribe("t/persist", qos=1)
        sub.loop_start()
        time.sleep(0.3)
        sub.disconnect()
        sub.loop_stop()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-persist-pub")
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        pub.publish("t/persist", b"queued while away", qos=1).wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        broker.restart()
        sub, present, got = session("t-persist-sub")
        sub.connect(broker.host, broker.port)
        sub.loop_start()
        try:
            assert present.wait(5), "session lost across the restart"
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            sub.disconnect()
            sub.loop_stop()
        assert got == [b"queued while away"]
