"""Writer and reader processes for the concurrency test (run under ``spawn``)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import SpinePoint
from tests.warehouse.rows import stats
from warehouse import open_warehouse

BATCH_ROWS = 200
BUNDLE_INTERVAL_S = 0.1
START = datetime(2026, 7, 1, tzinfo=UTC)


def write_batches(url: str, batches: int, start_file: str, out: str) -> None:
    """Once the reader reads, insert ``batches`` batches of distinct spine rows a bundle
    interval apart, as the streaming job does; record how many rows."""
    wh = open_warehouse(url)
    while not Path(start_file).exists():
        time.sleep(0.01)
    written = 0
    for _ in range(batches):
        rows = [
            SpinePoint(
                skid_id="ATL-01",
                grid_ts=START + timedelta(minutes=written + i),
                interval_s=60,
                emitted_ts=START,
                line_flow_bph=stats(55_000.0),
            )
            for i in range(BATCH_ROWS)
        ]
        written += wh.insert_rows("spine_points", rows)
        time.sleep(BUNDLE_INTERVAL_S)
    Path(out).write_text(json.dumps({"written": written}))


def read_counts(url: str, started_file: str, stop_file: str, out: str) -> None:
    """Count rows until the writer is done; record every count and every error."""
    wh = open_warehouse(url)
    Path(started_file).touch()
    counts: list[list[int]] = []
    errors: list[str] = []
    while True:
        done = Path(stop_file).exists()
        try:
            (row,) = wh.query(
                "SELECT COUNT(*) AS n, COUNT(DISTINCT grid_ts) AS distinct_n FROM spine_points"
            )
            counts.append([row["n"], row["distinct_n"]])
        except Exception as exc:  # recorded, and the test fails on it
            errors.append(repr(exc))
        if done:
            break
        time.sleep(0.01)
    Path(out).write_text(json.dumps({"counts": counts, "errors": errors}))


def write_and_hold(url: str, rows: int, ready_file: str) -> None:
    """Insert ``rows`` spine rows with a writer that keeps the file attached for an
    hour, say so, then wait to be killed (the rows are committed, not checkpointed)."""
    from warehouse import DuckDBWarehouse

    wh = DuckDBWarehouse(url.removeprefix("duckdb://"), linger_s=3600.0)
    wh.insert_rows(
        "spine_points",
        [
            SpinePoint(
                skid_id="ATL-01",
                grid_ts=START + timedelta(minutes=i),
                interval_s=60,
                emitted_ts=START,
                line_flow_bph=stats(55_000.0),
            )
            for i in range(rows)
        ],
    )
    Path(ready_file).touch()
    while True:
        time.sleep(1)
