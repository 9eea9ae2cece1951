"""``dra-twin backfill``: history through the streaming job's transforms, with progress."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from beam.counts import job_counts
from beam.options import validate_options
from beam.pipeline import run
from beam.progress import Progress, progress, reset_progress
from beam.sources import InputError
from cli.commands.stream import add_job_args, beam_argv
from cli.errors import CliError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backfill",
        help="replay telemetry history through the streaming job's transforms (batch)",
        description=(
            "Read telemetry history, keep the readings with --start <= source_ts < --end, "
            "and write the same raw, spine, energy and dead-letter rows the streaming job "
            "writes. --input is a glob of files (*.parquet: exports of the raw_readings "
            "table; any other file JSONL, one payload per line, e.g. the simulator's "
            "readings.jsonl), duckdb://PATH.duckdb (a local warehouse's raw_readings) or "
            "bigquery://PROJECT/DATASET[/TABLE] (default table raw_readings). Replayed "
            "raw_readings keep their message ids, attributes and publish times. Shows the "
            "readings read and dead letters so far while it runs, then the final counts."
        ),
    )
    add_job_args(p, "FnApiRunner", "local batch")
    p.add_argument(
        "--input",
        required=True,
        help="glob of JSONL/Parquet files, duckdb://PATH or bigquery://PROJECT/DATASET[/TABLE]",
    )
    p.add_argument("--start", default=None, help="first source time, ISO 8601 with offset")
    p.add_argument("--end", default=None, help="source time to stop at (exclusive), ISO 8601")
    p.add_argument(
        "--progress-interval-s",
        type=float,
        default=1.0,
        help="how often the progress line is redrawn, s (default 1)",
    )
    p.set_defaults(func=_run)


def _current(job: dict[str, PipelineResult]) -> Progress:
    """Progress so far: the in-process tally while this process runs the job (the
    ``FnApiRunner``), else the running job's counters (Dataflow: ``run`` has returned)."""
    local = progress()
    result = job.get("result")
    if local.readings_read or result is None:
        return local
    counts = job_counts(result)
    return Progress(counts.readings_in, counts.dead_letters)


def _show_progress(
    job: dict[str, PipelineResult], started: float, interval_s: float, done: threading.Event
) -> None:
    """Redraw one stderr line with the readings read and dead letters so far."""
    while not done.wait(interval_s):
        now = _current(job)
        print(
            f"\rread {now.readings_read:,} readings, {now.dead_letters:,} dead letters"
            f" ... {time.monotonic() - started:5.0f} s",
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
    if args.progress_interval_s <= 0:
        raise CliError(f"--progress-interval-s {args.progress_interval_s}: must be positive")
    reset_progress()
    job: dict[str, PipelineResult] = {}
    started = time.monotonic()
    done = threading.Event()
    ticker = threading.Thread(
        target=_show_progress,
        args=(job, started, args.progress_interval_s, done),
        name="backfill-progress",
        daemon=True,
    )
    ticker.start()
    try:
        try:
            job["result"] = run(argv)
        except InputError as exc:
            raise CliError(str(exc)) from None
        job["result"].wait_until_finish()
    finally:
        done.set()
        ticker.join()
    elapsed = time.monotonic() - started
    counts = job_counts(job["result"])
    print(
        f"\rbackfilled {counts.readings_in:,} readings in {elapsed:.1f} s "
        f"({counts.readings_in / elapsed:,.0f} readings/s), "
        f"{counts.dead_letters:,} dead letters",
        file=sys.stderr,
    )
    for line in counts.lines():
        print(line)
    return 0
