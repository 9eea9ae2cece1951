"""The product's streaming path, live on this machine: what ``make demo`` shows first.

simulator --MQTT--> mosquitto --> bridge --> Pub/Sub emulator --> streaming job
(BundleBasedDirectRunner) --> DuckDB warehouse. Every piece is the real one, run the
way an operator would run it: the bridge and the streaming job are ``dra-twin``
subprocesses with their own logs, the broker and the emulator are the real servers.

The simulated telemetry ends "now", so the local runner, whose watermark follows the
wall clock, closes the spine rows as it would in the field: a backlog of the past few
minutes goes out at once (as after an outage), the last minute in real time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from google.cloud import pubsub_v1

from bridge.metrics import parse_prometheus_text
from bridge.sim_publisher import PacedBy, publish_messages
from cli.local_services import (
    Mosquitto,
    PubSubEmulator,
    free_port,
    mosquitto,
    pubsub_emulator,
    stop_process_group,
)
from schemas.site_config import load_site_config
from twin.simulator import FaultKind, FaultSpec, SimulatedMessage, SimulationSpec, simulate
from warehouse import open_warehouse

__all__ = ["LiveRun", "run_live_stack", "summarise_live_run"]

_TOPIC, _DLQ, _SUBSCRIPTION = "dra-local-telemetry", "dra-local-dead-letter", "dra-local-dataflow"


@dataclass(frozen=True)
class LiveRun:
    """What went in, for the summary to hold the warehouse to."""

    start: datetime
    end: datetime
    published: int
    skid_id: str
    maop_psig: float
    distinct_valid: int
    duplicates: int
    malformed: int
    warehouse_url: str


def _faults(skid_id: str, start: datetime) -> tuple[FaultSpec, ...]:
    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    return (
        FaultSpec(kind=FaultKind.DUPLICATE, skid_id=skid_id, start=at(1), end=at(2)),
        FaultSpec(kind=FaultKind.OUT_OF_ORDER, skid_id=skid_id, start=at(2), end=at(3)),
        FaultSpec(kind=FaultKind.MALFORMED, skid_id=skid_id, start=at(3), end=at(3.5)),
        FaultSpec(kind=FaultKind.DROPOUT, skid_id=skid_id, start=at(4), end=at(6)),
        FaultSpec(kind=FaultKind.INJECTION_PUMP_FAILURE, skid_id=skid_id, start=at(6), end=at(8)),
    )


def _create_topics(emulator: PubSubEmulator) -> str:
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    for name in (_TOPIC, _DLQ):
        publisher.create_topic(name=publisher.topic_path(emulator.project, name))
    subscription = subscriber.subscription_path(emulator.project, _SUBSCRIPTION)
    subscriber.create_subscription(
        name=subscription, topic=publisher.topic_path(emulator.project, _TOPIC)
    )
    return subscription


def _bridge_config(out: Path, broker: Mosquitto, emulator: PubSubEmulator, port: int) -> Path:
    path = out / "bridge.yaml"
    config = {
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "protocol": "5",
            "client_id": "dra-demo-bridge-0",
            "topic_filters": ["dra/+/+/telemetry"],
        },
        "pubsub": {
            "project": emulator.project,
            "topic": _TOPIC,
            "dead_letter_topic": _DLQ,
            "emulator_host": emulator.host,
        },
        "health_port": port,
        "log_level": "WARNING",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def _process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``dra-twin`` subprocess in its own group, stopped (group and all) on exit."""
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *argv],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    try:
        yield proc
    finally:
        stop_process_group(proc, timeout_s=30.0)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the bridge exited with {proc.returncode}; see its log")
        # 503 (not ready yet) raises HTTPError, an OSError, like a refused connection.
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the bridge was not ready within {timeout_s:.0f} s")


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _bridge_counters(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        return parse_prometheus_text(r.read().decode())


def _landed(url: str) -> tuple[int, int]:
    (row,) = open_warehouse(url).query(
        "SELECT (SELECT COUNT(*) FROM raw_readings) AS raw, "
        "(SELECT COUNT(*) FROM dead_letters) AS dead"
    )
    return int(row["raw"]), int(row["dead"])


def run_live_stack(
    config_path: Path, out: Path, *, backlog_minutes: int = 9, live_minutes: int = 1
) -> LiveRun:
    """Run the whole streaming path on simulated telemetry ending now; return the inputs.

    The streaming job stops once everything published has landed (raw readings and
    dead letters) and the spine has closed the last whole minute, or after a bound.
    """
    out.mkdir(parents=True, exist_ok=True)
    config = load_site_config(config_path)
    skid = config.skids[0]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=backlog_minutes)
    end = now + timedelta(minutes=live_minutes)
    spec = SimulationSpec(
        start=start,
        duration_s=(end - start).total_seconds(),
        interval_s=1.0,
        seed=17,
        skid_ids=(skid.skid_id,),
        faults=_faults(skid.skid_id, start),
    )
    messages: list[SimulatedMessage] = simulate(config, spec).messages
    payloads = [m.payload for m in messages]
    run = LiveRun(
        start=start,
        end=end,
        skid_id=skid.skid_id,
        maop_psig=skid.segment.maop_psig,
        published=len(messages),
        distinct_valid=len({m.payload for m in messages if m.source_ts is not None}),
        duplicates=len(payloads) - len(set(payloads)),
        malformed=sum(m.source_ts is None for m in messages),
        warehouse_url=f"duckdb:///{(out / 'warehouse.duckdb').resolve()}",
    )
    (out / "warehouse.duckdb").unlink(missing_ok=True)
    open_warehouse(run.warehouse_url)  # tables and views exist before anyone reads
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(mosquitto())
        emulator = stack.enter_context(pubsub_emulator())
        # The google-cloud clients find the emulator only through this variable; it
        # is set for the emulator's life (the subprocesses inherit it) and then undone.
        stack.callback(_restore_env, "PUBSUB_EMULATOR_HOST", os.environ.get("PUBSUB_EMULATOR_HOST"))
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
        subscription = _create_topics(emulator)
        health_port = free_port()
        bridge_yaml = _bridge_config(out, broker, emulator, health_port)
        stream_argv = [
            "stream",
            f"--config={config_path}",
            f"--subscription={subscription}",
            f"--warehouse={run.warehouse_url}",
            f"--dead-letter-topic=projects/{emulator.project}/topics/{_DLQ}",
        ]
        with (
            _process(["bridge", "--config", str(bridge_yaml)], out / "bridge.log") as bridge,
            _process(stream_argv, out / "stream.log") as stream,
        ):
            _wait_ready(health_port, bridge, 60.0)
            print(
                f"  broker {broker.host}:{broker.port}, emulator {emulator.host}, bridge and "
                f"streaming job up (logs in {out})",
                flush=True,
            )
            backlog = [m for m in messages if m.source_ts is None or m.source_ts < now]
            live = messages[len(backlog) :]
            publish_messages(backlog, broker.host, broker.port, client_id="dra-demo-rtu")
            print(
                f"  published a {backlog_minutes}-minute backlog ({len(backlog):,} messages); "
                f"now {live_minutes} minute(s) live at 1 reading/s",
                flush=True,
            )
            publish_messages(
                live,
                broker.host,
                broker.port,
                client_id="dra-demo-rtu",
                paced_by=PacedBy(speed=1.0),
            )
            deadline = time.monotonic() + 240.0
            landed = _landed(run.warehouse_url)
            # Wait for every message, then for the wall-clock watermark to close the
            # last minute of the spine (allowed lateness keeps rows revisable after).
            while time.monotonic() < deadline and (
                landed[0] < run.distinct_valid or landed[1] < run.malformed
            ):
                time.sleep(2.0)
                landed = _landed(run.warehouse_url)
            while time.monotonic() < deadline and datetime.now(UTC) < end + timedelta(seconds=75):
                time.sleep(2.0)
            counters = _bridge_counters(health_port)
            stream.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                stream.wait(timeout=60)
    print(
        "  bridge counters: "
        + json.dumps({k: int(v) for k, v in counters.items() if k.startswith("dra_bridge_") and v})
    )
    return run


