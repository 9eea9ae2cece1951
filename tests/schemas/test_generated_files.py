"""The committed schema files are exactly what the models generate."""

from __future__ import annotations

import json

import pytest

from schemas.generate import generated_files, main
from schemas.tables import TABLES


@pytest.mark.parametrize("path", sorted(generated_files()), ids=lambda p: p.name)
def test_committed_schema_file_matches_models(path) -> None:  # type: ignore[no-untyped-def]
    expected = generated_files()[path]
    assert path.exists(), f"{path} missing: run python -m schemas.generate"
    assert path.read_text() == expected, f"{path} drifted: run python -m schemas.generate"


def test_check_mode_reports_drift(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import schemas.generate as gen

    monkeypatch.setattr(gen, "_HERE", tmp_path)
    assert main(["--check"]) == 1
    assert "stale generated schema files" in capsys.readouterr().err
    assert main([]) == 0
    assert main(["--check"]) == 0


def test_every_table_partitions_on_a_timestamp_and_clusters_on_real_columns() -> None:
    for table in TABLES.values():
        spec = json.loads(generated_files()[_path(table.name)])
        by_name = {f["name"]: f for f in spec["schema"]}
        assert by_name[table.partition_field]["type"] == "TIMESTAMP"
        assert all(c in by_name for c in table.clustering)


def test_nested_signal_stats_become_records_and_lists_repeated() -> None:
    spine = json.loads(generated_files()[_path("spine_points")])
    flow = next(f for f in spine["schema"] if f["name"] == "line_flow_bph")
    assert flow["type"] == "RECORD"
    assert [f["name"] for f in flow["fields"]] == ["mean", "min", "max", "last", "count", "quality"]
    plan = json.loads(generated_files()[_path("plan_rows")])
    binding = next(f for f in plan["schema"] if f["name"] == "binding_constraints")
    assert (binding["type"], binding["mode"]) == ("STRING", "REPEATED")
    dead = json.loads(generated_files()[_path("dead_letters")])
    payload = next(f for f in dead["schema"] if f["name"] == "raw_payload")
    assert (payload["type"], payload["mode"]) == ("BYTES", "REQUIRED")


def _path(name: str):  # type: ignore[no-untyped-def]
    return next(p for p in generated_files() if p.name == f"{name}.json")
