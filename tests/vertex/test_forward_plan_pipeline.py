"""The forward-plan pipeline: compiles to YAML, and runs locally with kfp.local (the
same components, in subprocesses of this interpreter) into a DuckDB warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from kfp import local

from schemas.energy import EnergyRow, PowerSource
from tests.conftest import REFERENCE_CONFIG
from tests.plan_requests import write_rbob_then_jet
from vertex.compile import compile_all
from vertex.pipelines.forward_plan import forward_plan
from warehouse import open_warehouse

START = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)
# kfp warns that the components name a custom image; locally they run in this venv.
pytestmark = pytest.mark.filterwarnings("ignore:You may be attemping:RuntimeWarning")


def test_pipeline_compiles_to_yaml_with_every_component(tmp_path: Path) -> None:
    (path,) = compile_all(tmp_path)
    spec = yaml.safe_load(path.read_text())
    assert spec["pipelineInfo"]["name"] == "dra-twin-forward-plan"
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {
        "load-inputs",
        "forecast-nominations",
        "optimise-plan",
        "check-plan",
        "write-plan",
    }
    assert tasks["write-plan"]["dependentTasks"] == ["check-plan"]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) >= {
        "config_path",
        "warehouse_url",
        "nominations_path",
        "hours",
        "time_limit_s",
        "gap",
    }


@pytest.fixture
def kfp_local(tmp_path: Path) -> None:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))


def _nominations(tmp_path: Path) -> Path:
    return write_rbob_then_jet(
        tmp_path / "nominations.yaml",
        rbob_bbl=200_000.0,
        rbob_due=START + timedelta(hours=5),
        jet_bbl=120_000.0,
        jet_due=START + timedelta(hours=8),
    )


@pytest.mark.usefixtures("kfp_local")
def test_local_run_writes_the_plan_to_the_warehouse(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    forward_plan(
        config_path=str(REFERENCE_CONFIG),
        warehouse_url=url,
        nominations_path=str(_nominations(tmp_path)),
        start_iso=START.isoformat(),
        hours=8,
        time_limit_s=20.0,
    )
    wh = open_warehouse(url)
    rows = wh.query(
        "SELECT hour_index, product_code, line_flow_bph, dra_ppm FROM plan_rows "
        "WHERE skid_id = @skid_id ORDER BY hour_index",
        {"skid_id": "ATL-01"},
    )
    assert [r["hour_index"] for r in rows] == list(range(8))
    assert sum(r["line_flow_bph"] for r in rows) == pytest.approx(320_000.0, abs=1.0)
    assert all(r["dra_ppm"] == 0 for r in rows if r["product_code"] == "JET")
    (summary,) = wh.query("SELECT status, checker_passed FROM plan_summaries", {})
    assert summary["status"] == "OPTIMAL" and summary["checker_passed"] is True


@pytest.mark.usefixtures("kfp_local")
def test_local_run_forecasts_nominations_from_last_week_when_none_are_given(
    tmp_path: Path,
) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    history = []
    for minute in range(0, 6 * 60, 10):
        ts = START - timedelta(hours=6) + timedelta(minutes=minute)
        history.append(
            EnergyRow(
                skid_id="ATL-01",
                grid_ts=ts,
                interval_s=600,
                product_code="RBOB" if minute < 180 else "ULSD",
                line_flow_bph=45_000.0,
                volume_bbl=7_500.0,
                power_source=PowerSource.MODELLED,
            )
        )
    open_warehouse(url).insert_rows("energy_rows", history)
    forward_plan(
        config_path=str(REFERENCE_CONFIG),
        warehouse_url=url,
        start_iso=START.isoformat(),
        hours=6,
        time_limit_s=20.0,
    )
    wh = open_warehouse(url)
    rows = wh.query("SELECT batch_id, line_flow_bph FROM plan_rows ORDER BY hour_index", {})
    assert len(rows) == 6
    # Same as last week: 135,000 bbl of RBOB then 135,000 bbl of ULSD.
    assert sum(r["line_flow_bph"] for r in rows) == pytest.approx(270_000.0, abs=1.0)
    assert {r["batch_id"] for r in rows} <= {"FC-01", "FC-02"}
