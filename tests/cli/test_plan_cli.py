"""``dra-twin plan`` end to end on a small request: summary, files, plot, user errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from cli.main import main
from tests.conftest import REFERENCE_CONFIG
from tests.plan_requests import write_rbob_then_jet

START = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)


def _nominations(tmp_path: Path, rbob_bbl: float) -> Path:
    return write_rbob_then_jet(
        tmp_path / "nominations.yaml",
        rbob_bbl=rbob_bbl,
        rbob_due=START + timedelta(hours=6),
        jet_bbl=90_000.0,
        jet_due=START + timedelta(hours=8),
    )


def _plan_8_hours(nominations: Path, *options: str) -> int:
    """``dra-twin plan`` of the reference config over the 8 hours from START."""
    return main(
        [
            "plan",
            "--config",
            str(REFERENCE_CONFIG),
            "--nominations",
            str(nominations),
            "--start",
            START.isoformat(),
            "--hours",
            "8",
            *options,
        ]
    )


def test_plan_writes_rows_summary_and_plot(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = _plan_8_hours(
        _nominations(tmp_path, 200_000.0),
        "--json",
        "--out",
        str(out),
        "--plot",
        str(out / "plan.png"),
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "OPTIMAL" and summary["checker_passed"] is True
    rows = [json.loads(line) for line in (out / "plan_rows.jsonl").read_text().splitlines()]
    assert len(rows) == 8
    assert all(r["dra_ppm"] == 0.0 for r in rows if r["product_code"] == "JET")
    assert (out / "plan.png").stat().st_size > 10_000


def test_plan_reports_an_infeasible_request_without_traceback(tmp_path: Path, capsys) -> None:
    code = _plan_8_hours(_nominations(tmp_path, 900_000.0))
    assert code == 1
    assert "INFEASIBLE" in capsys.readouterr().out


def test_plan_prints_the_operator_rule_fallback_when_no_plan_is_found_in_time(capsys) -> None:
    # 50 ms is too little for HiGHS to find any plan of the reference week: the
    # checked operator-rule plan is returned, with no solver bound to print.
    code = main(
        [
            "plan",
            "--config",
            str(REFERENCE_CONFIG),
            "--nominations",
            str(REFERENCE_CONFIG.parent / "nominations-reference-week.yaml"),
            "--start",
            "2026-07-06T00:00-04:00",
            "--time-limit-s",
            "0.05",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "FALLBACK" in out and "operator-rule plan is returned" in out
    assert "saving 0 USD (0.0 %)" in out and ">>> NOW (2026-07-06 04:00 UTC)" in out


def test_plan_rejects_a_bad_nominations_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("skid_id: ATL-01\nbatches: []\n")
    code = main(["plan", "--config", str(REFERENCE_CONFIG), "--nominations", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "batches" in err


def test_from_now_replans_from_the_warehouse_state(tmp_path: Path, capsys) -> None:
    from schemas import Quality, SignalStats, SpinePoint
    from warehouse import open_warehouse

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    as_of = datetime(2026, 7, 6, 12, 20, tzinfo=UTC)

    def sig(value: float) -> SignalStats:
        return SignalStats(
            mean=value, min=value, max=value, last=value, count=60, quality=Quality.GOOD
        )

    # Two hours of batch R1 at 50,000 bbl/h have passed: 100,000 of its 200,000 bbl.
    open_warehouse(url).insert_rows(
        "spine_points",
        [
            SpinePoint(
                skid_id="ATL-01",
                grid_ts=as_of - timedelta(hours=2 - h),
                interval_s=3600,
                emitted_ts=as_of,
                product_code="RBOB",
                batch_id="R1",
                line_flow_bph=sig(50_000.0),
                dra_tank_level_gal=sig(4_321.0),
                pumps_running=sig(3.0),
            )
            for h in range(2)
        ],
    )
    nominations = tmp_path / "n.yaml"
    nominations.write_text(
        yaml.safe_dump(
            {
                "skid_id": "ATL-01",
                "initial_tank_gal": 100.0,
                "batches": [
                    {"batch_id": "U0", "product_code": "ULSD", "volume_bbl": 300000.0},
                    {
                        "batch_id": "R1",
                        "product_code": "RBOB",
                        "volume_bbl": 200000.0,
                        "deadline": "2026-07-06T16:00:00+00:00",
                    },
                    {
                        "batch_id": "J1",
                        "product_code": "JET",
                        "volume_bbl": 120000.0,
                        "deadline": "2026-07-06T19:00:00+00:00",
                    },
                ],
            }
        )
    )
    code = main(
        [
            "plan",
            "--config",
            str(REFERENCE_CONFIG),
            "--nominations",
            str(nominations),
            "--start",
            as_of.isoformat(),
            "--hours",
            "8",
            "--warehouse",
            url,
            "--from-now",
        ]
    )
    assert code == 0
    assert ">>> NOW (2026-07-06 12:00 UTC)" in capsys.readouterr().out
    wh = open_warehouse(url)
    rows = wh.query(
        "SELECT hour_index, batch_id, line_flow_bph, dra_tank_gal_end, is_current_hour "
        "FROM plan_rows ORDER BY hour_index",
        {},
    )
    assert len(rows) == 8 and rows[0]["is_current_hour"] and not rows[1]["is_current_hour"]
    assert rows[0]["batch_id"] == "R1"
    assert sum(r["line_flow_bph"] for r in rows) == pytest.approx(220_000.0, abs=1.0)
    assert rows[0]["dra_tank_gal_end"] <= 4_321.0 and rows[0]["dra_tank_gal_end"] > 4_000.0
    (summary,) = wh.query("SELECT status, current_hour_flow_bph FROM plan_summaries", {})
    assert summary["status"] == "OPTIMAL"
    assert summary["current_hour_flow_bph"] == pytest.approx(rows[0]["line_flow_bph"])
