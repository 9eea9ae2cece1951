"""Where the job's rows land: the warehouse tables and the dead-letter topic.

The warehouse URL picks the implementation: ``duckdb:///PATH`` writes through the
local :mod:`warehouse` API: in batch, a writer thread commits each column batch while
the job computes the next, and the job's last stage waits until they are all committed
(:mod:`beam.warehouse_writer`); in streaming the stages write their rows themselves,
through a buffer that a background thread commits across bundles
(:mod:`beam.warehouse_buffer`).
``bigquery://PROJECT/DATASET`` uses ``WriteToBigQuery`` with ``CREATE_NEVER``
(Terraform owns the tables) and streaming inserts, whose insert ids let BigQuery
drop a retried bundle's repeats.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.pubsub import PubsubMessage, WriteToPubSub
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue
from pydantic import BaseModel

from beam.batches import RowBatch, records_of
from beam.dofn_signatures import SignatureCachedDoFn
from beam.warehouse_writer import (
    WarehouseWriter,
    finish_job_writes,
    gil_handed_over_often,
    job_writer,
)
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
    "open_warehouse_early",
]


_LOG = logging.getLogger(__name__)


def _open_warehouse(url: str) -> Any:
    """The process's handle for ``url`` (:func:`warehouse.shared_warehouse`; imported
    when first needed: the warehouse package loads DuckDB)."""
    from warehouse import shared_warehouse

    return shared_warehouse(url)


def open_warehouse_early(url: str) -> None:
    """Start opening the process's handle for a local warehouse on a thread of its own,
    so that a backfill's writer finds it open: a new file's tables and views are
    created while Beam plans the job, not after its first stage has started. A
    failure is left for the writer, which opens the warehouse again and fails the job
    with the error."""

    def open_quietly() -> None:
        try:
            with gil_handed_over_often():
                _open_warehouse(url)
        except Exception:
            _LOG.debug("opening %s early failed; the job's writer will retry", url, exc_info=True)

    threading.Thread(target=open_quietly, name="warehouse-open", daemon=True).start()


_BACKFILL_BATCH_ROWS = 500_000
"""Backfill: most rows per warehouse transaction when batches wait for the writer
(each commit has a fixed cost of milliseconds to tens of them; the local batch runner
holds every stage's output in memory anyway)."""


class WriteToWarehouseFn(SignatureCachedDoFn):
    """Batch: records of any warehouse tables -> the job's writer
    (:mod:`beam.warehouse_writer`), which commits them while the job goes on: each
    column batch (:class:`~beam.batches.RowBatch`, the backfill's) as it comes,
    single records once per bundle or per ``batch_rows``. Emits the rows handed over
    per bundle, for :class:`_AwaitCommitsFn`; in another process than the graph's
    builder it waits for its commits at the end of each bundle instead."""

    def __init__(self, url: str, job: str, builder_pid: int, batch_rows: int) -> None:
        self._url = url
        self._job = job
        self._builder_pid = builder_pid
        self._batch_rows = batch_rows
        self._written = Metrics.counter("warehouse", "rows")
        self._writer: WarehouseWriter | None = None
        self._pending: dict[str, list[BaseModel]] = {}
        self._buffered = 0
        self._handed_over = 0

    def start_bundle(self) -> None:
        self._pending, self._buffered, self._handed_over = {}, 0, 0
        url = self._url
        # The first sink to start opens the warehouse on the writer thread, while its
        # bundle reads its first input.
        self._writer = job_writer(
            self._job if os.getpid() == self._builder_pid else f"{self._job}/{id(self)}",
            lambda: _open_warehouse(url),
            self._batch_rows,
        )

    def process(self, record: BaseModel | RowBatch) -> Iterator[Any]:
        if isinstance(record, RowBatch):
            self._hand_over(record.table, record.arrow)
            return iter(())
        self._pending.setdefault(TABLE_OF_MODEL[type(record)], []).append(record)
        self._buffered += 1
        if self._buffered >= self._batch_rows:
            self._hand_over_records()
        return iter(())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        self._hand_over_records()
        if os.getpid() != self._builder_pid:
            self._written.inc(finish_job_writes(f"{self._job}/{id(self)}"))
        yield WindowedValue(self._handed_over, GlobalWindow().max_timestamp(), [GlobalWindow()])

    def _hand_over(self, table: str, rows: pa.Table) -> None:
        assert self._writer is not None
        self._writer.submit(table, rows)
        self._handed_over += rows.num_rows

    def _hand_over_records(self) -> None:
        pending, self._pending, self._buffered = self._pending, {}, 0
        for table, models in pending.items():
            check_rows(table, models)
            self._hand_over(table, arrow_table(table, models))


class _AwaitCommitsFn(SignatureCachedDoFn):
    """The backfill's last stage (it consumes every sink's output): waits until the
    job's writer has committed everything handed over, and fails the job with the
    error if a commit failed; counts the rows committed; then lets go of the file
    (:meth:`~warehouse.duckdb_warehouse.DuckDBWarehouse.release`: its WAL
    checkpointed now, not by a lingering writer after the job has reported done)."""

    def __init__(self, url: str, job: str) -> None:
        self._url = url
        self._job = job
        self._written = Metrics.counter("warehouse", "rows")

    def process(self, rows_handed_over: int) -> Iterator[Any]:
        return iter(())

    def finish_bundle(self) -> None:
        self._written.inc(finish_job_writes(self._job))
        _open_warehouse(self._url).release()


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
    """``{table: records}`` -> those tables of the warehouse the URL names; a table's
    records may come as several PCollections (a tuple), each written by its own sink.

    DuckDB, batch only (streaming stages write their own rows, see
    :class:`~beam.warehouse_buffer.BundleRows`): the records come as a few large column batches
    (:class:`~beam.batches.RowBatch`) and each table gets its own sink, fused into the
    stage that produces its rows: a Flatten there would be a stage of its own, and the
    runner would pickle every batch (27 MB of raw payloads a skid-week) to hand it
    over. The sinks hand their batches to the job's writer thread, which commits them
    while the job goes on (up to ``_BACKFILL_BATCH_ROWS`` rows a transaction); the
    counts they emit meet in the job's last stage, ``AwaitCommits``, which waits for
    every commit and fails the job if one failed (:mod:`beam.warehouse_writer`).
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url

    def expand(
        self,
        tables: dict[str, beam.PCollection[BaseModel] | tuple[beam.PCollection[BaseModel], ...]],
    ) -> Any:
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise KeyError(f"unknown table(s) {unknown}; known: {sorted(TABLES)}")
        if self._url.startswith("bigquery://"):
            project, dataset = self._url.removeprefix("bigquery://").split("/", 1)
            return {
                table: _one(table, records)
                | table >> _WriteTableToBigQuery(project, dataset, table)
                for table, records in tables.items()
            }
        parts = [
            (table, part, f"Insert{table}" + (f"/{i}" if i else ""))
            for table, records in tables.items()
            for i, part in enumerate(records if isinstance(records, tuple) else (records,))
        ]
        if not all(part.is_bounded for _, part, _ in parts):
            raise ValueError(
                "streaming stages write to a DuckDB warehouse themselves "
                "(beam.warehouse_buffer.BundleRows), not through this sink"
            )
        job, builder_pid = uuid.uuid4().hex, os.getpid()
        handed_over = [
            part
            | label
            >> beam.ParDo(WriteToWarehouseFn(self._url, job, builder_pid, _BACKFILL_BATCH_ROWS))
            for _, part, label in parts
        ]
        return (
            handed_over
            | "RowsHandedOver" >> beam.Flatten()
            | "AwaitCommits" >> beam.ParDo(_AwaitCommitsFn(self._url, job))
        )


def _one(
    table: str, records: beam.PCollection[BaseModel] | tuple[beam.PCollection[BaseModel], ...]
) -> beam.PCollection[BaseModel]:
    """A table's records as one PCollection (its parts flattened when it has several)."""
    if not isinstance(records, tuple):
        return records
    return records | f"All{table}" >> beam.Flatten()


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
