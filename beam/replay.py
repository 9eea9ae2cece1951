"""Rows of ``raw_readings`` back into messages: the backfill's replay of a history.

The streaming job keeps every valid message in ``raw_readings`` (payload, Pub/Sub
message id, attributes, publish time). A replay reads those rows back, from a
BigQuery export to Parquet, from the DuckDB warehouse or from BigQuery itself, and
hands :class:`~beam.batches.MessageBatch` elements to ``ParsedReadings`` exactly as a
file of lines does, but with the message ids, attributes and publish times kept (in
``MessageBatch.replayed``), so the raw rows it writes again are the ones it read.

Every source goes through one conversion, :func:`batch_of_table` (Arrow columns);
BigQuery hands rows as dicts, which :func:`batch_of_rows` makes the same Arrow table
first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from beam.batches import MessageBatch
from warehouse.table_schemas import arrow_schema

__all__ = [
    "REPLAYED_COLUMNS",
    "ROWS_PER_BATCH",
    "SOURCE_TIME",
    "batch_of_rows",
    "batch_of_table",
    "batches_of",
    "layout_problem",
]

REPLAYED_COLUMNS: tuple[str, ...] = ("payload", "message_id", "publish_ts", "attributes_json")
"""The ``raw_readings`` columns a replay reads: the message as it arrived. The rest
(skid, source time, sequence) is in the payload and comes out of parsing it again."""

SOURCE_TIME = "source_ts"
"""The ``raw_readings`` column ``--start``/``--end`` filter on at the source."""

ROWS_PER_BATCH = 10_000
"""Rows per :class:`MessageBatch`, as many as the backfill reads lines per batch."""


@cache
def _replayed_schema() -> pa.Schema:
    """:data:`REPLAYED_COLUMNS` with their types in ``raw_readings``."""
    table = arrow_schema("raw_readings")
    return pa.schema([table.field(name) for name in REPLAYED_COLUMNS])


def _string_like(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def layout_problem(schema: pa.Schema) -> str | None:
    """Why rows of ``schema`` cannot be replayed as ``raw_readings`` rows, or ``None``.

    A BigQuery export of the table to Parquet has every column (``TIMESTAMP`` as a
    UTC timestamp, ``STRING`` as a string); extra columns are ignored.
    """
    for name in REPLAYED_COLUMNS:
        if name not in schema.names:
            return f"missing column {name!r} (has {', '.join(schema.names) or 'none'})"
        actual = schema.field(name).type
        wanted = _replayed_schema().field(name).type
        if pa.types.is_timestamp(wanted) and not pa.types.is_timestamp(actual):
            return f"column {name!r} is {actual}, expected a timestamp"
        if _string_like(wanted) and not _string_like(actual):
            return f"column {name!r} is {actual}, expected a string"
    return None


def batch_of_table(table: pa.Table) -> MessageBatch:
    """``raw_readings`` rows (at least :data:`REPLAYED_COLUMNS`) -> one batch.

    An absent ``attributes_json`` (null) is read as no attributes, ``{}``, what the
    job writes for a message without any.
    """
    columns = {}
    for field in _replayed_schema():
        column = table.column(field.name)
        if field.name == "attributes_json":
            column = pc.fill_null(column, "{}")
        columns[field.name] = column.cast(field.type)
    payloads = columns.pop("payload").cast(pa.binary()).to_pylist()
    return MessageBatch(payloads, replayed=pa.table(columns))


def batch_of_rows(rows: Sequence[Mapping[str, Any]]) -> MessageBatch:
    """Row dicts as BigQuery's ``ReadFromBigQuery`` gives them (timestamps as aware
    datetimes, ``attributes_json`` the JSON string the column holds) -> one batch."""
    return batch_of_table(pa.Table.from_pylist(list(rows), schema=_replayed_schema()))


def batches_of(tables: Iterable[pa.Table], rows: int = ROWS_PER_BATCH) -> Iterator[MessageBatch]:
    """Consecutive tables of one schema -> batches of ``rows`` rows (the last fewer):
    a source's chunks (days, Parquet row groups) rarely fall on batch boundaries."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        pending.append(table)
        held += table.num_rows
        while held >= rows:
            whole = pa.concat_tables(pending)
            yield batch_of_table(whole.slice(0, rows))
            pending, held = [whole.slice(rows)], held - rows
    if held:
        yield batch_of_table(pa.concat_tables(pending))
