"""Where the job's rows land: the warehouse tables and the dead-letter topic.

The warehouse URL picks the implementation: ``duckdb:///PATH`` writes through the
local :mod:`warehouse` API (one connection per DoFn instance, one insert per table
per bundle); ``bigquery://PROJECT/DATASET`` uses ``WriteToBigQuery`` with
``CREATE_NEVER`` (Terraform owns the tables) and streaming inserts, whose insert ids
let BigQuery drop a retried bundle's repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.pubsub import PubsubMessage, WriteToPubSub
from apache_beam.metrics import Metrics
from pydantic import BaseModel

from schemas.dead_letter import DeadLetter
from schemas.tables import TABLES
from warehouse.bigquery_warehouse import json_row

__all__ = [
    "WriteDeadLetters",
    "WriteToWarehouse",
    "WriteToWarehouseFn",
    "dead_letter_message",
]


class WriteToWarehouseFn(beam.DoFn):  # type: ignore[misc]
    """Buffers a bundle's records and inserts them with one call per table."""

    def __init__(self, url: str, table: str) -> None:
        self._url = url
        self._table = table
        self._written = Metrics.counter("warehouse", f"rows_{table}")
        self._buffer: list[BaseModel] = []
        self._warehouse: Any = None

    def setup(self) -> None:
        from warehouse import open_warehouse

        self._warehouse = open_warehouse(self._url)

    def start_bundle(self) -> None:
        self._buffer = []

    def process(self, record: BaseModel) -> Iterator[Any]:
        self._buffer.append(record)
        return iter(())

    def finish_bundle(self) -> None:
        if self._buffer:
            self._warehouse.insert_rows(self._table, self._buffer)
            self._written.inc(len(self._buffer))
            self._buffer = []

    def teardown(self) -> None:
        close = getattr(self._warehouse, "close", None)
        if close is not None:
            close()


class WriteToWarehouse(beam.PTransform):  # type: ignore[misc]
    """Records of one table -> that table of the warehouse the URL names."""

    def __init__(self, url: str, table: str) -> None:
        super().__init__()
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
        return records | "Insert" >> beam.ParDo(WriteToWarehouseFn(self._url, self._table))


def dead_letter_message(letter: DeadLetter) -> PubsubMessage:
    """The DLQ message: the exact bytes, with the stage, reason and origin as attributes."""
    attributes = {
        "stage": letter.stage.value,
        "error": letter.error[:1024],
        "received_ts": letter.received_ts.isoformat(),
        "source_attributes": letter.attributes_json[:1024],
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
