"""The committed DuckDB renderings of bigquery/ are exactly sqlglot's, and are used only
for the SQL they were made from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import warehouse.transpiled as transpiled
from warehouse.generate import main
from warehouse.sql_files import SQL_ROOT, to_duckdb, transpile_to_duckdb, view_ddl, view_names


def test_committed_renderings_match_sqlglot() -> None:
    assert transpiled.GENERATED.is_file(), "run python -m warehouse.generate"
    assert transpiled.GENERATED.read_text() == transpiled.generated_content(), (
        "warehouse/duckdb_sql.json drifted: run python -m warehouse.generate"
    )


def test_every_view_and_query_file_is_served_from_the_file() -> None:
    files = sorted(SQL_ROOT.glob("*/*.sql"))
    entries = json.loads(transpiled.GENERATED.read_text())
    assert sorted(entries) == [str(p.relative_to(SQL_ROOT)) for p in files]
    for path in files:
        sql = path.read_text()
        assert transpiled.cached_duckdb(sql) == entries[str(path.relative_to(SQL_ROOT))]["duckdb"]
        assert to_duckdb(sql) == transpile_to_duckdb(sql)
    for name in view_names():
        assert view_ddl(name, "duckdb").endswith(
            to_duckdb((SQL_ROOT / "views" / f"{name}.sql").read_text())
        )


def test_sql_edited_without_regenerating_is_transpiled_not_served_stale() -> None:
    sql = (SQL_ROOT / "views" / "spine_latest.sql").read_text()
    edited = sql.replace("SELECT", "SELECT 1 AS edited,", 1)
    assert edited != sql
    assert transpiled.cached_duckdb(edited) is None
    assert "edited" in to_duckdb(edited)


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(transpiled, "GENERATED", tmp_path / "duckdb_sql.json")
    monkeypatch.setattr("warehouse.generate.GENERATED", tmp_path / "duckdb_sql.json")
    assert main(["--check"]) == 1
    assert "run python -m warehouse.generate" in capsys.readouterr().err
    assert main([]) == 0
    assert main(["--check"]) == 0
    assert (tmp_path / "duckdb_sql.json").read_text() == transpiled.generated_content()
