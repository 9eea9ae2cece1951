"""The local service launchers start real services and leave nothing behind."""

from __future__ import annotations

import os
import threading

import paho.mqtt.client as mqtt
from google.cloud import pubsub_v1

from cli.local_services import Mosquitto, PubSubEmulator


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
