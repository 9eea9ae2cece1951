"""Local warehouse insert speed: spine rows (12 nested SignalStats each) into DuckDB.

``DuckDBWarehouse.insert_rows`` builds Arrow columns straight from the model
attributes and inserts them in one statement, attaching the file under the file lock
as every write does (a fresh warehouse object and file per call, so each call also
creates the tables, and closes it, so each call also detaches and checkpoints). Two
baselines, measured in the same run on
the same rows into a fresh file over one already-open connection (so the baselines
do not pay for opening the file):

* ``executemany`` of one tuple per row, the obvious way; goal >= 10x.
* ``model_dump()`` of every row then ``pyarrow.Table.from_pylist``, the obvious Arrow
  way; goal >= 1x.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from benchmarks._harness import Comparison, compare
from schemas import Quality, SignalStats, SpinePoint
from warehouse import DuckDBWarehouse
from warehouse.table_schemas import arrow_schema, duckdb_create_table, table_fields

_START = datetime(2026, 7, 1, tzinfo=UTC)


def _rows(n: int) -> list[SpinePoint]:
    good = SignalStats(mean=1.0, min=0.5, max=1.5, last=1.2, count=60, quality=Quality.GOOD)
    signals = {
        name: good for name, f in SpinePoint.model_fields.items() if f.annotation is SignalStats
    }
    return [
        SpinePoint(
            skid_id="ATL-01",
            grid_ts=_START + timedelta(minutes=i),
            interval_s=60,
            emitted_ts=_START,
            product_code="ULSD",
            reading_count=60,
            **signals,
        )
        for i in range(n)
    ]


def _fresh_connection(directory: Path, seq: count[int]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(directory / f"baseline-{next(seq)}.duckdb"))
    con.execute(duckdb_create_table("spine_points"))
    return con


def _subject(directory: Path, seq: count[int], rows: list[SpinePoint]) -> Callable[[], object]:
    def run() -> None:
        warehouse = DuckDBWarehouse(directory / f"subject-{next(seq)}.duckdb")
        warehouse.insert_rows("spine_points", rows)
        warehouse.close()  # detaches (and checkpoints) now, not in the background later

    return run


def main() -> list[Comparison]:
    names = [f["name"] for f in table_fields("spine_points")]
    seq = count()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        few, many = _rows(1_000), _rows(50_000)

        def executemany() -> None:
            con = _fresh_connection(directory, seq)
            placeholders = ", ".join("?" * len(names))
            con.executemany(
                f"INSERT INTO spine_points VALUES ({placeholders})",
                [tuple(r.model_dump()[n] for n in names) for r in few],
            )
            con.close()

        def from_pylist() -> None:
            con = _fresh_connection(directory, seq)
            data = pa.Table.from_pylist(
                [r.model_dump() for r in many], schema=arrow_schema("spine_points")
            )
            con.register("incoming", data)
            con.execute("INSERT INTO spine_points BY NAME SELECT * FROM incoming")
            con.close()

        return [
            compare(
                "warehouse insert_rows vs executemany (1k spine rows)",
                _subject(directory, seq, few),
                executemany,
                work_units=len(few),
                unit="rows",
                goal_ratio=10.0,
            ),
            compare(
                "warehouse insert_rows vs model_dump + Arrow from_pylist (50k spine rows)",
                _subject(directory, seq, many),
                from_pylist,
                work_units=len(many),
                unit="rows",
                goal_ratio=1.0,
            ),
        ]
