"""The BigQuery warehouse against a recording client (there is no BigQuery emulator):
the calls it makes, with real ``google.cloud.bigquery`` job-config objects."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery

from schemas import DeadLetter, PlanSummary
from tests.warehouse.rows import representative_rows
from warehouse import QueryParameterError, UnknownTableError, WarehouseError, open_warehouse
from warehouse.bigquery_warehouse import ROWS_PER_REQUEST, BigQueryWarehouse

ROWS = representative_rows()


@dataclass
class _Row:
    values: dict[str, Any]

    def items(self) -> Any:
        return self.values.items()


@dataclass
class _Job:
    rows: list[dict[str, Any]]
    error: Exception | None = None

    def result(self) -> list[_Row]:
        if self.error is not None:
            raise self.error
        return [_Row(r) for r in self.rows]


@dataclass
class RecordingClient:
    """Records what the warehouse asks of a ``bigquery.Client``."""

    inserts: list[tuple[str, list[dict[str, Any]], list[str]]] = field(default_factory=list)
    queries: list[tuple[str, bigquery.QueryJobConfig]] = field(default_factory=list)
    insert_errors: list[dict[str, Any]] = field(default_factory=list)
    result_rows: list[dict[str, Any]] = field(default_factory=list)
    query_error: Exception | None = None

    def insert_rows_json(
        self, table: str, json_rows: list[dict[str, Any]], row_ids: list[str]
    ) -> list[dict[str, Any]]:
        self.inserts.append((table, json_rows, row_ids))
        return self.insert_errors

    def query(self, sql: str, job_config: bigquery.QueryJobConfig) -> _Job:
        self.queries.append((sql, job_config))
        return _Job(self.result_rows, self.query_error)


@pytest.fixture
def client() -> RecordingClient:
    return RecordingClient()


@pytest.fixture
def bq(client: RecordingClient) -> BigQueryWarehouse:
    wh = open_warehouse("bigquery://my-project/twin", client=client)
    assert isinstance(wh, BigQueryWarehouse)
    return wh


def test_insert_streams_json_rows_with_content_hash_ids(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    dead = ROWS["dead_letters"]
    assert isinstance(dead, DeadLetter)
    assert bq.insert_rows("dead_letters", [dead]) == 1
    ((table, rows, ids),) = client.inserts
    assert table == "my-project.twin.dead_letters"
    assert rows == [
        {
            "received_ts": "2026-07-01T12:00:00+00:00",
            "stage": "DECODE",
            "error": "not JSON",
            "raw_payload": base64.b64encode(dead.raw_payload).decode(),
            "attributes_json": dead.attributes_json,
            "message_id": "m-2",
            "skid_id": None,
            "source": "pipeline",
        }
    ]
    bq.insert_rows("dead_letters", [dead])
    assert client.inserts[1][2] == ids, "a retried row must carry the same insert id"
    assert len(ids[0]) == 64


def test_nested_and_repeated_fields_become_json(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    bq.insert_rows("plan_summaries", [ROWS["plan_summaries"]])
    row = client.inserts[0][1][0]
    assert row["status"] == "OPTIMAL"
    assert row["checker_violations"] == []
    assert row["binding_constraints"] == [
        {"hour_start": "2026-07-01T12:00:00+00:00", "constraint": "maop"},
        {"hour_start": "2026-07-01T17:00:00+00:00", "constraint": "tank"},
    ]


def test_large_inserts_are_split_into_requests(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    base = ROWS["plan_summaries"]
    assert isinstance(base, PlanSummary)
    rows = [base.model_copy(update={"plan_id": f"p-{i}"}) for i in range(ROWS_PER_REQUEST + 1)]
    assert bq.insert_rows("plan_summaries", rows) == ROWS_PER_REQUEST + 1
    assert [len(r) for _, r, _ in client.inserts] == [ROWS_PER_REQUEST, 1]
    assert len({i for _, _, ids in client.inserts for i in ids}) == ROWS_PER_REQUEST + 1


def test_refused_insert_says_what_was_written(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    client.insert_errors = [{"index": 0, "errors": [{"reason": "invalid"}]}]
    with pytest.raises(WarehouseError, match=r"refused rows 0\.\.0.*0 row"):
        bq.insert_rows("alarms", [ROWS["alarms"]])


def test_bad_rows_are_refused_before_any_call(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    with pytest.raises(UnknownTableError):
        bq.insert_rows("plans", [ROWS["plan_rows"]])
    with pytest.raises(WarehouseError, match="takes PlanRow"):
        bq.insert_rows("plan_rows", [ROWS["alarms"]])
    assert client.inserts == []


def test_query_binds_typed_parameters_and_default_dataset(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    client.result_rows = [{"n": 3}]
    sql = (
        "SELECT COUNT(*) AS n FROM alarms WHERE skid_id = @skid AND updated_ts >= @since "
        "AND DATE(updated_ts) = @day AND priority IN UNNEST(@priorities) AND @on "
        "AND last_value > @limit AND revision > @rev AND raw = @raw"
    )
    since = datetime(2026, 7, 1, tzinfo=UTC)
    params = {
        "skid": "o'brien",
        "since": since,
        "day": date(2026, 7, 1),
        "priorities": ["HIGH", "CRITICAL"],
        "on": True,
        "limit": 1.5,
        "rev": 2,
        "raw": b"\x00",
    }
    assert bq.query(sql, params) == [{"n": 3}]
    ((sent_sql, config),) = client.queries
    assert sent_sql == sql, "the SQL goes as written: values are never spliced into it"
    assert config.default_dataset == bigquery.DatasetReference("my-project", "twin")
    assert config.use_legacy_sql is False
    assert config.query_parameters == [
        bigquery.ScalarQueryParameter("day", "DATE", date(2026, 7, 1)),
        bigquery.ScalarQueryParameter("limit", "FLOAT64", 1.5),
        bigquery.ScalarQueryParameter("on", "BOOL", True),
        bigquery.ArrayQueryParameter("priorities", "STRING", ["HIGH", "CRITICAL"]),
        bigquery.ScalarQueryParameter("raw", "BYTES", b"\x00"),
        bigquery.ScalarQueryParameter("rev", "INT64", 2),
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        bigquery.ScalarQueryParameter("skid", "STRING", "o'brien"),
    ]


def test_query_parameters_are_checked_as_on_duckdb(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    with pytest.raises(QueryParameterError, match="missing @skid"):
        bq.query("SELECT 1 FROM alarms WHERE skid_id = @skid", {})
    assert client.queries == []


def test_bigquery_sql_errors_become_warehouse_errors(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    client.query_error = google_exceptions.BadRequest("Unrecognized name: nope")
    with pytest.raises(WarehouseError, match=r"query failed on BigQuery.*Unrecognized name"):
        bq.query("SELECT nope FROM alarms")


def test_maximum_bytes_billed_is_set_when_configured(client: RecordingClient) -> None:
    bq = BigQueryWarehouse("my-project", "twin", client=client, maximum_bytes_billed=10**9)
    bq.query("SELECT 1 AS one")
    assert client.queries[0][1].maximum_bytes_billed == 10**9


def test_a_client_is_refused_for_duckdb() -> None:
    with pytest.raises(WarehouseError, match="BigQuery client was given"):
        open_warehouse("duckdb:///tmp/x.duckdb", client=RecordingClient())


def test_insert_many_streams_each_table(bq: BigQueryWarehouse, client: RecordingClient) -> None:
    written = bq.insert_many(
        {
            "dead_letters": [ROWS["dead_letters"]],
            "spine_points": [ROWS["spine_points"], ROWS["spine_points"]],
            "energy_rows": [],
        }
    )
    assert written == 3
    assert [(table, len(rows)) for table, rows, _ in client.inserts] == [
        ("my-project.twin.dead_letters", 1),
        ("my-project.twin.spine_points", 2),
    ]


def test_insert_many_checks_every_table_before_sending(
    bq: BigQueryWarehouse, client: RecordingClient
) -> None:
    with pytest.raises(UnknownTableError):
        bq.insert_many({"dead_letters": [ROWS["dead_letters"]], "plans": [ROWS["plan_rows"]]})
    assert client.inserts == []
