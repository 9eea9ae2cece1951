"""Where the job's rows land: the warehouse tables and the dead-letter topic.

The warehouse URL picks the implementation: ``duckdb:///PATH`` writes through the
local :mod:`warehouse` API, one insert per batch: in streaming the rows of a bundle,
in batch up to ``batch_size`` rows of a bundle (each DuckDB insert costs tens of
milliseconds whatever its size).
``bigquery://PROJECT/DATASET`` uses ``WriteToBigQuery`` with ``CREATE_NEVER``
(Terraform owns the tables) and streaming inserts, whose insert ids let BigQuery
drop a retried bundle's repeats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.pubsub import PubsubMessage, WriteToPubSub
from apache_beam.metrics import Metrics
from pydantic import BaseModel

from bridge.attributes import PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES, truncate_utf8
from schemas.dead_letter import DeadLetter
from schemas.tables import TABLES
from warehouse.bigquery_warehouse import json_row

__all__ = [
    "WriteDeadLetters",
    "WriteToWarehouse",
    "WriteToWarehouseFn",
    "dead_letter_message",
]


_OPEN_WAREHOUSES: dict[str, Any] = {}
"""One warehouse handle per URL and process. The local runner builds a fresh DoFn
(and calls ``setup``) for every bundle; opening the DuckDB file each time (tables
checked against the schemas) cost half a second per bundle."""


class WriteToWarehouseFn(beam.DoFn):  # type: ignore[misc]
    """Inserts each batch of one table's records with a single call."""

    def __init__(self, url: str, chunk_rows: int) -> None:
        self._url = url
        self._chunk_rows = chunk_rows
        self._written = Metrics.counter("warehouse", "rows")
        self._warehouse: Any = None

    def setup(self) -> None:
        from warehouse import open_warehouse

        if self._url not in _OPEN_WAREHOUSES:
            _OPEN_WAREHOUSES[self._url] = open_warehouse(self._url)
        self._warehouse = _OPEN_WAREHOUSES[self._url]

    def process(self, batch: tuple[str, Iterable[BaseModel]]) -> Iterator[Any]:
        table, records = batch
        chunk: list[BaseModel] = []
        for record in records:
            chunk.append(record)
            if len(chunk) >= self._chunk_rows:
                self._written.inc(self._warehouse.insert_rows(table, chunk))
                chunk = []
        if chunk:
            self._written.inc(self._warehouse.insert_rows(table, chunk))
        return iter(())


class WriteToWarehouse(beam.PTransform):  # type: ignore[misc]
    """Records of one table -> that table of the warehouse the URL names."""

    def __init__(self, url: str, table: str, batch_size: int = 50_000) -> None:
        super().__init__()
        self._batch_size = batch_size
        if table not in TABLES:
            raise KeyError(f"unknown table {table!r}; known: {sorted(TABLES)}")
        self._url = url
        self._table = table

    def expand(self, records: beam.PCollection[BaseModel]) -> Any:
        if self._url.startswith("bigquery://"):
            project, dataset = self._url.removeprefix("bigquery://").split("/", 1)
            return (
                records
                | "ToRow" >> beam.Map(lambda row, table=self._table: json_row(table, row))
                | "WriteToBigQuery"
                >> WriteToBigQuery(
                    table=self._table,
                    dataset=dataset,
                    project=project,
                    create_disposition=BigQueryDisposition.CREATE_NEVER,
                    write_disposition=BigQueryDisposition.WRITE_APPEND,
                    method=WriteToBigQuery.Method.STREAMING_INSERTS,
                )
            )
        if records.is_bounded:
            # Batch: large batches within each (large) bundle of the fused producing
            # stage, so records are never pickled through a shuffle and each table
            # takes a few big inserts (each DuckDB insert opens the file: ~35 ms).
            sizes = {"min_batch_size": self._batch_size, "max_batch_size": self._batch_size}
        else:
            # Streaming: within each bundle, so rows land when their bundle completes.
            # Batches across bundles (GroupIntoBatches) wait for a processing-time timer
            # that the local runner cannot fire while its one worker sits in an empty
            # Pub/Sub pull (30 s), and a stop in that window lost the buffered rows.
            sizes = {"min_batch_size": 1, "max_batch_size": self._batch_size}
        batches = (
            records
            | "Batch" >> beam.BatchElements(**sizes)
            | "KeyByTable" >> beam.WithKeys(self._table)
        )
        return batches | "Insert" >> beam.ParDo(WriteToWarehouseFn(self._url, self._batch_size))


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


class WriteDeadLetters(beam.PTransform):  # type: ignore[misc]
    """Dead letters -> the ``dead_letters`` table, and the DLQ topic when one is given."""

    def __init__(self, warehouse_url: str, topic: str | None) -> None:
        super().__init__()
        self._warehouse_url = warehouse_url
        self._topic = topic

    def expand(self, letters: beam.PCollection[DeadLetter]) -> Any:
        written = letters | "ToTable" >> WriteToWarehouse(self._warehouse_url, "dead_letters")
        if self._topic:
            _ = (
                letters
                | "ToMessage" >> beam.Map(dead_letter_message)
                | "ToTopic" >> WriteToPubSub(self._topic, with_attributes=True)
            )
        return written
