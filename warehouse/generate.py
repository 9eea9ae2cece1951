"""Write (or ``--check``) ``warehouse/duckdb_sql.json``: the DuckDB renderings of the
views and queries under ``bigquery/`` (see :mod:`warehouse.transpiled`)."""

from __future__ import annotations

import argparse
import sys

from warehouse.transpiled import GENERATED, generated_content

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file differs")
    args = parser.parse_args(argv)
    content = generated_content()
    current = GENERATED.read_text() if GENERATED.is_file() else None
    if current == content:
        return 0
    if args.check:
        print(f"stale {GENERATED} (run python -m warehouse.generate)", file=sys.stderr)
        return 1
    GENERATED.write_text(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
