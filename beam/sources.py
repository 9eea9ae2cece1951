"""Where a backfill reads from, named by ``--input``.

* ``GLOB`` of files on any Beam file system (local, ``gs://``): a file ending in
  ``.parquet`` holds ``raw_readings`` rows (a BigQuery export of the table), any other
  file JSONL, one payload per line (the simulator's ``readings.jsonl``);
* ``duckdb:///PATH.duckdb``: the ``raw_readings`` table of the local warehouse;
* ``bigquery://PROJECT/DATASET[/TABLE]``: a BigQuery table of the ``raw_readings``
  layout (default ``raw_readings``), read with the Storage Read API.

Replayed rows keep their message ids, attributes and publish times (:mod:`beam.replay`).
``--start``/``--end`` are pushed to the source where it can filter (BigQuery's row
restriction, DuckDB's SQL, Parquet row groups by their ``source_ts`` statistics), so a
week does not read the whole history; the job's own range split still decides which
readings are used. :func:`check_input` finds what would otherwise fail mid-job (no
file, a Parquet file of another layout, no warehouse file) before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.bigquery import ReadFromBigQuery

from beam.batches import MessageBatch
from beam.replay import (
    REPLAYED_COLUMNS,
    ROWS_PER_BATCH,
    SOURCE_TIME,
    batch_of_rows,
    batches_of,
    layout_problem,
)
from warehouse.duckdb_warehouse import DuckDBWarehouse

__all__ = [
    "BackfillInput",
    "BigQueryInput",
    "DuckDBInput",
    "FilesInput",
    "InputError",
    "ReadRawReadings",
    "RowDictsToBatches",
    "check_input",
    "is_parquet",
    "matching_files",
    "parquet_batches",
    "parse_input",
    "row_restriction",
]

_RAW_TABLE = "raw_readings"


class InputError(ValueError):
    """The backfill's input cannot be read as asked (found before the job starts)."""


@dataclass(frozen=True)
class FilesInput:
    """A glob of JSONL and/or Parquet files."""

    pattern: str


@dataclass(frozen=True)
class DuckDBInput:
    """The local warehouse file whose ``raw_readings`` are replayed."""

    path: str


@dataclass(frozen=True)
class BigQueryInput:
    """A BigQuery table of the ``raw_readings`` layout."""

    project: str
    dataset: str
    table: str = _RAW_TABLE

    @property
    def table_spec(self) -> str:
        """``PROJECT:DATASET.TABLE``, as ``ReadFromBigQuery`` takes it."""
        return f"{self.project}:{self.dataset}.{self.table}"


BackfillInput = FilesInput | DuckDBInput | BigQueryInput


def parse_input(text: str) -> BackfillInput:
    """What ``--input`` names; ``ValueError`` for a malformed warehouse URL."""
    if text.startswith("bigquery://"):
        parts = text.removeprefix("bigquery://").split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(
                f"--input {text!r}: expected bigquery://PROJECT/DATASET or "
                "bigquery://PROJECT/DATASET/TABLE"
            )
        return BigQueryInput(*parts)
    if text.startswith("duckdb://"):
        path = text.removeprefix("duckdb://")
        if not path:
            raise ValueError(f"--input {text!r}: expected duckdb://PATH.duckdb")
        return DuckDBInput(path)
    return FilesInput(text)


def matching_files(pattern: str) -> list[str]:
    """Paths matching a glob on any Beam file system (local, ``gs://``), sorted."""
    (match,) = FileSystems.match([pattern])
    return sorted(m.path for m in match.metadata_list)


def is_parquet(path: str) -> bool:
    """Whether a backfill file is read as Parquet (else as JSONL lines)."""
    return path.lower().endswith(".parquet")


