"""``dra-twin sweep``: one row per ppm level up to the product's limit, and a real PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import REFERENCE_CONFIG

ARGS = [
    "sweep",
    "--config",
    str(REFERENCE_CONFIG),
    "--skid",
    "ATL-01",
    "--flow-bph",
    "50000",
    "--at",
    "2026-07-04T03:00:00-04:00",
]


def test_sweep_prints_levels_to_the_limit_and_writes_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "sweep.png"
    assert main([*ARGS, "--product", "RBOB", "--steps", "4", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    rows = [
        line.split() for line in out.splitlines() if line[:6].strip().replace(".", "").isdigit()
    ]
    assert [float(r[0]) for r in rows] == [0.0, 5.0, 10.0, 15.0]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Off-peak weekend (0.052 $/kWh): DRA costs more than it saves at the top of the range.
    assert float(rows[-1][-2]) < float(rows[1][-2])


def test_sweep_for_jet_fuel_has_only_zero_ppm(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--product", "JET"]) == 0
    out = capsys.readouterr().out
    assert "best net benefit: 0 $/h at 0.00 ppm" in out
