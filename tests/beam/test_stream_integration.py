"""End to end on real components: simulator -> Pub/Sub emulator -> streaming job on the
local runner -> DuckDB warehouse, then the backfill of the same telemetry.

The simulator injects duplicates, out-of-order blocks and malformed messages; the
simulation itself is the independent truth of how many of each there are.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apache_beam.runners.runner import PipelineState
from google.cloud import pubsub_v1

from beam.pipeline import run
from bridge.attributes import ATTR_TS, rfc3339_utc
from cli.local_services import PubSubEmulator
from schemas.site_config import SiteConfig
from tests.beam.conftest import (
    assert_every_message_accounted_for,
    is_valid_reading,
    run_backfill,
    simulate_transport_faults,
)
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind
from warehouse import open_warehouse

pytestmark = pytest.mark.integration

MINUTES = 6
_COMPARED = (
    "skid_id, grid_ts, interval_s, product_code, batch_id, reading_count, "
    "line_flow_bph, dra_injection_gph, dra_tank_level_gal, suction_psig, discharge_psig, "
    "downstream_psig, temperature_degf, density_kg_m3, pump_power_kw, pumps_running, "
    "injection_pump_running"
)


@pytest.fixture(scope="module")
def simulated(site_config: SiteConfig) -> tuple[datetime, list[Any]]:
    """Six minutes at 1 s ending now, so the runner's wall-clock watermark is just past."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=MINUTES)
    faults = {
        FaultKind.DUPLICATE: (1, 2),
        FaultKind.OUT_OF_ORDER: (2, 3),
        FaultKind.MALFORMED: (4, 5),
    }
    return start, simulate_transport_faults(site_config, start, MINUTES, 11, faults)