def _open_parquet(path: str) -> Any:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def check_input(source: BackfillInput, warehouse: str | None = None) -> None:
    """Fail now, not mid-job, on an input the backfill could not read.

    Files: the glob matches something and every Parquet file has the ``raw_readings``
    layout (only the footers are read). DuckDB: the file exists and is not the job's
    own ``warehouse`` (replaying a warehouse into itself would double its raw rows).
    BigQuery: not the job's own warehouse table (the table itself is only reachable
    with credentials, at run time).

    Raises:
        InputError: naming the input, and for a Parquet file the missing column.
    """
    if isinstance(source, FilesInput):
        files = matching_files(source.pattern)
        if not files:
            raise InputError(f"--input {source.pattern!r}: no file matches")
        for path in filter(is_parquet, files):
            try:
                with _open_parquet(path) as fh:
                    schema = pq.read_schema(fh)
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"--input: {path} is not a readable Parquet file: {exc}") from exc
            problem = layout_problem(schema)
            if problem:
                raise InputError(f"--input: {path} is not a raw_readings export: {problem}")
    elif isinstance(source, DuckDBInput):
        if not Path(source.path).is_file():
            raise InputError(f"--input duckdb://{source.path}: no such warehouse file")
        if _same_file(source.path, warehouse):
            raise InputError(
                "--input is the --warehouse: replaying a warehouse into itself "
                "would write its raw readings twice"
            )
    elif (
        warehouse == f"bigquery://{source.project}/{source.dataset}" and source.table == _RAW_TABLE
    ):
        raise InputError(
            "--input is the --warehouse's raw_readings: replaying a table into itself "
            "would write its raw readings twice"
        )


def _same_file(path: str, warehouse: str | None) -> bool:
    if not warehouse or not warehouse.startswith("duckdb://"):
        return False
    return Path(warehouse.removeprefix("duckdb://")).resolve() == Path(path).resolve()


def _may_hold(stats: Any, start: datetime | None, end: datetime | None) -> bool:
    """Whether a row group with these ``source_ts`` statistics may hold readings in
    ``[start, end)`` (no statistics: it may)."""
    if stats is None or not stats.has_min_max:
        return True
    low, high = stats.min, stats.max
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        return True
    if low.tzinfo is None:
        low, high = low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)
    return (start is None or high >= start) and (end is None or low < end)


def parquet_batches(
    path: str, start: datetime | None, end: datetime | None, rows: int = ROWS_PER_BATCH
) -> Iterator[MessageBatch]:
    """A ``raw_readings`` Parquet file -> batches of ``rows``, skipping the row groups
    whose ``source_ts`` statistics lie outside ``[start, end)``."""
    with _open_parquet(path) as fh:
        parquet = pq.ParquetFile(fh)
        names = parquet.schema_arrow.names
        groups = list(range(parquet.num_row_groups))
        if SOURCE_TIME in names and (start is not None or end is not None):
            column = parquet.schema.names.index(SOURCE_TIME)
            groups = [
                g
                for g in groups
                if _may_hold(parquet.metadata.row_group(g).column(column).statistics, start, end)
            ]
        if not groups:
            return
        record_batches = parquet.iter_batches(
            batch_size=rows, row_groups=groups, columns=list(REPLAYED_COLUMNS)
        )
        yield from batches_of((pa.Table.from_batches([b]) for b in record_batches), rows)


_DUCKDB_CHUNK = timedelta(days=1)
"""A DuckDB replay reads a day of source time per query: the warehouse's shared lock
is held only while one is fetched (a streaming job writing the same file waits at
most that long), and memory holds one day's rows."""

_COLUMNS_SQL = ", ".join(REPLAYED_COLUMNS)


def _range_sql(start: datetime | None, end: datetime | None) -> tuple[str, dict[str, Any]]:
    """A BigQuery-SQL condition on ``source_ts`` for ``[start, end)``, with its params."""
    conditions, params = ["TRUE"], {}
    if start is not None:
        conditions.append(f"{SOURCE_TIME} >= @range_start")
        params["range_start"] = start
    if end is not None:
        conditions.append(f"{SOURCE_TIME} < @range_end")
        params["range_end"] = end
    return " AND ".join(conditions), params


