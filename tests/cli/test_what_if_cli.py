"""``dra-twin what-if`` and ``validate-config``: figures, refusals, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.commands.what_if import WHAT_IF_FIELDS
from cli.main import main
from tests.conftest import REFERENCE_CONFIG

BASE = ["what-if", "--config", str(REFERENCE_CONFIG), "--skid", "ATL-01"]
AT = ["--at", "2026-07-01T16:00:00-04:00"]


def test_json_output_has_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*BASE, "--flow-bph", "50000", "--ppm", "8", "--product", "RBOB", *AT, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(WHAT_IF_FIELDS) <= set(out)
    assert out["ppm"] == 8.0 and out["dr_expected_pct"] == pytest.approx(62 * 8 / 14)
    assert out["energy_cost_usd_per_h"] == pytest.approx(out["electric_kw"] * 0.186)


def test_zero_ppm_reports_zero_dr_and_equal_costs(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main([*BASE, "--flow-bph", "45000", "--ppm", "0", "--product", "JET", *AT, "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["dr_expected_pct"] == 0.0
    assert out["energy_cost_usd_per_h"] == out["energy_cost_usd_per_h_no_dra"]
    assert out["net_benefit_usd_per_h"] == 0.0


def test_table_output_lists_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--flow-bph", "55000", "--ppm", "10", "--product", "ULSD", *AT]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in WHAT_IF_FIELDS)
    assert "without DRA this flow would need" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow-bph", "40000", "--ppm", "1", "--product", "JET"], "forbidden in this product"),
        (["--flow-bph", "40000", "--ppm", "20", "--product", "ULSD"], "exceeds the DRA limit"),
        (["--flow-bph", "40000", "--ppm", "5", "--product", "AVGAS"], "unknown product"),
        (["--flow-bph", "-1", "--ppm", "5"], "flow_bph must be positive"),
    ],
)
def test_refusals_exit_nonzero_with_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_unknown_skid_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["what-if", "--config", str(REFERENCE_CONFIG), "--skid", "X-9"]
    assert main([*args, "--flow-bph", "1000", "--ppm", "0"]) == 2
    assert "unknown skid 'X-9'" in capsys.readouterr().err


def test_subprocess_errors_carry_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(REFERENCE_CONFIG.read_text().replace("maop_psig: 900.0", "maop_psig: -900"))
    for argv in (
        ["validate-config", str(bad)],
        [*BASE, "--flow-bph", "40000", "--ppm", "3", "--product", "JET"],
        [*BASE, "--flow-bph", "lots", "--ppm", "3"],
        [*BASE, "--flow-bph", "4", "--ppm", "3", "--at", "2026-07-01T16:00:00"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", *argv], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2, argv
        assert "Traceback" not in proc.stderr, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "validate-config", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "skids[0].segment.maop_psig: Input should be greater than 0" in proc.stderr


def test_validate_config_accepts_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-config", str(REFERENCE_CONFIG)]) == 0
    assert "OK - site atl-pilot" in capsys.readouterr().out
