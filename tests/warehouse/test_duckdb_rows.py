"""Rows go into the embedded warehouse and come back equal; bad rows are refused whole."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from schemas import EnergyRow, PlanRow, SpinePoint
from schemas.tables import TABLES
from tests.warehouse.rows import T0, representative_rows
from warehouse import DuckDBWarehouse, UnknownTableError, WarehouseError, open_warehouse

ROWS = representative_rows()


def test_every_table_has_a_representative_row() -> None:
    assert set(ROWS) == set(TABLES)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_row_round_trips_through_duckdb(duck: DuckDBWarehouse, table: str) -> None:
    row = ROWS[table]
    assert duck.insert_rows(table, [row]) == 1
    (back,) = duck.query(f"SELECT * FROM {table}")
    assert TABLES[table].model.model_validate(back) == row
    for value in back.values():
        if isinstance(value, datetime):
            assert value.tzinfo is UTC


def test_nested_signal_stats_are_queryable_as_structs(duck: DuckDBWarehouse) -> None:
    duck.insert_rows("spine_points", [ROWS["spine_points"]])
    (row,) = duck.query(
        "SELECT line_flow_bph.mean AS flow_bph, dra_tank_level_gal.quality AS tank_quality, "
        "downstream_psig.mean AS downstream_psig FROM spine_points"
    )
    assert row == {"flow_bph": 55_000.0, "tank_quality": "CARRIED_FORWARD", "downstream_psig": None}


def test_list_fields_are_queryable_with_unnest(duck: DuckDBWarehouse) -> None:
    duck.insert_rows("plan_summaries", [ROWS["plan_summaries"]])
    rows = duck.query(
        "SELECT b.constraint AS c FROM plan_summaries, UNNEST(binding_constraints) AS b ORDER BY c"
    )
    assert [r["c"] for r in rows] == ["maop", "tank"]


def test_tables_are_created_once_and_reopening_keeps_rows(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'twin.duckdb'}"
    open_warehouse(url).insert_rows("plan_rows", [ROWS["plan_rows"]])
    again = open_warehouse(url)
    assert again.query("SELECT COUNT(*) AS n FROM plan_rows") == [{"n": 1}]


def test_unknown_table_is_refused_naming_the_known_ones(duck: DuckDBWarehouse) -> None:
    with pytest.raises(UnknownTableError, match=r"unknown table 'plans'.*plan_rows"):
        duck.insert_rows("plans", [ROWS["plan_rows"]])


def test_row_of_another_model_is_refused_and_nothing_written(duck: DuckDBWarehouse) -> None:
    good = ROWS["energy_rows"]
    with pytest.raises(WarehouseError, match=r"row 1 is a SpinePoint.*takes EnergyRow"):
        duck.insert_rows("energy_rows", [good, ROWS["spine_points"]])
    assert duck.query("SELECT COUNT(*) AS n FROM energy_rows") == [{"n": 0}]


def test_row_missing_a_required_value_is_refused_and_nothing_written(
    duck: DuckDBWarehouse,
) -> None:
    # model_construct skips validation: the NOT NULL columns are the last line of defence.
    bad = EnergyRow.model_construct(**{**ROWS["energy_rows"].model_dump(), "skid_id": None})
    with pytest.raises(WarehouseError, match="energy_rows: rows rejected, nothing written"):
        duck.insert_rows("energy_rows", [ROWS["energy_rows"], bad])
    assert duck.query("SELECT COUNT(*) AS n FROM energy_rows") == [{"n": 0}]


def test_many_rows_keep_order_and_values(duck: DuckDBWarehouse) -> None:
    base = ROWS["plan_rows"]
    assert isinstance(base, PlanRow)
    rows = [
        base.model_copy(update={"hour_index": i, "dra_ppm": i / 10, "binding_constraints": []})
        for i in range(2_000)
    ]
    duck.insert_rows("plan_rows", rows)
    got = duck.query("SELECT hour_index, dra_ppm FROM plan_rows ORDER BY hour_index")
    assert got == [{"hour_index": i, "dra_ppm": i / 10} for i in range(2_000)]


def test_file_from_an_older_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE spine_points (skid_id VARCHAR, grid_ts TIMESTAMPTZ)")
    con.close()
    with pytest.raises(WarehouseError, match=r"spine_points .* differ from schemas/"):
        DuckDBWarehouse(path)


def test_spine_point_defaults_round_trip(duck: DuckDBWarehouse) -> None:
    bare = SpinePoint(skid_id="ATL-02", grid_ts=T0, interval_s=60, emitted_ts=T0)
    duck.insert_rows("spine_points", [bare])
    (back,) = duck.query("SELECT * FROM spine_points")
    assert SpinePoint.model_validate(back) == bare


def test_insert_many_writes_every_table_in_one_call(duck: DuckDBWarehouse) -> None:
    written = duck.insert_many(
        {
            "spine_points": [ROWS["spine_points"]],
            "energy_rows": [ROWS["energy_rows"]],
            "dead_letters": [ROWS["dead_letters"], ROWS["dead_letters"]],
            "raw_readings": [],
        }
    )
    assert written == 4
    counts = duck.query(
        "SELECT (SELECT COUNT(*) FROM spine_points) AS spine, "
        "(SELECT COUNT(*) FROM energy_rows) AS energy, "
        "(SELECT COUNT(*) FROM dead_letters) AS dead, "
        "(SELECT COUNT(*) FROM raw_readings) AS raw"
    )
    assert counts == [{"spine": 1, "energy": 1, "dead": 2, "raw": 0}]


def test_insert_many_is_all_or_nothing_across_tables(duck: DuckDBWarehouse) -> None:
    # The second table's row breaks a NOT NULL column after the first table was inserted.
    bad = EnergyRow.model_construct(**{**ROWS["energy_rows"].model_dump(), "skid_id": None})
    with pytest.raises(WarehouseError, match="energy_rows: rows rejected, nothing written"):
        duck.insert_many({"spine_points": [ROWS["spine_points"]], "energy_rows": [bad]})
    assert duck.query(
        "SELECT (SELECT COUNT(*) FROM spine_points) + (SELECT COUNT(*) FROM energy_rows) AS n"
    ) == [{"n": 0}]
    with pytest.raises(WarehouseError, match="row 0 is a SpinePoint"):
        duck.insert_many(
            {"dead_letters": [ROWS["dead_letters"]], "energy_rows": [ROWS["spine_points"]]}
        )
    assert duck.query("SELECT COUNT(*) AS n FROM dead_letters") == [{"n": 0}]


def test_a_file_set_up_by_other_code_is_checked_again(tmp_path: Path) -> None:
    """A file records the fingerprint of the code that set up its tables and views;
    the same code skips the checks on the next open, other code (here: a recorded
    fingerprint that is not this code's) checks and refuses a table that differs."""
    path = tmp_path / "fingerprinted.duckdb"
    DuckDBWarehouse(path).close()
    con = duckdb.connect(str(path))
    assert con.execute('SELECT COUNT(*) FROM "_layout"').fetchone() == (1,)
    con.execute("ALTER TABLE spine_points DROP COLUMN batch_id")
    con.execute("UPDATE \"_layout\" SET fingerprint = 'made by another version'")
    con.close()
    with pytest.raises(WarehouseError, match=r"spine_points .* differ from schemas/"):
        DuckDBWarehouse(path)


def test_raw_payloads_are_stored_zstd_compressed(tmp_path: Path) -> None:
    """Cheaper to commit and smaller than DuckDB's own choice for the JSON payloads
    (README "Streaming job and backfill")."""
    path = tmp_path / "twin.duckdb"
    duck = DuckDBWarehouse(path)
    raw = ROWS["raw_readings"]
    rows = [
        raw.model_copy(update={"seq": i, "payload": f'{{"skid_id": "ATL-01", "seq": {i}}}'})
        for i in range(3000)
    ]
    duck.insert_rows("raw_readings", rows)
    duck.close()
    with duckdb.connect(str(path), read_only=True) as con:
        methods = {
            method
            for (method,) in con.execute(
                "SELECT DISTINCT compression FROM pragma_storage_info('raw_readings') "
                "WHERE column_name = 'payload' AND segment_type = 'VARCHAR'"
            ).fetchall()
        }
    assert methods == {"ZSTD"}