class _ReadDuckDBFn(beam.DoFn):  # type: ignore[misc]
    """A warehouse file -> its ``raw_readings`` in ``[start, end)`` as batches, read a
    day of source time per query (:data:`_DUCKDB_CHUNK`)."""

    def __init__(self, start: datetime | None, end: datetime | None, rows: int) -> None:
        self._start = start
        self._end = end
        self._rows = rows

    def process(self, path: str) -> Iterator[MessageBatch]:
        warehouse = DuckDBWarehouse(path)
        try:
            yield from batches_of(self._day_tables(warehouse), self._rows)
        finally:
            warehouse.close()

    def _day_tables(self, warehouse: DuckDBWarehouse) -> Iterator[pa.Table]:
        condition, params = _range_sql(self._start, self._end)
        (span,) = warehouse.query(
            f"SELECT MIN({SOURCE_TIME}) AS first_ts, MAX({SOURCE_TIME}) AS last_ts "
            f"FROM {_RAW_TABLE} WHERE {condition}",
            params,
        )
        if span["first_ts"] is None:
            return
        day_start: datetime = span["first_ts"]
        while day_start <= span["last_ts"]:
            day_end = day_start + _DUCKDB_CHUNK
            yield warehouse.query_arrow(
                f"SELECT {_COLUMNS_SQL} FROM {_RAW_TABLE} WHERE {condition} "
                f"AND {SOURCE_TIME} >= @day_start AND {SOURCE_TIME} < @day_end",
                {**params, "day_start": day_start, "day_end": day_end},
            )
            day_start = day_end


def _bigquery_time(value: datetime) -> str:
    return f"CAST('{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}+00:00' AS TIMESTAMP)"


def row_restriction(start: datetime | None, end: datetime | None) -> str | None:
    """``[start, end)`` on ``source_ts`` as a Storage Read API row restriction (the
    table is partitioned by day on it, so BigQuery reads only those days)."""
    conditions = []
    if start is not None:
        conditions.append(f"{SOURCE_TIME} >= {_bigquery_time(start)}")
    if end is not None:
        conditions.append(f"{SOURCE_TIME} < {_bigquery_time(end)}")
    return " AND ".join(conditions) or None


class ReadRawReadings(beam.PTransform):  # type: ignore[misc]
    """A warehouse's ``raw_readings`` in ``[start, end)`` -> :class:`MessageBatch`es
    that keep each row's message id, attributes and publish time."""

    def __init__(
        self,
        source: DuckDBInput | BigQueryInput,
        start: datetime | None,
        end: datetime | None,
        rows: int = ROWS_PER_BATCH,
    ) -> None:
        super().__init__()
        self._source = source
        self._start = start
        self._end = end
        self._rows = rows

    def expand(self, p: beam.pvalue.PBegin) -> beam.PCollection[MessageBatch]:
        if isinstance(self._source, DuckDBInput):
            return (
                p
                | "Warehouse" >> beam.Create([self._source.path])
                | "ReadFromDuckDB" >> beam.ParDo(_ReadDuckDBFn(self._start, self._end, self._rows))
            )
        return (
            p
            | "ReadFromBigQuery"
            >> ReadFromBigQuery(
                method=ReadFromBigQuery.Method.DIRECT_READ,
                table=self._source.table_spec,
                selected_fields=list(REPLAYED_COLUMNS),
                row_restriction=row_restriction(self._start, self._end),
                use_native_datetime=True,
            )
            | "ToMessageBatches" >> RowDictsToBatches(self._rows)
        )


class RowDictsToBatches(beam.PTransform):  # type: ignore[misc]
    """BigQuery's ``raw_readings`` row dicts -> :class:`MessageBatch`es of up to
    ``rows`` (per bundle), through the conversion every replay source uses."""

    def __init__(self, rows: int = ROWS_PER_BATCH) -> None:
        super().__init__()
        self._rows = rows

    def expand(self, rows: beam.PCollection[dict[str, Any]]) -> beam.PCollection[MessageBatch]:
        return (
            rows
            | "BatchRows"
            >> beam.BatchElements(min_batch_size=self._rows, max_batch_size=self._rows)
            | "ToMessageBatch" >> beam.Map(batch_of_rows)
        )
