"""Where the job's rows land: the warehouse tables and the dead-letter topic.

The warehouse URL picks the implementation: ``duckdb:///PATH`` writes through the
local :mod:`warehouse` API, in batch one ``insert_many`` call per bundle of up to
``batch_rows`` rows (each call commits and fsyncs DuckDB's WAL: milliseconds whatever
its size); in streaming the stages write their rows themselves, through a buffer that
a background thread commits across bundles (:mod:`beam.warehouse_buffer`).
``bigquery://PROJECT/DATASET`` uses ``WriteToBigQuery`` with ``CREATE_NEVER``
(Terraform owns the tables) and streaming inserts, whose insert ids let BigQuery
drop a retried bundle's repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.pubsub import PubsubMessage, WriteToPubSub
from apache_beam.metrics import Metrics
from pydantic import BaseModel

from beam.batches import RowBatch, records_of
from beam.dofn_signatures import SignatureCachedDoFn
from bridge.attributes import PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES, truncate_utf8
from schemas.dead_letter import DeadLetter
from schemas.tables import TABLE_OF_MODEL, TABLES
from warehouse.bigquery_warehouse import json_row
from warehouse.interface import check_rows
from warehouse.table_schemas import arrow_table

__all__ = [
    "PublishDeadLetters",
    "WriteToWarehouse",
    "WriteToWarehouseFn",
    "dead_letter_message",
]


_OPEN_WAREHOUSES: dict[str, Any] = {}
"""One warehouse handle per URL and process. The local runner builds a fresh DoFn
(and calls ``setup``) for every bundle; opening the DuckDB file each time (tables
checked against the schemas) cost half a second per bundle."""

_BACKFILL_BATCH_ROWS = 500_000
"""Backfill rows per warehouse call: each call commits and checkpoints the DuckDB file
(a fixed cost of tens of milliseconds), and the local batch runner holds every
stage's output in memory anyway."""


class WriteToWarehouseFn(SignatureCachedDoFn):
    """Records of any warehouse tables -> one ``insert_many`` per bundle (or per
    ``batch_rows`` records): each DuckDB call is a transaction with its own WAL fsync,
    so a bundle's raw, spine, energy and dead-letter rows share one call. Column batches
    (:class:`~beam.batches.RowBatch`, the backfill's) go in as Arrow tables."""

    def __init__(self, url: str, batch_rows: int) -> None:
        self._url = url
        self._batch_rows = batch_rows
        self._written = Metrics.counter("warehouse", "rows")
        self._warehouse: Any = None
        self._pending: dict[str, list[BaseModel]] = {}
        self._batches: dict[str, list[pa.Table]] = {}
        self._buffered = 0

    def setup(self) -> None:
        from warehouse import open_warehouse

        if self._url not in _OPEN_WAREHOUSES:
            _OPEN_WAREHOUSES[self._url] = open_warehouse(self._url)
        self._warehouse = _OPEN_WAREHOUSES[self._url]

    def start_bundle(self) -> None:
        self._pending = {}
        self._batches = {}
        self._buffered = 0

    def process(self, record: BaseModel | RowBatch) -> Iterator[Any]:
        if isinstance(record, RowBatch):
            self._batches.setdefault(record.table, []).append(record.arrow)
            self._buffered += len(record)
        else:
            self._pending.setdefault(TABLE_OF_MODEL[type(record)], []).append(record)
            self._buffered += 1
        if self._buffered >= self._batch_rows:
            self._flush()
        return iter(())

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        pending: dict[str, Any] = dict(self._pending)
        for table, parts in self._batches.items():
            models = pending.pop(table, [])
            if models:
                check_rows(table, models)
                parts = [*parts, arrow_table(table, models)]
            pending[table] = pa.concat_tables(parts)
        self._pending, self._batches, self._buffered = {}, {}, 0
        if pending:
            self._written.inc(self._warehouse.insert_many(pending))


class _WriteTableToBigQuery(beam.PTransform):  # type: ignore[misc]
    def __init__(self, project: str, dataset: str, table: str) -> None:
        super().__init__()
        self._project = project
        self._dataset = dataset
        self._table = table

    def expand(self, records: beam.PCollection[BaseModel]) -> Any:
        if records.is_bounded:
            records = records | "Unbatch" >> beam.FlatMap(records_of)
        return (
            records
            | "ToRow" >> beam.Map(lambda row, table=self._table: json_row(table, row))
            | "WriteToBigQuery"
            >> WriteToBigQuery(
                table=self._table,
                dataset=self._dataset,
                project=self._project,
                create_disposition=BigQueryDisposition.CREATE_NEVER,
                write_disposition=BigQueryDisposition.WRITE_APPEND,
                method=WriteToBigQuery.Method.STREAMING_INSERTS,
            )
        )


class WriteToWarehouse(beam.PTransform):  # type: ignore[misc]
    """``{table: records}`` -> those tables of the warehouse the URL names.

    DuckDB, batch only (streaming stages write their own rows, see
    :class:`~beam.warehouse_buffer.BundleRows`): the records come as a few large column batches
    (:class:`~beam.batches.RowBatch`) and each table gets its own sink, fused into the
    stage that produces its rows: a Flatten there would be a stage of its own, and the
    runner would pickle every batch (27 MB of raw payloads a skid-week) to hand it
    over. Each call inserts up to ``_BACKFILL_BATCH_ROWS`` rows of one table (one
    transaction).
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url

    def expand(self, tables: dict[str, beam.PCollection[BaseModel]]) -> Any:
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise KeyError(f"unknown table(s) {unknown}; known: {sorted(TABLES)}")
        if self._url.startswith("bigquery://"):
            project, dataset = self._url.removeprefix("bigquery://").split("/", 1)
            return {
                table: records | table >> _WriteTableToBigQuery(project, dataset, table)
                for table, records in tables.items()
            }
        if not all(records.is_bounded for records in tables.values()):
            raise ValueError(
                "streaming stages write to a DuckDB warehouse themselves "
                "(beam.warehouse_buffer.BundleRows), not through this sink"
            )
        return {
            table: records
            | f"Insert{table}" >> beam.ParDo(WriteToWarehouseFn(self._url, _BACKFILL_BATCH_ROWS))
            for table, records in tables.items()
        }


def dead_letter_message(letter: DeadLetter) -> PubsubMessage:
    """The DLQ message: the exact bytes, with the stage, reason and origin as attributes."""
    attributes = {
        "stage": letter.stage.value,
        "error": truncate_utf8(letter.error, PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES),
        "received_ts": letter.received_ts.isoformat(),
        "source_attributes": truncate_utf8(
            letter.attributes_json, PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES
        ),
    }
    if letter.skid_id:
        attributes["skid_id"] = letter.skid_id
    if letter.message_id:
        attributes["message_id"] = letter.message_id
    return PubsubMessage(letter.raw_payload, attributes)


class PublishDeadLetters(beam.PTransform):  # type: ignore[misc]
    """Dead letters -> the dead-letter Pub/Sub topic (the table is written by
    :class:`WriteToWarehouse` with the other tables)."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self._topic = topic

    def expand(self, letters: beam.PCollection[DeadLetter]) -> Any:
        return (
            letters
            | "ToMessage" >> beam.Map(dead_letter_message)
            | "ToTopic" >> WriteToPubSub(self._topic, with_attributes=True)
        )
