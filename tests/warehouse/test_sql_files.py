"""Every .sql file under bigquery/ parses as BigQuery, transpiles to DuckDB and renders
as BigQuery view DDL; views read tables only; the CLI prints the DDL."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import sqlglot

from cli.main import main
from schemas.tables import TABLES
from warehouse.sql_files import (
    QUERIES_DIR,
    VIEWS_DIR,
    parameter_names,
    qualified_bigquery_sql,
    referenced_tables,
    to_duckdb,
    view_ddl,
    view_names,
)
from warehouse.table_schemas import duckdb_create_table

SQL_FILES = sorted([*VIEWS_DIR.glob("*.sql"), *QUERIES_DIR.glob("*.sql")])


def test_there_are_views_and_queries() -> None:
    assert len(list(VIEWS_DIR.glob("*.sql"))) >= 6
    assert len(list(QUERIES_DIR.glob("*.sql"))) >= 3


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sql_file_transpiles_to_sql_duckdb_parses(path: Path) -> None:
    """Transpiles and parses; test_views_and_queries runs each one on seeded rows."""
    sql = path.read_text()
    duck_sql = to_duckdb(sql)
    for name in parameter_names(sql):
        assert f"${name}" in duck_sql
    (statement,) = duckdb.connect().extract_statements(duck_sql)
    assert statement.type == duckdb.StatementType.SELECT


@pytest.mark.parametrize("name", view_names())
def test_view_reads_tables_only(name: str) -> None:
    """So Terraform may create the views in any order."""
    sql = (VIEWS_DIR / f"{name}.sql").read_text()
    assert referenced_tables(sql) <= set(TABLES)
    assert not parameter_names(sql), "a view cannot take parameters"


@pytest.mark.parametrize("name", view_names())
def test_bigquery_view_ddl_qualifies_every_table(name: str) -> None:
    ddl = view_ddl(name, "bigquery", "my-project", "twin")
    assert ddl.startswith(f"CREATE OR REPLACE VIEW `my-project.twin.{name}` AS\n")
    body = ddl.split("\n", 1)[1]
    assert sqlglot.parse_one(body, read="bigquery") is not None
    read = re.findall(r"(?:FROM|JOIN)\s+(\S+)", body)
    tables = [t for t in read if t.strip("`").split(".")[-1] in TABLES]
    assert tables, "the view reads at least one table"
    assert all(t == f"`my-project.twin.{t.strip('`').split('.')[-1]}`" for t in tables)


def test_ctes_are_not_qualified() -> None:
    sql = "WITH latest AS (SELECT * FROM energy_rows) SELECT * FROM latest"
    out = qualified_bigquery_sql(sql, "p", "d")
    assert "FROM `p.d.energy_rows`" in out
    assert "FROM latest" in out


def test_cli_prints_bigquery_ddl_for_one_view(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["warehouse-sql", "--view", "energy_hourly", "--project", "p1", "--dataset", "ds"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("CREATE OR REPLACE VIEW `p1.ds.energy_hourly` AS")
    assert "TIMESTAMP_TRUNC(grid_ts, HOUR)" in out


def test_cli_prints_duckdb_ddl_for_all_views(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warehouse-sql", "--all", "--dialect", "duckdb"]) == 0
    out = capsys.readouterr().out
    assert out.count("CREATE OR REPLACE VIEW") == len(view_names())
    assert "DATE_TRUNC('HOUR', grid_ts)" in out
    # What the CLI prints runs on DuckDB as it is.
    con = duckdb.connect()
    for table in TABLES:
        con.execute(duckdb_create_table(table))
    con.execute(out)


def test_cli_unknown_view_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warehouse-sql", "--view", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no view named 'nope'")
    assert "energy_hourly" in err
