"""What every warehouse offers, and the checks both implementations share.

Callers (the Beam sink, the functions, the planner) code against :class:`Warehouse`
and never learn whether BigQuery or the embedded DuckDB file answers. Both take rows as
the pydantic models of ``schemas/`` and SQL in BigQuery's dialect with ``@named``
parameters, and both reject the same mistakes with the same errors, so a query that
works locally fails or succeeds the same way in production.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from schemas.tables import TABLES, Table

__all__ = [
    "ParamScalar",
    "ParamValue",
    "QueryParameterError",
    "UnknownTableError",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "check_params",
    "check_rows",
]

ParamScalar = str | bool | int | float | datetime | date | bytes
ParamValue = ParamScalar | list[ParamScalar] | tuple[ParamScalar, ...]


class WarehouseError(Exception):
    """A warehouse operation failed; the message says which table or query and why."""


class UnknownTableError(WarehouseError):
    """A table name that is not in ``schemas.tables.TABLES``."""


class QueryParameterError(WarehouseError):
    """Parameters that do not match the ``@names`` of the SQL, or cannot be typed."""


class WarehouseBusyError(WarehouseError):
    """The local warehouse stayed locked by another writer past the timeout."""


@runtime_checkable
class Warehouse(Protocol):
    """The warehouse interface (DESIGN.md, "The warehouse")."""

    def insert_rows(self, table: str, rows: Sequence[BaseModel]) -> int:
        """Append ``rows`` (instances of the table's model) to ``table``; return the count."""
        ...

    def insert_many(self, rows_by_table: Mapping[str, Sequence[BaseModel]]) -> int:
        """Append rows to several tables in one call (the streaming sink writes a
        bundle's raw, spine, energy and dead-letter rows at once); return the count."""
        ...

    def query(
        self, sql: str, params: Mapping[str, ParamValue] | None = None
    ) -> list[dict[str, Any]]:
        """Run BigQuery-dialect SQL with ``@named`` parameters; rows as dicts."""
        ...

    def run_named_query(
        self, name: str, params: Mapping[str, ParamValue] | None = None
    ) -> list[dict[str, Any]]:
        """Run ``bigquery/queries/<name>.sql`` with ``params``."""
        ...


def check_rows(table: str, rows: Sequence[BaseModel]) -> Table:
    """The registry entry of ``table``, once every row is an instance of its model.

    Raises:
        UnknownTableError: ``table`` is not a warehouse table.
        WarehouseError: a row is of another type (nothing is written).
    """
    spec = TABLES.get(table)
    if spec is None:
        raise UnknownTableError(f"unknown table {table!r}; tables are: {', '.join(sorted(TABLES))}")
    for index, row in enumerate(rows):
        if not isinstance(row, spec.model):
            raise WarehouseError(
                f"{table}: row {index} is a {type(row).__name__}, "
                f"the table takes {spec.model.__name__} instances; nothing was written"
            )
    return spec


def _check_scalar(name: str, value: object) -> None:
    if value is None:
        raise QueryParameterError(
            f"parameter @{name} is None: BigQuery cannot type a NULL parameter; "
            "pass a value or write the NULL case into the SQL"
        )
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise QueryParameterError(f"parameter @{name} is a naive datetime; pass an aware one")
    if not isinstance(value, str | bool | int | float | datetime | date | bytes):
        raise QueryParameterError(f"parameter @{name} has unsupported type {type(value).__name__}")


def check_params(required: set[str], params: Mapping[str, ParamValue] | None) -> dict[str, Any]:
    """``params`` as a dict, once its names match ``required`` and every value is typable.

    Raises:
        QueryParameterError: a missing or unexpected name, ``None``, a naive datetime,
            an empty or mixed-type list, or an unsupported type.
    """
    given = dict(params or {})
    missing = required - given.keys()
    extra = given.keys() - required
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join('@' + n for n in sorted(missing))}")
        if extra:
            parts.append(f"unexpected {', '.join('@' + n for n in sorted(extra))}")
        raise QueryParameterError("query parameters do not match the SQL: " + "; ".join(parts))
    for name, value in given.items():
        if isinstance(value, list | tuple):
            if not value:
                raise QueryParameterError(f"parameter @{name} is an empty list: cannot type it")
            for item in value:
                _check_scalar(name, item)
            if len({type(item) for item in value}) != 1:
                raise QueryParameterError(f"parameter @{name} mixes element types")
        else:
            _check_scalar(name, value)
    return given
