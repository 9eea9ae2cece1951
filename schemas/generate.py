"""Write (or ``--check``) the generated schema files beside the models.

``schemas/bigquery/<table>.json`` for Terraform and the warehouse, and
``schemas/jsonschema/telemetry_reading.json`` for producers of telemetry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from schemas.tables import TABLES, bigquery_table_spec
from schemas.telemetry import TelemetryReading

__all__ = ["generated_files", "main"]

_HERE = Path(__file__).resolve().parent


def _dump(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every generated file and its expected content."""
    files = {
        _HERE / "bigquery" / f"{name}.json": _dump(bigquery_table_spec(table))
        for name, table in TABLES.items()
    }
    files[_HERE / "jsonschema" / "telemetry_reading.json"] = _dump(
        TelemetryReading.model_json_schema(mode="validation")
    )
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if any file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, content in generated_files().items():
        current = path.read_text() if path.exists() else None
        if current != content:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    if args.check and stale:
        print("stale generated schema files (run python -m schemas.generate):", file=sys.stderr)
        for path in stale:
            print(f"  {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
