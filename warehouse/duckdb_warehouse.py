"""The embedded warehouse: one DuckDB file, shared by a writer and many readers.

Concurrency design. DuckDB allows one read-write process or many read-only ones on a
file, never both, and refuses (does not wait) on a conflict. The streaming job writes
all the time while the functions and the planner, in other processes, read. So the
file is only attached while it is used, under
:class:`~warehouse.file_lock.ReadWriteFileLock`: read-only and shared for queries,
read-write and exclusive for inserts, detached before the lock is released.

Costs (measured, README "Warehouse"). Each object keeps one in-memory DuckDB and
``ATTACH``es the file to it per operation (about 2 ms), instead of connecting (12-15
ms: most of a connect is building a DuckDB instance). Every commit is durable in the
WAL, so a writer keeps the file attached after a write and detaches only when
someone is at the lock's gate (a reader or writer of another process or object, seen
within 5 ms) or after ``linger_s`` without a write. DuckDB's checkpoint on detach is
off (it cost 40-50 ms a time on the wide spine and energy tables); the writer
checkpoints before detaching once the WAL exceeds ``checkpoint_wal_bytes``, because
whoever attaches next replays the WAL, and replay grows with it (measured: about
0.1 ms per KB).

Trade-off: readers wait while a write commits and the writer checkpoints. In
exchange readers always see committed data, never fail because the job is writing,
and no server process is needed. Writers should still insert in batches (the Beam
sink writes per bundle), not row by row. Waits are bounded (``lock_timeout_s``), then
:class:`~warehouse.interface.WarehouseBusyError`. A writer must not fork while it
holds the file (the child would inherit the lock).

DuckDB runs the BigQuery SQL after sqlglot transpiles it; parameters are bound by
DuckDB (``$name``), never formatted into the SQL. The session time zone is UTC, so
``TIMESTAMP_TRUNC(ts, DAY)`` means the UTC day, as in BigQuery.
"""

from __future__ import annotations

import atexit
import hashlib
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from pydantic import BaseModel

from schemas.tables import TABLES
from warehouse.file_lock import ReadWriteFileLock
from warehouse.interface import (
    ParamValue,
    WarehouseBusyError,
    WarehouseError,
    check_params,
    check_rows,
)
from warehouse.sql_files import (
    parameter_names,
    query_sql,
    to_duckdb,
    view_ddl,
    view_names,
)
from warehouse.table_schemas import arrow_table, check_arrow, duckdb_columns, duckdb_create_table

__all__ = ["DuckDBWarehouse"]

_ALIAS = "warehouse"
"""The name the file is attached under while an operation runs."""
_WATCH_INTERVAL_S = 0.005
"""How often a lingering writer looks for someone waiting for the lock."""
_LAYOUT_TABLE = "_layout"
"""One row: the fingerprint of the tables and views this code set up in the file."""

_DIRECT_WRITE_BYTES = 4 << 20
"""A write of more Arrow bytes than this is committed by a checkpoint straight into
the file, not through the WAL: a WAL that size is checkpointed soon anyway (by
DuckDB once it passes 16 MB, by this writer before detaching), so going through it
writes the rows twice. Measured on a skid-week's backfill (27 MB of raw payloads,
then spine and energy rows, and the checkpoint before detaching): 0.97 s -> 0.80 s
wall, 0.32 -> 0.28 s CPU (medians of 5, load average 3.6). Streaming bundles are far
smaller and keep the WAL's cheap commits."""


_OPEN: weakref.WeakSet[DuckDBWarehouse] = weakref.WeakSet()


@atexit.register
def _close_open_warehouses() -> None:
    for warehouse in list(_OPEN):
        warehouse.close()


