"""``dra-twin warehouse-sql``: print the DDL of the warehouse views.

For Terraform reviews and debugging: the BigQuery rendering is what the dataset gets
(table names qualified as ``PROJECT.DATASET.table``); the DuckDB rendering is what the
local warehouse runs after sqlglot transpiles it.
"""

from __future__ import annotations

import argparse

from cli.errors import CliError
from warehouse.interface import WarehouseError
from warehouse.sql_files import view_ddl, view_names

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "warehouse-sql",
        help="print CREATE OR REPLACE VIEW DDL of the warehouse views",
        description="Print the DDL of one view or all views under bigquery/views/.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--view", metavar="NAME", help="one view (file name without .sql)")
    which.add_argument("--all", action="store_true", help="every view")
    p.add_argument(
        "--dialect",
        choices=("bigquery", "duckdb"),
        default="bigquery",
        help="SQL dialect to print (default: bigquery)",
    )
    p.add_argument("--project", default="PROJECT", help="BigQuery project to qualify tables")
    p.add_argument("--dataset", default="DATASET", help="BigQuery dataset to qualify tables")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    names = view_names() if args.all else [args.view]
    try:
        statements = [view_ddl(n, args.dialect, args.project, args.dataset) for n in names]
    except WarehouseError as exc:
        raise CliError(str(exc)) from exc
    print(";\n\n".join(statements) + ";")
    return 0
