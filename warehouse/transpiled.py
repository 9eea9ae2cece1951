"""The DuckDB renderings of ``bigquery/``'s views and queries, transpiled once and committed.

sqlglot transpiling the seven views cost every process that opened a DuckDB file
about 0.2 s the first time (loading the two dialects, then parsing and rendering),
every ``dra-twin backfill`` run included. The rendering is deterministic (the SQL
file and the locked sqlglot version), so it is generated into
``warehouse/duckdb_sql.json`` (``python -m warehouse.generate``; ``--check`` fails on
drift, and so does ``tests/warehouse/test_transpiled.py``), keyed by the SHA-256 of the
BigQuery SQL: a file edited without regenerating is still transpiled when it is run,
never served stale.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

__all__ = ["GENERATED", "cached_duckdb", "generated_content"]

GENERATED = Path(__file__).resolve().parent / "duckdb_sql.json"


def _sha256(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def generated_content() -> str:
    """What ``duckdb_sql.json`` must hold: every view and query file, by its path under
    ``bigquery/``, with its SQL's SHA-256 and its DuckDB rendering."""
    from warehouse.sql_files import SQL_ROOT, transpile_to_duckdb

    entries = {
        str(path.relative_to(SQL_ROOT)): {
            "sha256": _sha256(path.read_text()),
            "duckdb": transpile_to_duckdb(path.read_text()),
        }
        for path in sorted(SQL_ROOT.glob("*/*.sql"))
    }
    return json.dumps(entries, indent=2) + "\n"


@cache
def _by_hash() -> dict[str, str]:
    if not GENERATED.is_file():
        return {}
    entries = json.loads(GENERATED.read_text())
    return {entry["sha256"]: entry["duckdb"] for entry in entries.values()}


def cached_duckdb(sql: str) -> str | None:
    """The committed DuckDB rendering of exactly this BigQuery SQL, if there is one."""
    return _by_hash().get(_sha256(sql))
