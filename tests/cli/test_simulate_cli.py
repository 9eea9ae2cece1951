"""``dra-twin simulate``: files written, byte-identical by seed, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from schemas.telemetry import TelemetryReading
from tests.conftest import REFERENCE_CONFIG

BASE = ["simulate", "--config", str(REFERENCE_CONFIG), "--start", "2026-07-01T00:00:00+00:00"]


def test_writes_readings_and_labels_byte_identical_for_a_seed(tmp_path: Path) -> None:
    args = [*BASE, "--hours", "1", "--seed", "9", "--fault", "malformed:ATL-01:10m:11m"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = (tmp_path / "a" / "readings.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "readings.jsonl").read_bytes()
    lines = a.splitlines()
    assert len(lines) == 3600
    valid = 0
    for line in lines:
        try:
            TelemetryReading.model_validate_json(line)
            valid += 1
        except ValueError:
            pass
    assert valid == 3600 - 60
    (label,) = [json.loads(x) for x in (tmp_path / "a" / "labels.jsonl").read_text().splitlines()]
    assert label["kind"] == "malformed" and label["samples"] == 60


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("stuck:ATL-01:1m:2m", "unknown kind 'stuck'"),
        ("spike:ATL-01:1m", "expected KIND:SKID:FROM:TO"),
        ("spike:ATL-01:1x:2m", "offset '1x' must look like"),
        ("spike:ATL-01:5m:2m", "fault end must be after its start"),
        ("spike:ATL-01:1m:2m:pressure", "unknown signal 'pressure'"),
        ("spike:NOPE:1m:2m", "unknown skid 'NOPE'"),
    ],
)
def test_bad_fault_is_a_clear_error_with_exit_2(
    fault: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, "--hours", "0.1", "--fault", fault, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