def _utc(value: Any) -> Any:
    """Results with every timestamp in ``datetime.UTC`` (DuckDB hands back pytz UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utc(v) for v in value]
    return value


class DuckDBWarehouse:
    """The warehouse in one DuckDB file; creates tables and views when opened.

    Args:
        path: the database file (created when missing).
        lock_timeout_s: how long an operation waits for the file before
            :class:`WarehouseBusyError`.
        linger_s: how long the file stays attached for writing after a write when
            nobody else wants it (0: detach after every write).
        checkpoint_wal_bytes: a writer checkpoints before detaching once the WAL is
            larger than this.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout_s: float = 60.0,
        linger_s: float = 0.5,
        checkpoint_wal_bytes: int = 64 * 1024,
    ) -> None:
        # Absolute now: a job's threads may write after the working directory changed.
        self.path = Path(path).absolute()
        if not self.path.parent.is_dir():
            raise WarehouseError(f"directory of the warehouse file does not exist: {self.path}")
        self._lock = ReadWriteFileLock(self.path, lock_timeout_s)
        self._quoted_path = "'" + str(self.path).replace("'", "''") + "'"
        self._linger_s = linger_s
        self._mutex = threading.Lock()
        self._lingering: ExitStack | None = None
        self._watcher: threading.Thread | None = None
        self._last_write_s = 0.0
        self._checkpoint_wal_bytes = checkpoint_wal_bytes
        self._host = duckdb.connect(":memory:", config={"checkpoint_on_detach": "DISABLED"})
        # Set after connecting: the built-in ICU extension is not loaded yet when the
        # connect-time config is applied.
        self._host.execute("SET TimeZone = 'UTC'")
        _OPEN.add(self)
        self._create_tables_and_views()

    def __repr__(self) -> str:
        return f"DuckDBWarehouse({str(self.path)!r})"

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file attached to this object's in-memory DuckDB under the file lock.

        A read attaches read-only under the shared lock and detaches at once. A write
        keeps the file attached and the lock held afterwards (see the module
        docstring) until someone waits for the lock or ``linger_s`` passes without a
        write; an operation arriving meanwhile uses that attachment.
        """
        with self._mutex:
            if self._lingering is not None and write and self._lock.wanted():
                self._release()
            if self._lingering is None and write and self._linger_s > 0:
                self._lingering = self._attach(write=True)
                self._watcher = threading.Thread(
                    target=self._watch, name="warehouse-linger", daemon=True
                )
                self._watcher.start()
            if self._lingering is not None:
                try:
                    yield self._host
                finally:
                    # Only writes keep the file: a reader of this process polling
                    # through the handle must not hold it past ``linger_s``.
                    if write:
                        self._last_write_s = time.monotonic()
                return
            with self._attach(write=write):
                yield self._host

    def _attach(self, *, write: bool) -> ExitStack:
        """Take the lock, attach the file: an open ``ExitStack`` that undoes both."""
        held = ExitStack()
        held.enter_context(self._lock.exclusive() if write else self._lock.shared())
        try:
            deadline = time.monotonic() + self._lock.timeout_s
            mode = "" if write else " (READ_ONLY)"
            while True:
                try:
                    self._host.execute(f"ATTACH {self._quoted_path} AS {_ALIAS}{mode}")
                    break
                except duckdb.IOException as exc:
                    # Another program (a DuckDB shell, say) holds the file outside our lock.
                    if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                        raise WarehouseBusyError(f"{self.path}: {exc}") from exc
                    time.sleep(0.05)
            held.callback(self._host.execute, f"DETACH {_ALIAS}")
            held.callback(self._host.execute, "USE memory")
            if write:
                held.callback(self._checkpoint_if_wal_is_large)
            self._host.execute(f"USE {_ALIAS}")
        except BaseException:
            held.close()
            raise
        return held

    def _checkpoint_if_wal_is_large(self) -> None:
        wal = self.path.with_name(self.path.name + ".wal")
        if wal.exists() and wal.stat().st_size > self._checkpoint_wal_bytes:
            self._host.execute(f"CHECKPOINT {_ALIAS}")

    def _release(self) -> None:
        """Detach the lingering write attachment and unlock."""
        held, self._lingering = self._lingering, None
        if held is not None:
            held.close()

    def _watch(self) -> None:
        """While a write attachment lingers: release it once someone waits for the
        lock or no write came for ``linger_s``."""
        while True:
            time.sleep(_WATCH_INTERVAL_S)
            with self._mutex:
                if self._lingering is None:
                    return
                idle_s = time.monotonic() - self._last_write_s
                if idle_s >= self._linger_s or self._lock.wanted():
                    self._release()
                    return

    def release(self) -> None:
        """Let go of the file now if a write left it attached (``linger_s``): the WAL
        checkpointed if it is large, as on any writer's detach, and the lock released.
        A batch job calls this once it has written everything, so that its work on the
        file, the checkpoint included, is done when it reports done."""
        with self._mutex:
            self._release()

    def close(self) -> None:
        """Release the file now and close the in-memory DuckDB; the object is done.

        Every open warehouse is closed this way at interpreter exit, so a lingering
        writer detaches cleanly and DuckDB's bindings are not left alive at shutdown."""
        with self._mutex:
            self._release()
            self._host.close()
        # The watcher ends within one interval once nothing lingers; joined so that no
        # daemon thread frozen at shutdown keeps DuckDB objects alive (nanobind then
        # reports them as leaks).
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()

    def _create_tables_and_views(self) -> None:
        """Create what is missing and check what is there, unless the file records
        that this code's tables and views were set up in it already (checking and
        re-creating took ~0.1 s of every open: every CLI command, function call,
        streaming job and backfill opens the file).

        The missing tables are created by one ``execute`` and so are the views: each
        call gives the GIL up and takes it back several times, and a backfill opens
        its file on a thread while the job's own Python runs, where the sixteen
        statements one by one took 70 ms instead of 23 (measured against a busy
        thread; 35 ms together)."""
        with self._connect(write=True) as con:
            if self._layout_is_current(con):
                return
            existing = {
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = ? AND table_type = 'BASE TABLE'",
                    [_ALIAS],
                ).fetchall()
            }
            # Only a table the file already had can differ from schemas/ (checking
            # all nine took 36 of the 91 ms a new file took to open; README).
            for table in TABLES:
                if table in existing:
                    self._check_columns(con, table)
            missing = [duckdb_create_table(t) for t in TABLES if t not in existing]
            if missing:
                con.execute(";\n".join(missing))
            try:
                con.execute(";\n".join(view_ddl(name, "duckdb") for name in view_names()))
            except duckdb.Error as together:
                # Which view: one at a time (each CREATE OR REPLACE, so repeatable).
                for name in view_names():
                    try:
                        con.execute(view_ddl(name, "duckdb"))
                    except duckdb.Error as exc:
                        raise WarehouseError(f"view {name} does not run on DuckDB: {exc}") from exc
                raise WarehouseError(f"views do not run on DuckDB: {together}") from together
            con.execute(f'CREATE OR REPLACE TABLE "{_LAYOUT_TABLE}" (fingerprint VARCHAR)')
            con.execute(f'INSERT INTO "{_LAYOUT_TABLE}" VALUES (?)', [_layout_fingerprint()])

    def _layout_is_current(self, con: duckdb.DuckDBPyConnection) -> bool:
        try:
            rows = con.execute(f'SELECT fingerprint FROM "{_LAYOUT_TABLE}"').fetchall()
        except duckdb.CatalogException:
            return False
        return rows == [(_layout_fingerprint(),)]

    def _check_columns(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        """Fail when a file made by an older version has other columns than ``schemas/``."""
        # DuckDB renders the expected types itself, so nested types compare exactly.
        con.execute(f'CREATE TEMP TABLE "_expected_columns" ({duckdb_columns(table)})')
        try:
            rows = con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_name IN (?, '_expected_columns') ORDER BY ordinal_position",
                [table],
            ).fetchall()
        finally:
            con.execute('DROP TABLE temp."_expected_columns"')
        actual = [(c, t) for name, c, t in rows if name == table]
        wanted = [(c, t) for name, c, t in rows if name != table]
        if actual != wanted:
            raise WarehouseError(
                f"table {table} in {self.path} has columns that differ from schemas/ "
                "(made by an older version?); delete the local file or migrate it"
            )

    def insert_rows(self, table: str, rows: Sequence[BaseModel]) -> int:
        """Append ``rows`` to ``table`` in one transaction: all of them or none."""
        return self.insert_many({table: rows})

    def insert_many(self, rows_by_table: Mapping[str, Sequence[BaseModel] | pa.Table]) -> int:
        """Append rows to several tables under one lock, attachment and transaction:
        all of them or none. One call costs about what one table's insert does.

        A table's rows may also come as an Arrow table with exactly its
        :func:`~warehouse.table_schemas.arrow_schema` (the backfill's column batches).
        """
        data: dict[str, pa.Table] = {}
        for table, rows in rows_by_table.items():
            if isinstance(rows, pa.Table):
                check_arrow(table, rows)
                incoming = rows
            else:
                check_rows(table, rows)
                incoming = arrow_table(table, rows)
            if incoming.num_rows:
                data[table] = incoming
        if not data:
            return 0
        direct = sum(incoming.nbytes for incoming in data.values()) > _DIRECT_WRITE_BYTES
        with self._connect(write=True) as con:
            if direct:
                # The commit checkpoints when the WAL would pass this: always, here.
                con.execute("SET checkpoint_threshold = '0KB'")
            con.execute("BEGIN TRANSACTION")
            table = ""
            try:
                for table, incoming in data.items():
                    con.register("_incoming_rows", incoming)
                    con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _incoming_rows')
                    con.unregister("_incoming_rows")
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise WarehouseError(f"{table}: rows rejected, nothing written: {exc}") from exc
            finally:
                if direct:
                    con.execute("RESET checkpoint_threshold")
        return sum(incoming.num_rows for incoming in data.values())

    def query(
        self, sql: str, params: Mapping[str, ParamValue] | None = None
    ) -> list[dict[str, Any]]:
        """Run BigQuery SQL (transpiled) with ``@named`` parameters; rows as dicts."""
        bound = check_params(set(parameter_names(sql)), params)
        duck_sql = to_duckdb(sql)
        with self._connect(write=False) as con:
            try:
                cursor = con.execute(duck_sql, {k: _duck_value(v) for k, v in bound.items()})
                names = [d[0] for d in cursor.description or ()]
                rows = cursor.fetchall()
            except duckdb.Error as exc:
                raise WarehouseError(f"query failed on DuckDB: {exc}\nSQL: {duck_sql}") from exc
        if len(set(names)) != len(names):
            raise WarehouseError(f"query returns duplicate column names {names}; alias them")
        return [dict(zip(names, _utc(list(row)), strict=True)) for row in rows]

    def query_arrow(self, sql: str, params: Mapping[str, ParamValue] | None = None) -> pa.Table:
        """:meth:`query`, the rows as one Arrow table (timestamps ``timestamp[us, UTC]``).

        For bulk reads (the backfill replaying ``raw_readings``): no Python object per
        row. The whole result is fetched under the shared lock, which is released on
        return, so a caller reading a long history should read it in slices.
        """
        bound = check_params(set(parameter_names(sql)), params)
        duck_sql = to_duckdb(sql)
        with self._connect(write=False) as con:
            try:
                return con.sql(
                    duck_sql, params={k: _duck_value(v) for k, v in bound.items()}
                ).to_arrow_table()
            except duckdb.Error as exc:
                raise WarehouseError(f"query failed on DuckDB: {exc}\nSQL: {duck_sql}") from exc

    def run_named_query(
        self, name: str, params: Mapping[str, ParamValue] | None = None
    ) -> list[dict[str, Any]]:
        """Run ``bigquery/queries/<name>.sql``."""
        return self.query(query_sql(name), params)


def _duck_value(value: ParamValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


@lru_cache(maxsize=1)
def _layout_fingerprint() -> str:
    """What the file's tables and views are made from: every table's DDL (from
    ``schemas/``) and every view's DuckDB DDL (the committed rendering of its BigQuery
    SQL, :mod:`warehouse.transpiled`). Another version of the code (a changed model or
    view) gives another value, and the next open checks and re-creates everything."""
    digest = hashlib.sha256()
    for table in TABLES:
        digest.update(duckdb_create_table(table).encode() + b"\0")
    for name in view_names():
        digest.update(view_ddl(name, "duckdb").encode() + b"\0")
    return digest.hexdigest()