def summarise_live_run(run: LiveRun, plot: Path) -> None:
    """Print what landed, held against what went in, and plot the streamed minutes."""
    wh = open_warehouse(run.warehouse_url)
    (totals,) = wh.query(
        "SELECT (SELECT COUNT(*) FROM raw_readings) AS raw_rows, "
        "(SELECT COUNT(DISTINCT CONCAT(skid_id, CAST(source_ts AS STRING), CAST(seq AS STRING))) "
        " FROM raw_readings) AS distinct_raw, "
        "(SELECT COUNT(*) FROM dead_letters) AS dead_letters, "
        "(SELECT COUNT(*) FROM spine_latest) AS spine_rows, "
        "(SELECT COUNT(*) FROM energy_latest) AS energy_rows"
    )
    print(
        f"  published {run.published:,} messages: {run.distinct_valid:,} distinct readings, "
        f"{run.duplicates:,} duplicates, {run.malformed:,} malformed"
    )
    print(
        f"  warehouse: {totals['distinct_raw']:,} distinct raw readings "
        f"({totals['raw_rows']:,} rows), {totals['dead_letters']:,} dead letters, "
        f"{totals['spine_rows']:,} spine rows, "
        f"{totals['energy_rows']:,} energy rows"
    )
    verdict = (
        "every reading accounted for"
        if totals["distinct_raw"] == run.distinct_valid and totals["dead_letters"] == run.malformed
        else "MISMATCH: see the stream log"
    )
    print(f"  {verdict}")
    quality = wh.query(
        "SELECT discharge_psig.quality AS quality, COUNT(*) AS n FROM spine_latest "
        "GROUP BY quality ORDER BY quality"
    )
    print(
        "  discharge pressure on the spine: "
        + ", ".join(f"{q['n']} {q['quality']}" for q in quality)
    )
    for row in wh.query(
        "SELECT hour_start, volume_bbl, electric_kwh, kwh_per_bbl, energy_cost_usd, "
        "dra_cost_usd, net_saving_usd FROM energy_hourly ORDER BY hour_start"
    ):
        print(
            f"  hour {row['hour_start']:%H:%M}Z: {row['volume_bbl'] or 0:,.0f} bbl, "
            f"{row['electric_kwh'] or 0:,.0f} kWh ({row['kwh_per_bbl'] or 0:.3f} kWh/bbl), "
            f"energy ${row['energy_cost_usd'] or 0:,.2f}, DRA ${row['dra_cost_usd'] or 0:,.2f}, "
            f"net saving vs no DRA ${row['net_saving_usd'] or 0:,.2f}"
        )
    rows = wh.query(
        "SELECT e.grid_ts, e.dra_ppm, e.dr_observed_pct, e.dr_expected_pct, "
        "s.discharge_psig.mean AS discharge_psig "
        "FROM energy_latest AS e JOIN spine_latest AS s USING (skid_id, grid_ts) "
        "ORDER BY e.grid_ts"
    )
    _plot(rows, run, plot)
    print(f"  plot: {plot}")


def _plot(rows: list[dict[str, object]], run: LiveRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = [r["grid_ts"] for r in rows]

    def series(name: str) -> list[float]:
        return [float(r[name]) if r[name] is not None else float("nan") for r in rows]  # type: ignore[arg-type]

    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    ax1.plot(ts, series("discharge_psig"), label="discharge (spine mean), psig")
    maop = run.maop_psig
    ax1.axhline(maop, color="red", linestyle="--", label=f"MAOP {maop:.0f} psig")
    ax1.set_ylabel("psig")
    ax1.legend(loc="lower left")
    ax2.plot(ts, series("dr_observed_pct"), label="observed DR %")
    ax2.plot(ts, series("dr_expected_pct"), label="expected DR %")
    ax2.plot(ts, series("dra_ppm"), label="DRA ppm")
    ax2.set_ylabel("% / ppm")
    ax2.legend(loc="lower left")
    fig.suptitle(
        f"{run.skid_id} streamed {run.start:%H:%M}-{run.end:%H:%M} UTC: dropout, then injection "
        "pump failure"
    )
    fig.autofmt_xdate()
    fig.savefig(path, dpi=100)
    plt.close(fig)
