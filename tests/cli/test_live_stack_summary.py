"""The demo's live-stack summary holds the warehouse to what was published.

``run_live_stack`` itself is exercised by ``make demo`` (it runs the broker, the
emulator, the bridge and the streaming job for minutes); its summary is checked here
on a seeded warehouse so a broken query or report cannot hide until the demo runs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cli.live_stack import LiveRun, summarise_live_run
from tests.warehouse.rows import T0, representative_rows
from warehouse import open_warehouse


def _run(url: str, distinct_valid: int, malformed: int) -> LiveRun:
    return LiveRun(
        start=T0,
        end=T0 + timedelta(minutes=10),
        skid_id="ATL-01",
        maop_psig=900.0,
        published=distinct_valid + malformed,
        distinct_valid=distinct_valid,
        duplicates=0,
        malformed=malformed,
        warehouse_url=url,
    )


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    rows = representative_rows()
    open_warehouse(url).insert_many(
        {t: [rows[t]] for t in ("raw_readings", "dead_letters", "spine_points", "energy_rows")}
    )
    return url


def test_summary_reports_counts_quality_energy_and_plots(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "live.png"
    summarise_live_run(_run(seeded, distinct_valid=1, malformed=1), plot)
    out = capsys.readouterr().out
    assert "1 distinct raw readings (1 rows), 1 dead letters, 1 spine rows, 1 energy rows" in out
    assert "every reading accounted for" in out
    assert "discharge pressure on the spine: 1 GOOD" in out
    assert "235 kWh (0.257 kWh/bbl), energy $43.75, DRA $3.66" in out
    assert plot.stat().st_size > 10_000


def test_summary_flags_a_mismatch(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summarise_live_run(_run(seeded, distinct_valid=2, malformed=1), tmp_path / "live.png")
    assert "MISMATCH" in capsys.readouterr().out
