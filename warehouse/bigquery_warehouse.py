"""The production warehouse: BigQuery, through an injected google-cloud-bigquery client.

Tables are Terraform's (from the same ``schemas/bigquery/*.json``); this class never
creates them. The streaming job writes with Beam's own ``WriteToBigQuery``; this class
serves the other writers (planner, functions) and every reader.

Writes use streaming inserts (``insert_rows_json``) with an insert id per row, not load
jobs: the rows written here (a plan, an alarm acknowledgement) must be readable at once
by the next request, load jobs are limited to 1,500 per table per day and take seconds
to start, and the insert id is a hash of the row's content, so a caller that retries a
failed call does not duplicate rows inside BigQuery's de-duplication window.

Queries run with the dataset as default dataset, so the SQL under ``bigquery/`` names
tables unqualified, and with typed ``ScalarQueryParameter``/``ArrayQueryParameter``
values: parameters are never formatted into SQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery
from pydantic import BaseModel

from warehouse.interface import (
    ParamScalar,
    ParamValue,
    WarehouseError,
    check_params,
    check_rows,
)
from warehouse.sql_files import parameter_names, query_sql
from warehouse.table_schemas import table_fields

__all__ = ["ROWS_PER_REQUEST", "BigQueryWarehouse", "json_row", "query_parameter"]

ROWS_PER_REQUEST = 500
"""BigQuery's recommended maximum rows per streaming insert request."""


def _scalar_type(value: ParamScalar) -> str:
    # bool before int and datetime before date: each is a subclass of the other.
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    return "BYTES"


def query_parameter(
    name: str, value: ParamValue
) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """The typed BigQuery parameter for a checked Python value."""
    if isinstance(value, list | tuple):
        return bigquery.ArrayQueryParameter(name, _scalar_type(value[0]), list(value))
    # The client's annotation omits bytes, but it encodes BYTES values (base64) itself.
    return bigquery.ScalarQueryParameter(name, _scalar_type(value), value)  # type: ignore[arg-type]


def _json_value(field: dict[str, Any], value: Any) -> Any:
    if value is None:
        return None
    if field["mode"] == "REPEATED":
        return [_json_value({**field, "mode": "REQUIRED"}, v) for v in value]
    if field["type"] == "RECORD":
        return {f["name"]: _json_value(f, getattr(value, f["name"])) for f in field["fields"]}
    if field["type"] == "TIMESTAMP":
        return value.isoformat()
    if field["type"] == "BYTES":
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Enum):
        return value.value
    return value


def json_row(table: str, row: BaseModel) -> dict[str, Any]:
    """One model as the JSON object ``insert_rows_json`` sends (BYTES in base64)."""
    return {f["name"]: _json_value(f, getattr(row, f["name"])) for f in table_fields(table)}


def _insert_id(table: str, row: dict[str, Any]) -> str:
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{table}\n{canonical}".encode()).hexdigest()


class BigQueryWarehouse:
    """The warehouse in one BigQuery dataset.

    Args:
        project: the Google Cloud project of the dataset.
        dataset: the dataset Terraform created the tables and views in.
        client: a ``bigquery.Client`` (default: one for ``project`` with
            application-default credentials).
        maximum_bytes_billed: refuse any query that would bill more than this.
    """

    def __init__(
        self,
        project: str,
        dataset: str,
        *,
        client: Any = None,
        maximum_bytes_billed: int | None = None,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self._client = client if client is not None else bigquery.Client(project=project)
        self._maximum_bytes_billed = maximum_bytes_billed

    def __repr__(self) -> str:
        return f"BigQueryWarehouse({self.project!r}, {self.dataset!r})"

    def insert_rows(self, table: str, rows: Sequence[BaseModel]) -> int:
        """Stream ``rows`` into ``table``, ``ROWS_PER_REQUEST`` per request.

        Raises:
            WarehouseError: BigQuery refused a request (none of its rows is written;
                earlier requests' rows are, and the message says how many).
        """
        check_rows(table, rows)
        table_id = f"{self.project}.{self.dataset}.{table}"
        payload = [json_row(table, r) for r in rows]
        written = 0
        for start in range(0, len(payload), ROWS_PER_REQUEST):
            chunk = payload[start : start + ROWS_PER_REQUEST]
            errors = self._client.insert_rows_json(
                table_id, chunk, row_ids=[_insert_id(table, r) for r in chunk]
            )
            if errors:
                raise WarehouseError(
                    f"{table}: BigQuery refused rows {start}..{start + len(chunk) - 1} "
                    f"({len(errors)} error(s), first: {errors[0]}); {written} row(s) "
                    "before them were written; retrying the call does not duplicate them"
                )
            written += len(chunk)
        return written

    def insert_many(self, rows_by_table: Mapping[str, Sequence[BaseModel]]) -> int:
        """Stream each table's rows in turn (BigQuery has no transaction across
        streaming inserts; insert ids make a retried call safe).

        Raises:
            WarehouseError: a table's rows were refused; earlier tables' rows are written.
        """
        for table, rows in rows_by_table.items():
            check_rows(table, rows)
        return sum(self.insert_rows(table, rows) for table, rows in rows_by_table.items())

    def query(
        self, sql: str, params: Mapping[str, ParamValue] | None = None
    ) -> list[dict[str, Any]]:
        """Run BigQuery SQL with typed ``@named`` parameters; rows as dicts."""
        bound = check_params(set(parameter_names(sql)), params)
        config = bigquery.QueryJobConfig(
            default_dataset=bigquery.DatasetReference(self.project, self.dataset),
            query_parameters=[query_parameter(k, v) for k, v in sorted(bound.items())],
            use_legacy_sql=False,
        )
        if self._maximum_bytes_billed is not None:
            config.maximum_bytes_billed = self._maximum_bytes_billed
        try:
            result = self._client.query(sql, job_config=config).result()
        except (google_exceptions.BadRequest, google_exceptions.NotFound) as exc:
            raise WarehouseError(f"query failed on BigQuery: {exc}") from exc
        return [dict(row.items()) for row in result]

    def run_named_query(
        self, name: str, params: Mapping[str, ParamValue] | None = None
    ) -> list[dict[str, Any]]:
        """Run ``bigquery/queries/<name>.sql``."""
        return self.query(query_sql(name), params)
