"""The SQL under ``bigquery/``: loading it, its parameters, and its two renderings.

Every view and query is written once, in BigQuery's dialect. DuckDB runs it after
sqlglot transpiles it (the files' renderings are committed: :mod:`warehouse.transpiled`);
BigQuery runs it as written, with table names qualified by the dataset where BigQuery
needs that (views: a view's query has no default dataset).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse.interface import WarehouseError
from warehouse.transpiled import cached_duckdb

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = [
    "QUERIES_DIR",
    "SQL_ROOT",
    "VIEWS_DIR",
    "parameter_names",
    "qualified_bigquery_sql",
    "query_sql",
    "referenced_tables",
    "to_duckdb",
    "transpile_to_duckdb",
    "view_ddl",
    "view_names",
    "view_sql",
]

SQL_ROOT = Path(__file__).resolve().parent.parent / "bigquery"
VIEWS_DIR = SQL_ROOT / "views"
QUERIES_DIR = SQL_ROOT / "queries"


def _read(directory: Path, name: str, kind: str) -> str:
    path = directory / f"{name}.sql"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.sql"))) or "none"
        raise WarehouseError(f"no {kind} named {name!r} in {directory}; known: {known}")
    return path.read_text()


def query_sql(name: str) -> str:
    """The BigQuery SQL of ``bigquery/queries/<name>.sql``."""
    return _read(QUERIES_DIR, name, "query")


def view_sql(name: str) -> str:
    """The BigQuery SELECT of ``bigquery/views/<name>.sql``."""
    return _read(VIEWS_DIR, name, "view")


def view_names() -> list[str]:
    """Every view, sorted (views read tables only, so any order creates them)."""
    return sorted(p.stem for p in VIEWS_DIR.glob("*.sql"))


@lru_cache(maxsize=256)
def _parse(sql: str) -> exp.Expr:
    # Imported here: 0.3 s that opening a warehouse does not need (its views' DuckDB
    # SQL is committed, warehouse.transpiled), nor does a job writing to it.
    import sqlglot

    try:
        return sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.ParseError as exc:
        raise WarehouseError(f"SQL does not parse as BigQuery: {exc}") from exc


@lru_cache(maxsize=256)
def parameter_names(sql: str) -> frozenset[str]:
    """The ``@names`` the SQL binds."""
    from sqlglot import exp

    return frozenset(p.name for p in _parse(sql).find_all(exp.Parameter))


def referenced_tables(sql: str) -> set[str]:
    """Names of tables and views the SQL reads (its own CTEs excluded)."""
    from sqlglot import exp

    tree = _parse(sql)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


@lru_cache(maxsize=256)
def to_duckdb(sql: str) -> str:
    """BigQuery SQL transpiled to DuckDB (``@name`` becomes ``$name``): for the files
    under ``bigquery/``, the committed rendering (:mod:`warehouse.transpiled`)."""
    cached = cached_duckdb(sql)
    return cached if cached is not None else transpile_to_duckdb(sql)


def transpile_to_duckdb(sql: str) -> str:
    """BigQuery SQL transpiled to DuckDB by sqlglot now."""
    return _parse(sql).sql(dialect="duckdb")


def qualified_bigquery_sql(sql: str, project: str, dataset: str) -> str:
    """BigQuery SQL with every table reference qualified as ``project.dataset.table``."""
    from sqlglot import exp

    tree = _parse(sql).copy()
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name and not table.args.get("db") and table.name not in ctes:
            path = f"{project}.{dataset}.{table.name}"
            table.set("this", exp.to_identifier(path, quoted=True))
    return tree.sql(dialect="bigquery", pretty=True)


def view_ddl(name: str, dialect: str, project: str = "PROJECT", dataset: str = "DATASET") -> str:
    """``CREATE OR REPLACE VIEW`` of one view in ``bigquery`` or ``duckdb`` dialect."""
    sql = view_sql(name)
    if dialect == "duckdb":
        return f'CREATE OR REPLACE VIEW "{name}" AS\n{to_duckdb(sql)}'
    if dialect == "bigquery":
        body = qualified_bigquery_sql(sql, project, dataset)
        return f"CREATE OR REPLACE VIEW `{project}.{dataset}.{name}` AS\n{body}"
    raise WarehouseError(f"unknown SQL dialect {dialect!r}; use bigquery or duckdb")
