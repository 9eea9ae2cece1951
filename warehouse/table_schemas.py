"""The generated table schemas (``schemas/bigquery/*.json``) as DuckDB DDL and Arrow.

The JSON files are the same ones Terraform gives BigQuery, so the local tables have
the same columns, nesting and modes: RECORD becomes STRUCT, REPEATED a LIST, TIMESTAMP
``TIMESTAMPTZ`` (always UTC), BYTES ``BLOB``; REQUIRED top-level columns are NOT NULL.
Rows go in column-wise through Arrow, read straight off the model attributes: that is
several times faster than dumping every model to a dict first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from pydantic import BaseModel

import schemas
from warehouse.interface import UnknownTableError, WarehouseError

__all__ = [
    "ARROW_TIMESTAMP",
    "SCHEMA_DIR",
    "arrow_schema",
    "arrow_table",
    "check_arrow",
    "duckdb_columns",
    "duckdb_create_table",
    "table_fields",
]

SCHEMA_DIR = Path(schemas.__file__).resolve().parent / "bigquery"

_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "INTEGER": "BIGINT",
    "FLOAT": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "BYTES": "BLOB",
    "TIMESTAMP": "TIMESTAMPTZ",
}
ARROW_TIMESTAMP = pa.timestamp("us", tz="UTC")
"""The Arrow type of every TIMESTAMP column (BigQuery's microseconds, UTC)."""

_ARROW_TYPES = {
    "STRING": pa.string(),
    "INTEGER": pa.int64(),
    "FLOAT": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BYTES": pa.binary(),
    "TIMESTAMP": ARROW_TIMESTAMP,
}


@cache
def table_fields(table: str) -> list[dict[str, Any]]:
    """The BigQuery schema fields of ``table`` from its generated JSON file."""
    path = SCHEMA_DIR / f"{table}.json"
    if not path.is_file():
        raise UnknownTableError(f"no generated schema for table {table!r} at {path}")
    fields: list[dict[str, Any]] = json.loads(path.read_text())["schema"]
    return fields


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb_type(field: dict[str, Any]) -> str:
    if field["type"] == "RECORD":
        inner = ", ".join(f"{_quote(f['name'])} {_duckdb_type(f)}" for f in field["fields"])
        base = f"STRUCT({inner})"
    else:
        base = _DUCKDB_TYPES[field["type"]]
    return f"{base}[]" if field["mode"] == "REPEATED" else base


_DUCKDB_COMPRESSION = {("raw_readings", "payload"): "zstd"}
"""Columns stored with another compression than DuckDB would choose. The raw payloads
(each reading's JSON, most of the warehouse's bytes): DuckDB picks FSST, whose
analysis made committing a skid-week's 60,480 payloads (six commits straight into
the file) take 0.27 s; with ZSTD 0.16 s, and the file is 4.5 MB instead of 10.2
(reading the column back: 48 ms either way; a LIKE over all of it 7 -> 11 ms)."""


def duckdb_columns(table: str) -> str:
    """The column definitions of ``table`` in DuckDB, as in ``CREATE TABLE t (...)``."""
    return ",\n  ".join(
        f"{_quote(f['name'])} {_duckdb_type(f)}"
        + (" NOT NULL" if f["mode"] == "REQUIRED" else "")
        + (
            f" USING COMPRESSION {method}"
            if (method := _DUCKDB_COMPRESSION.get((table, f["name"])))
            else ""
        )
        for f in table_fields(table)
    )


def duckdb_create_table(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` in DuckDB."""
    return f"CREATE TABLE IF NOT EXISTS {_quote(table)} (\n  {duckdb_columns(table)}\n)"


def _arrow_type(field: dict[str, Any]) -> pa.DataType:
    if field["type"] == "RECORD":
        base = pa.struct([pa.field(f["name"], _arrow_type(f)) for f in field["fields"]])
    else:
        base = _ARROW_TYPES[field["type"]]
    return pa.list_(base) if field["mode"] == "REPEATED" else base


@cache
def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema that matches the DuckDB table column for column (built once per
    table: building the nested types cost more than converting a bundle's rows)."""
    return pa.schema([pa.field(f["name"], _arrow_type(f)) for f in table_fields(table)])


def _plain(value: object) -> object:
    """A nested model as dicts and lists, for Arrow list columns."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _column(field: dict[str, Any], kind: pa.DataType, values: list[Any]) -> pa.Array:
    if field["mode"] == "REPEATED":
        return pa.array([_plain(v) for v in values], kind)
    if field["type"] == "RECORD":
        children = [
            _column(
                f,
                kind.field(i).type,
                [None if v is None else getattr(v, f["name"]) for v in values],
            )
            for i, f in enumerate(field["fields"])
        ]
        mask = pa.array([v is None for v in values], pa.bool_())
        return pa.StructArray.from_arrays(children, fields=list(kind), mask=mask)
    return pa.array(values, kind)


def arrow_table(table: str, rows: Sequence[BaseModel]) -> pa.Table:
    """``rows`` (models of ``table``) as an Arrow table with :func:`arrow_schema`."""
    schema = arrow_schema(table)
    return pa.Table.from_arrays(
        [
            _column(f, schema.field(i).type, [getattr(r, f["name"]) for r in rows])
            for i, f in enumerate(table_fields(table))
        ],
        schema=schema,
    )


def check_arrow(table: str, rows: pa.Table) -> None:
    """Refuse an Arrow table whose columns are not exactly ``table``'s (nothing written)."""
    expected = arrow_schema(table)
    if not rows.schema.equals(expected):
        raise WarehouseError(
            f"{table}: Arrow rows have schema {rows.schema}, the table takes {expected}; "
            "nothing was written"
        )
