"""``dra-twin backfill`` and ``dra-twin stream``: counts that add up, clear errors."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from google.cloud import pubsub_v1

from beam.counts import job_counts
from beam.pipeline import run
from beam.progress import Progress, progress, reset_progress
from bridge.attributes import rfc3339_utc
from cli.commands.backfill import _current
from cli.local_services import PubSubEmulator
from cli.main import main
from tests.conftest import REFERENCE_CONFIG
from warehouse import open_warehouse

SIMULATE = ["simulate", "--config", str(REFERENCE_CONFIG), "--seed", "5"]


def _count(out: str, label: str) -> int:
    match = re.search(rf"^\s*{label}\s+([\d,]+)", out, re.MULTILINE)
    assert match, out
    return int(match.group(1).replace(",", ""))


def _simulate(tmp_path: Path, start: str, minutes: int, *faults: str) -> Path:
    out = tmp_path / "sim"
    args = [*SIMULATE, "--start", start, "--hours", str(minutes / 60), "--out", str(out)]
    for fault in faults:
        args += ["--fault", fault]
    assert main(args) == 0
    return out / "readings.jsonl"


def test_backfill_counts_add_up_and_rows_land(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also: ``duckdb://wh.duckdb`` is a file in the working directory."""
    readings = _simulate(
        tmp_path,
        "2026-07-01T00:00:00+00:00",
        6,
        "duplicate:ATL-01:1m:2m",
        "malformed:ATL-01:3m:4m",
    )
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    url = "duckdb://wh.duckdb"
    args = ["backfill", "--config", str(REFERENCE_CONFIG), "--input", str(readings)]
    args += ["--warehouse", url, "--start", "2026-07-01T00:00:00+00:00"]
    args += ["--end", "2026-07-01T00:05:00+00:00"]
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = len(readings.read_bytes().splitlines())
    # 6 min at 1 s = 360 samples, minute 1 published twice: 420 lines; minute 3 garbled.
    assert lines == 420
    assert _count(out, "readings in") == 420
    assert _count(out, "duplicates") == 60
    assert _count(out, "dead letters") == 60
    assert _count(out, "out of range") == 60  # minute 5 is past --end
    assert _count(out, "distinct used") == 420 - 60 - 60 - 60
    (landed,) = open_warehouse(url).query(
        "SELECT (SELECT COUNT(*) FROM raw_readings) AS raw, "
        "(SELECT COUNT(*) FROM dead_letters) AS dead, "
        "(SELECT COUNT(*) FROM spine_latest WHERE grid_ts < TIMESTAMP '2026-07-01 00:05:00+00') "
        "AS spine"
    )
    assert landed == {"raw": 300, "dead": 60, "spine": 5}
    assert _count(out, "spine rows out") >= 5
    assert (tmp_path / "wh.duckdb").is_file()


def test_backfill_shows_running_counts_then_the_final_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three 10,000-line batches: the progress line counts readings and dead letters
    as they are read (never backwards), and the last line gives the totals."""
    readings = _simulate(
        tmp_path,
        "2026-07-01T00:00:00+00:00",
        240,
        "duplicate:ATL-01:60m:180m",
        "malformed:ATL-01:200m:205m",
    )
    capsys.readouterr()
    args = ["backfill", "--config", str(REFERENCE_CONFIG), "--input", str(readings)]
    args += ["--warehouse", f"duckdb:///{tmp_path}/wh.duckdb", "--progress-interval-s", "0.01"]
    assert main(args) == 0
    captured = capsys.readouterr()
    total = _count(captured.out, "readings in")
    dead = _count(captured.out, "dead letters")
    assert total == len(readings.read_bytes().splitlines()) > 20_000 and dead >= 300
    shown = [
        (int(r.replace(",", "")), int(d.replace(",", "")))
        for r, d in re.findall(r"read ([\d,]+) readings, ([\d,]+) dead letters", captured.err)
    ]
    assert shown == sorted(shown) and all(r <= total and d <= dead for r, d in shown)
    assert any(0 < r < total for r, _ in shown), shown
    (final,) = re.findall(
        r"backfilled ([\d,]+) readings in [\d.]+ s \([\d,]+ readings/s\), ([\d,]+) dead letters",
        captured.err,
    )
    assert final == (f"{total:,}", f"{dead:,}")


def test_progress_comes_from_the_job_counters_when_the_job_runs_elsewhere(
    tmp_path: Path,
) -> None:
    """In this process the tally counts what the job read; for a job running elsewhere
    (Dataflow: the tally stays empty) the running result's counters are shown. Both end
    at the job's final counts."""
    readings = _simulate(tmp_path, "2026-07-01T00:00:00+00:00", 6, "malformed:ATL-01:3m:4m")
    reset_progress()
    result = run(
        [
            f"--config={REFERENCE_CONFIG}",
            f"--input={readings}",
            f"--warehouse=duckdb:///{tmp_path}/wh.duckdb",
            "--runner=FnApiRunner",
        ]
    )
    result.wait_until_finish()
    counts = job_counts(result)
    expected = Progress(counts.readings_in, counts.dead_letters)
    assert expected == Progress(360, 60)
    assert _current({"result": result}) == progress() == expected
    reset_progress()
    assert progress() == Progress(0, 0)
    assert _current({}) == Progress(0, 0)
    assert _current({"result": result}) == expected


