"""``dra-twin backfill``: history from JSONL files through the streaming job's transforms."""

from __future__ import annotations

import argparse
import glob
import sys
import threading
import time

from apache_beam.options.pipeline_options import PipelineOptions

from beam.counts import job_counts
from beam.options import validate_options
from beam.pipeline import run
from cli.commands.stream import add_job_args, beam_argv
from cli.errors import CliError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backfill",
        help="replay telemetry files through the streaming job's transforms (batch)",
        description=(
            "Read JSONL files (one telemetry payload per line, e.g. the simulator's "
            "readings.jsonl or an export of the raw_readings table), keep the readings "
            "with --start <= source_ts < --end, and write the same raw, spine, energy and "
            "dead-letter rows the streaming job writes."
        ),
    )
    add_job_args(p, "FnApiRunner", "local batch")
    p.add_argument("--input", required=True, help="glob of JSONL files")
    p.add_argument("--start", default=None, help="first source time, ISO 8601 with offset")
    p.add_argument("--end", default=None, help="source time to stop at (exclusive), ISO 8601")
    p.set_defaults(func=_run)


def _count_lines(pattern: str) -> int:
    files = sorted(glob.glob(pattern))
    if not files:
        raise CliError(f"--input {pattern!r}: no file matches")
    total = 0
    for name in files:
        with open(name, "rb") as fh:
            total += sum(1 for _ in fh)
    return total


def _progress(total: int, started: float, done: threading.Event) -> None:
    """A ticking elapsed-time line on stderr while the batch runs (it has no live counts)."""
    while not done.wait(1.0):
        print(
            f"\rbackfilling {total:,} lines ... {time.monotonic() - started:5.0f} s",
            end="",
            file=sys.stderr,
            flush=True,
        )


def _run(args: argparse.Namespace) -> int:
    argv = [*beam_argv(args, streaming=False), f"--input={args.input}"]
    argv += [f"--start={args.start}"] if args.start else []
    argv += [f"--end={args.end}"] if args.end else []
    try:
        validate_options(PipelineOptions(argv))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    total = _count_lines(args.input)
    started = time.monotonic()
    done = threading.Event()
    ticker = threading.Thread(target=_progress, args=(total, started, done), daemon=True)
    ticker.start()
    try:
        result = run(argv)
        result.wait_until_finish()
    finally:
        done.set()
        ticker.join()
    elapsed = time.monotonic() - started
    counts = job_counts(result)
    print(
        f"\rbackfilled {total:,} lines in {elapsed:.1f} s ({total / elapsed:,.0f} lines/s)",
        file=sys.stderr,
    )
    for line in counts.lines():
        print(line)
    return 0
