"""Warehouse URLs: relative DuckDB paths pinned to the working directory they were
given in, and one shared handle per file, not per spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.url import canonical_url, shared_warehouse


def test_a_relative_duckdb_url_is_made_absolute_others_are_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve()
    assert canonical_url("duckdb://twin.duckdb") == f"duckdb://{here}/twin.duckdb"
    # One file, one URL, however spelt: ".." and a doubled slash resolved.
    assert canonical_url("duckdb://sub/../twin.duckdb") == f"duckdb://{here}/twin.duckdb"
    assert canonical_url(f"duckdb:///{here}/a.duckdb") == f"duckdb://{here}/a.duckdb"
    assert canonical_url("bigquery://p/d") == "bigquery://p/d"


def test_one_relative_url_in_two_directories_is_two_warehouses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-URL registries (the streaming buffer, the backfill's writer) must not hand
    the file of one directory to a job started in another; and a handle keeps its
    file when the working directory changes afterwards."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    first = shared_warehouse("duckdb://w.duckdb")
    monkeypatch.chdir(tmp_path / "b")
    second = shared_warehouse("duckdb://w.duckdb")
    assert first is not second
    assert shared_warehouse(f"duckdb://{tmp_path}/b/w.duckdb") is second
    monkeypatch.chdir(tmp_path)
    assert first.query("SELECT COUNT(*) AS n FROM raw_readings") == [{"n": 0}]
    assert sorted(p.name for p in tmp_path.glob("*.duckdb")) == []  # none in the new cwd
    assert (tmp_path / "a" / "w.duckdb").is_file() and (tmp_path / "b" / "w.duckdb").is_file()
