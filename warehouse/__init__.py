"""The warehouse: BigQuery in production, embedded DuckDB locally, one interface.

```python
from warehouse import open_warehouse
wh = open_warehouse("duckdb:///tmp/twin.duckdb")   # or "bigquery://PROJECT/DATASET"
wh.insert_rows("plan_rows", rows)                   # models from schemas/
wh.query("SELECT ... WHERE skid_id = @skid_id", {"skid_id": "ATL-01"})
wh.run_named_query("skid_status", {...})            # bigquery/queries/skid_status.sql
```
"""

from warehouse.duckdb_warehouse import DuckDBWarehouse
from warehouse.interface import (
    QueryParameterError,
    UnknownTableError,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
)
from warehouse.url import open_warehouse, shared_warehouse

__all__ = [
    "DuckDBWarehouse",
    "QueryParameterError",
    "UnknownTableError",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "open_warehouse",
    "shared_warehouse",
]