def _publish(emulator: PubSubEmulator, name: str, messages: list[Any]) -> str:
    """Publish as the bridge does: payload as is, the reading's source time in ``ts``
    (a message whose payload it cannot read goes without ``ts``)."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(emulator.project, name)
    subscription = subscriber.subscription_path(emulator.project, name)
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    futures = []
    for m in messages:
        attributes = {} if m.source_ts is None else {ATTR_TS: rfc3339_utc(m.source_ts)}
        futures.append(publisher.publish(topic, m.payload, **attributes))
    for f in futures:
        f.result(timeout=30)
    return subscription


def _totals(url: str, end: datetime) -> dict[str, Any]:
    (row,) = open_warehouse(url).query(
        "SELECT (SELECT COUNT(*) FROM raw_readings) AS raw, "
        "(SELECT COUNT(*) FROM dead_letters) AS dead, "
        "(SELECT SUM(reading_count) FROM spine_latest WHERE grid_ts < @end) AS in_spine, "
        "(SELECT COUNT(*) FROM spine_latest WHERE grid_ts < @end) AS spine, "
        "(SELECT COUNT(*) FROM energy_latest WHERE grid_ts < @end) AS energy",
        {"end": end},
    )
    return row


@pytest.fixture(scope="module")
def streamed(
    pubsub: PubSubEmulator, simulated: tuple[datetime, list[Any]], tmp_path_factory: Any
) -> Iterator[str]:
    """Run the streaming job until every message has landed and the spine holds every
    distinct reading (the local runner can stall up to 30 s in an empty pull)."""
    start, messages = simulated
    distinct_valid = len({m.payload for m in messages if is_valid_reading(m.payload)})
    subscription = _publish(pubsub, "stream-it", messages)
    dlq_topic = _publish(pubsub, "stream-it-dlq", []).replace("/subscriptions/", "/topics/")
    url = f"duckdb:///{tmp_path_factory.mktemp('stream')}/stream.duckdb"
    result = run(
        [
            f"--config={REFERENCE_CONFIG}",
            f"--subscription={subscription}",
            f"--warehouse={url}",
            f"--dead_letter_topic={dlq_topic}",
            "--streaming",
            "--runner=BundleBasedDirectRunner",
        ]
    )
    try:
        deadline = time.monotonic() + 240
        totals: dict[str, Any] = {}
        while time.monotonic() < deadline:
            time.sleep(2)
            assert result.state not in (PipelineState.FAILED, PipelineState.CANCELLED)
            totals = _totals(url, start + timedelta(minutes=MINUTES))
            landed = totals["raw"] + totals["dead"] >= len(messages)
            if landed and totals["in_spine"] == distinct_valid and totals["energy"] == MINUTES:
                break
        else:
            pytest.fail(f"streaming job did not settle in 240 s: {totals}")
        yield url
    finally:
        result.cancel()


def test_every_message_is_used_duplicated_or_dead_lettered(
    simulated: tuple[datetime, list[Any]], streamed: str
) -> None:
    _, messages = simulated
    assert_every_message_accounted_for([m.payload for m in messages], streamed)


def test_dead_letters_reach_the_dead_letter_topic_with_their_reason(
    simulated: tuple[datetime, list[Any]], streamed: str, pubsub: PubSubEmulator
) -> None:
    _, messages = simulated
    bad = sorted(m.payload for m in messages if not is_valid_reading(m.payload))
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(pubsub.project, "stream-it-dlq")
    received: list[Any] = []
    deadline = time.monotonic() + 60
    while len(received) < len(bad) and time.monotonic() < deadline:
        response = subscriber.pull(subscription=path, max_messages=100, timeout=10)
        received += [r.message for r in response.received_messages]
        if response.received_messages:
            subscriber.acknowledge(
                subscription=path, ack_ids=[r.ack_id for r in response.received_messages]
            )
    assert sorted(m.data for m in received) == bad
    assert {m.attributes["stage"] for m in received} <= {"DECODE", "VALIDATE"}
    assert all(m.attributes["error"] for m in received)


def test_spine_has_one_latest_row_per_skid_per_grid_point(
    simulated: tuple[datetime, list[Any]], streamed: str
) -> None:
    start, _ = simulated
    wh = open_warehouse(streamed)
    # In the table itself (the view keeps one row per point by construction): every
    # revision of a point is written once, so its latest revision is one row.
    (dupes,) = wh.query(
        "SELECT COUNT(*) AS n FROM (SELECT skid_id, grid_ts, revision FROM spine_points "
        "GROUP BY skid_id, grid_ts, revision HAVING COUNT(*) > 1)"
    )
    assert dupes["n"] == 0
    # Every point of the backlog's minutes, in order, none missing.
    rows = wh.query("SELECT grid_ts FROM spine_latest WHERE skid_id = 'ATL-01'")
    grid = sorted(r["grid_ts"] for r in rows)
    assert grid[:MINUTES] == [start + timedelta(minutes=m) for m in range(MINUTES)]
    (revised,) = wh.query("SELECT COUNT(*) AS n FROM spine_points WHERE revision > 0")
    # The backlog arrives after the wall-clock watermark: rows are revised, not lost.
    assert revised["n"] > 0
    (energy,) = wh.query(
        "SELECT COUNT(*) AS n, COUNTIF(electric_kw IS NOT NULL) AS with_power "
        "FROM energy_latest WHERE grid_ts < @end",
        {"end": start + timedelta(minutes=MINUTES)},
    )
    assert energy["n"] == MINUTES and energy["with_power"] == MINUTES


def test_backfill_writes_the_rows_the_stream_wrote(
    simulated: tuple[datetime, list[Any]], streamed: str, tmp_path: Path
) -> None:
    start, messages = simulated
    readings = tmp_path / "readings.jsonl"
    readings.write_bytes(b"".join(m.payload + b"\n" for m in messages))
    url = f"duckdb:///{tmp_path}/backfill.duckdb"
    run_backfill(str(readings), url)
    end = start + timedelta(minutes=MINUTES)
    sql = f"SELECT {_COMPARED} FROM spine_latest WHERE grid_ts < @end ORDER BY grid_ts"
    streamed_rows = open_warehouse(streamed).query(sql, {"end": end})
    backfilled_rows = open_warehouse(url).query(sql, {"end": end})
    assert len(backfilled_rows) == MINUTES
    assert backfilled_rows == streamed_rows
    energy_sql = (
        "SELECT * EXCEPT (revision) FROM energy_latest WHERE grid_ts < @end ORDER BY grid_ts"
    )
    assert open_warehouse(url).query(energy_sql, {"end": end}) == open_warehouse(streamed).query(
        energy_sql, {"end": end}
    )


def test_replaying_the_streamed_warehouse_writes_its_rows(
    simulated: tuple[datetime, list[Any]], streamed: str, tmp_path: Path
) -> None:
    """The streaming run's ``raw_readings`` replayed through the backfill: the same
    latest spine and energy rows, and every raw row again with its Pub/Sub message id,
    publish time and attributes."""
    start, _ = simulated
    url = f"duckdb:///{tmp_path}/replayed.duckdb"
    run_backfill(streamed, url)
    end = start + timedelta(minutes=MINUTES)
    sql = f"SELECT {_COMPARED} FROM spine_latest WHERE grid_ts < @end ORDER BY grid_ts"
    replayed_rows = open_warehouse(url).query(sql, {"end": end})
    assert len(replayed_rows) == MINUTES
    assert replayed_rows == open_warehouse(streamed).query(sql, {"end": end})
    energy_sql = (
        "SELECT * EXCEPT (revision) FROM energy_latest WHERE grid_ts < @end ORDER BY grid_ts"
    )
    assert open_warehouse(url).query(energy_sql, {"end": end}) == open_warehouse(streamed).query(
        energy_sql, {"end": end}
    )
    raw_sql = (
        "SELECT message_id, publish_ts, attributes_json, payload FROM raw_readings "
        "ORDER BY message_id"
    )
    streamed_raw = open_warehouse(streamed).query(raw_sql)
    assert all(r["message_id"] and r["publish_ts"] for r in streamed_raw)
    assert open_warehouse(url).query(raw_sql) == streamed_raw
