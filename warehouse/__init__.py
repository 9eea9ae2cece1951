"""The warehouse: BigQuery in production, embedded DuckDB locally, one interface."""
