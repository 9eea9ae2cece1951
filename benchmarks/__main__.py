"""``python -m benchmarks [NAME ...]``: run every ``bench_*`` module (or the named ones).

Each module has ``main() -> list[Comparison]``; the run ends with one line per
comparison, and exits non-zero only when a benchmark fails to run, never on a
missed goal (noisy machines: goals are read by people, not gated).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks._harness import Comparison


def main(argv: list[str]) -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"error: unknown benchmark(s) {unknown}; known: {names}", file=sys.stderr)
        return 2
    results: list[Comparison] = []
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        results.extend(importlib.import_module(f"benchmarks.{name}").main())
    print("\n=== summary ===")
    for r in results:
        print(r.report())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
