"""``open_warehouse(url)``: the one place that turns configuration into a warehouse."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from warehouse.duckdb_warehouse import DuckDBWarehouse
from warehouse.interface import Warehouse, WarehouseError

__all__ = ["open_warehouse", "shared_warehouse"]


def open_warehouse(url: str, *, client: Any = None, lock_timeout_s: float = 60.0) -> Warehouse:
    """Open the warehouse that ``url`` names.

    Args:
        url: ``duckdb:///abs/path.duckdb`` (or ``duckdb://relative/path.duckdb``) for the
            embedded file, created with every table and view when missing;
            ``bigquery://PROJECT/DATASET`` for BigQuery, whose tables Terraform owns.
        client: a ``google.cloud.bigquery.Client`` to use (default: one for PROJECT
            with application-default credentials). BigQuery only.
        lock_timeout_s: how long a DuckDB operation waits for another writer.

    Raises:
        WarehouseError: an unknown scheme or a malformed URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise WarehouseError(
            f"warehouse URL {url!r} is not duckdb:///path or bigquery://PROJECT/DATASET"
        )
    if scheme == "duckdb":
        if client is not None:
            raise WarehouseError("a BigQuery client was given for a duckdb:// URL")
        return DuckDBWarehouse(rest, lock_timeout_s=lock_timeout_s)
    if scheme == "bigquery":
        project, _, dataset = rest.partition("/")
        if not project or not dataset or "/" in dataset:
            raise WarehouseError(f"warehouse URL {url!r} is not bigquery://PROJECT/DATASET")
        from warehouse.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(project, dataset, client=client)
    raise WarehouseError(
        f"unknown warehouse URL scheme {scheme!r} in {url!r}; use duckdb or bigquery"
    )


_SHARED: dict[str, Warehouse] = {}
_SHARED_LOCK = threading.Lock()


def canonical_url(url: str) -> str:
    """``url`` with a DuckDB file's path made absolute and resolved
    (``duckdb://twin.duckdb`` -> ``duckdb:///<working directory>/twin.duckdb``; ``..``,
    doubled slashes and symbolic links gone); other URLs as they are. A job
    canonicalises its URL once at start: its threads may write after the working
    directory changed, and per-URL registries must neither mix two files of one name
    nor open two handles on one file spelt two ways."""
    scheme, sep, rest = url.partition("://")
    if scheme != "duckdb" or not sep or not rest:
        return url
    return f"duckdb://{Path(rest).resolve()}"


def shared_warehouse(url: str) -> Warehouse:
    """This process's one handle on the warehouse ``url`` names, opened by the first
    caller. The local Beam runners build a fresh DoFn (and call ``setup``) for every
    bundle, and the streaming job's buffer and the backfill's writer threads may ask
    at once; opening the DuckDB file each time cost tens of milliseconds to half a
    second. A failed open is not kept: the next caller tries again.

    Readers in the job's process should read through this handle too: their queries
    then run on the writer's attachment, while a second handle's query makes the
    writer detach and attach again (30-70 ms each, README "Warehouse")."""
    url = canonical_url(url)
    with _SHARED_LOCK:
        warehouse = _SHARED.get(url)
        if warehouse is None:
            warehouse = open_warehouse(url)
            _SHARED[url] = warehouse
        return warehouse