def test_backfill_refuses_a_parquet_file_of_another_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pq.write_table(pa.table({"payload": ["{}"]}), tmp_path / "export.parquet")
    args = ["backfill", "--config", str(REFERENCE_CONFIG), "--input", f"{tmp_path}/*.parquet"]
    args += ["--warehouse", f"duckdb:///{tmp_path}/wh.duckdb"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "export.parquet is not a raw_readings export: missing column 'message_id'" in err
    assert not (tmp_path / "wh.duckdb").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2026-07-01T00:00:00"], "needs a UTC offset"),
        (["--warehouse", "postgres://x"], "expected duckdb://PATH"),
        (["--input", "/nonexistent/*.jsonl"], "no file matches"),
        (["--input", "duckdb:///nonexistent/wh.duckdb"], "no such warehouse file"),
        (["--input", "bigquery://project-only"], "expected bigquery://PROJECT/DATASET"),
        (["--progress-interval-s", "0"], "must be positive"),
    ],
)
def test_backfill_refuses_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["backfill", "--config", str(REFERENCE_CONFIG), "--input", str(tmp_path / "x")]
    args += ["--warehouse", f"duckdb:///{tmp_path}/wh.duckdb", *extra]
    (tmp_path / "x").write_bytes(b"")
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_stream_refuses_a_topic_for_a_subscription(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["stream", "--config", str(REFERENCE_CONFIG), "--subscription", "projects/p/topics/t"]
    args += ["--warehouse", f"duckdb:///{tmp_path}/wh.duckdb"]
    assert main(args) == 2
    assert "expected projects/P/subscriptions/S" in capsys.readouterr().err


@pytest.mark.integration
def test_stream_runs_for_its_duration_and_prints_what_landed(
    pubsub: PubSubEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    readings = _simulate(tmp_path, start.isoformat(), 1, "duplicate:ATL-01:30s:60s")
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(pubsub.project, "stream-cli")
    subscription = subscriber.subscription_path(pubsub.project, "stream-cli")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    lines = readings.read_bytes().splitlines()
    for line in lines:
        ts = rfc3339_utc(datetime.fromisoformat(json.loads(line)["source_ts"]))
        publisher.publish(topic, line, ts=ts).result(timeout=30)
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)  # the same relative URL as the backfill test's: another file
    url = "duckdb://wh.duckdb"
    args = ["stream", "--config", str(REFERENCE_CONFIG), "--subscription", subscription]
    args += ["--warehouse", url, "--duration-s", "30"]
    began = time.monotonic()
    assert main(args) == 0
    # Stops at its duration (plus at most one 30 s empty pull of the local runner).
    assert time.monotonic() - began < 75
    out = capsys.readouterr().out
    # What it prints is what the warehouse holds: 1 min at 1 s with its second half
    # published twice is 90 messages; the local runner lands most of them in 30 s.
    assert len(lines) == 90
    (landed,) = open_warehouse(url).query(
        "SELECT (SELECT COUNT(*) FROM raw_readings) AS raw, "
        "(SELECT COUNT(*) FROM (SELECT DISTINCT source_ts, seq FROM raw_readings)) "
        "AS distinct_raw, "
        "(SELECT COUNT(*) FROM spine_points) AS spine"
    )
    assert 0 < _count(out, "readings in") == landed["raw"] <= 90
    assert _count(out, "duplicates") == landed["raw"] - landed["distinct_raw"]
    assert _count(out, "distinct used") == landed["distinct_raw"]
    assert _count(out, "dead letters") == 0
    assert _count(out, "spine rows out") == landed["spine"]
