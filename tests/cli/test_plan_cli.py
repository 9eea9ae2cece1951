"""``dra-twin plan`` end to end on a small request: summary, files, plot, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from cli.main import main
from tests.conftest import REFERENCE_CONFIG


def _nominations(tmp_path: Path, volume_bbl: float) -> Path:
    path = tmp_path / "nominations.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "skid_id": "ATL-01",
                "initial_tank_gal": 5000.0,
                "initial_pumps_running": 2,
                "batches": [
                    {
                        "batch_id": "R1",
                        "product_code": "RBOB",
                        "volume_bbl": volume_bbl,
                        "deadline": "2026-07-06T18:00:00+00:00",
                    },
                    {
                        "batch_id": "J1",
                        "product_code": "JET",
                        "volume_bbl": 90000.0,
                        "deadline": "2026-07-06T20:00:00+00:00",
                    },
                ],
            }
        )
    )
    return path


def test_plan_writes_rows_summary_and_plot(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "plan",
            "--config",
            str(REFERENCE_CONFIG),
            "--nominations",
            str(_nominations(tmp_path, 200_000.0)),
            "--start",
            "2026-07-06T12:00:00+00:00",
            "--hours",
            "8",
            "--json",
            "--out",
            str(out),
            "--plot",
            str(out / "plan.png"),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "OPTIMAL" and summary["checker_passed"] is True
    rows = [json.loads(line) for line in (out / "plan_rows.jsonl").read_text().splitlines()]
    assert len(rows) == 8
    assert all(r["dra_ppm"] == 0.0 for r in rows if r["product_code"] == "JET")
    assert (out / "plan.png").stat().st_size > 10_000


def test_plan_reports_an_infeasible_request_without_traceback(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "plan",
            "--config",
            str(REFERENCE_CONFIG),
            "--nominations",
            str(_nominations(tmp_path, 900_000.0)),
            "--start",
            "2026-07-06T12:00:00+00:00",
            "--hours",
            "8",
        ]
    )
    assert code == 1
    assert "INFEASIBLE" in capsys.readouterr().out


def test_plan_rejects_a_bad_nominations_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("skid_id: ATL-01\nbatches: []\n")
    code = main(["plan", "--config", str(REFERENCE_CONFIG), "--nominations", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "batches" in err
