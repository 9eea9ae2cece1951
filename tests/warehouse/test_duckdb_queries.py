"""BigQuery SQL on the embedded warehouse: parameters are bound, never spliced."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from schemas import Alarm
from tests.warehouse.rows import T0, representative_rows
from warehouse import (
    DuckDBWarehouse,
    QueryParameterError,
    WarehouseError,
    open_warehouse,
)

ROWS = representative_rows()


@pytest.fixture
def with_alarms(duck: DuckDBWarehouse) -> DuckDBWarehouse:
    alarm = ROWS["alarms"]
    assert isinstance(alarm, Alarm)
    duck.insert_rows(
        "alarms",
        [
            alarm,
            alarm.model_copy(update={"alarm_id": "b", "acked_by": "o'brien", "skid_id": "ATL-02"}),
        ],
    )
    return duck


def test_value_with_a_quote_is_bound_as_data(with_alarms: DuckDBWarehouse) -> None:
    rows = with_alarms.query(
        "SELECT alarm_id FROM alarms WHERE acked_by = @who", {"who": "o'brien"}
    )
    assert rows == [{"alarm_id": "b"}]


def test_injection_attempt_matches_nothing(with_alarms: DuckDBWarehouse) -> None:
    rows = with_alarms.query(
        "SELECT alarm_id FROM alarms WHERE skid_id = @skid_id", {"skid_id": "x' OR '1'='1"}
    )
    assert rows == []
    assert len(with_alarms.query("SELECT alarm_id FROM alarms")) == 2


def test_timestamp_and_list_parameters(with_alarms: DuckDBWarehouse) -> None:
    sql = (
        "SELECT alarm_id FROM alarms WHERE updated_ts >= @since "
        "AND skid_id IN UNNEST(@skids) ORDER BY alarm_id"
    )
    since = T0.astimezone(UTC) - timedelta(hours=1)
    assert with_alarms.query(sql, {"since": since, "skids": ["ATL-01", "ATL-02"]}) == [
        {"alarm_id": "ATL-01:maop_margin"},
        {"alarm_id": "b"},
    ]
    later = T0 + timedelta(days=1)
    assert with_alarms.query(sql, {"since": later, "skids": ("ATL-01",)}) == []


def test_bigquery_functions_are_transpiled(duck: DuckDBWarehouse) -> None:
    (row,) = duck.query(
        "SELECT TIMESTAMP_TRUNC(@ts, HOUR) AS hour_start, SAFE_DIVIDE(1, 0) AS no_div, "
        "DATE(@ts) AS day, FORMAT_TIMESTAMP('%Y-%m-%d %H', @ts) AS label",
        {"ts": datetime(2026, 7, 1, 23, 45, tzinfo=UTC)},
    )
    assert row == {
        "hour_start": datetime(2026, 7, 1, 23, 0, tzinfo=UTC),
        "no_div": None,
        "day": date(2026, 7, 1),
        "label": "2026-07-01 23",
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing @skid_id"),
        ({"skid_id": "ATL-01", "other": 1}, "unexpected @other"),
        ({"skid_id": None}, "@skid_id is None"),
        ({"skid_id": datetime(2026, 7, 1)}, "naive datetime"),
        ({"skid_id": []}, "empty list"),
        ({"skid_id": ["a", 1]}, "mixes element types"),
        ({"skid_id": {"a": 1}}, "unsupported type dict"),
    ],
)
def test_bad_parameters_are_refused_clearly(
    duck: DuckDBWarehouse, params: dict[str, object], message: str
) -> None:
    with pytest.raises(QueryParameterError, match=message):
        duck.query("SELECT * FROM alarms WHERE skid_id = @skid_id", params)  # type: ignore[arg-type]


def test_sql_error_names_the_transpiled_sql(duck: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError, match=r"query failed on DuckDB.*no_such_table"):
        duck.query("SELECT * FROM no_such_table")


def test_sql_that_does_not_parse_is_refused(duck: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError, match="does not parse"):
        duck.query("SELECT FROM WHERE (")


def test_duplicate_result_columns_are_refused(duck: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError, match="duplicate column names"):
        duck.query("SELECT 1 AS a, 2 AS a")


def test_unknown_named_query_lists_the_known_ones(duck: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError, match="no query named 'nope'"):
        duck.run_named_query("nope", {})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///x.db", "unknown warehouse URL scheme 'sqlite'"),
        ("duckdb://", "is not duckdb:///path"),
        ("bigquery://only-project", "is not bigquery://PROJECT/DATASET"),
        ("/tmp/x.duckdb", "is not duckdb:///path"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=message):
        open_warehouse(url)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="does not exist"):
        open_warehouse(f"duckdb://{tmp_path / 'nope' / 'x.duckdb'}")
