"""``dra-twin stream``: the streaming job, Pub/Sub -> spine and energy -> warehouse."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

from beam.counts import landed_counts
from beam.options import validate_options
from beam.pipeline import run
from beam.warehouse_buffer import flush_warehouse_buffers
from cli.errors import CliError
from warehouse import WarehouseError, shared_warehouse

__all__ = ["add_job_args", "beam_argv", "register"]

_TERMINAL = {PipelineState.DONE, PipelineState.FAILED, PipelineState.CANCELLED}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "stream",
        help="run the streaming job (Pub/Sub -> time spine, energy -> warehouse)",
        description=(
            "Read telemetry from a Pub/Sub subscription (event time from the 'ts' "
            "attribute), validate, de-duplicate, build the time spine and energy rows "
            "and write them, the raw readings and the dead letters to the warehouse. "
            "Runs until Ctrl-C or --duration-s, then prints what it counted."
        ),
    )
    add_job_args(p, "BundleBasedDirectRunner", "the local streaming runner")
    p.add_argument("--subscription", required=True, help="projects/P/subscriptions/S")
    p.add_argument("--dead-letter-topic", default=None, help="also publish dead letters here")
    p.add_argument(
        "--duration-s",
        type=float,
        default=0.0,
        help="stop after this many seconds (default 0: run until Ctrl-C)",
    )
    p.set_defaults(func=_run)


def add_job_args(p: argparse.ArgumentParser, runner: str, runner_help: str) -> None:
    """The arguments ``stream`` and ``backfill`` share (read back by :func:`beam_argv`)."""
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument(
        "--warehouse", required=True, help="duckdb://PATH.duckdb or bigquery://PROJECT/DATASET"
    )
    p.add_argument(
        "--runner", default=runner, help=f"Beam runner (default {runner}, {runner_help})"
    )
    p.add_argument(
        "--spine-interval-s", type=int, default=0, help="grid, s (default: the config's)"
    )
    p.add_argument(
        "--beam-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra pipeline option, e.g. project=P or temp_location=gs://B/tmp (repeat)",
    )


def beam_argv(args: argparse.Namespace, streaming: bool) -> list[str]:
    """Pipeline flags from the subcommand's arguments (shared with ``backfill``)."""
    argv = [
        f"--config={args.config}",
        f"--warehouse={args.warehouse}",
        f"--runner={args.runner}",
        f"--spine_interval_s={args.spine_interval_s}",
    ]
    if streaming:
        argv.append("--streaming")
    for option in args.beam_option:
        if "=" not in option:
            raise CliError(f"--beam-option {option!r}: expected NAME=VALUE")
        argv.append(f"--{option}")
    return argv


def _run(args: argparse.Namespace) -> int:
    argv = [*beam_argv(args, streaming=True), f"--subscription={args.subscription}"]
    if args.dead_letter_topic:
        argv.append(f"--dead_letter_topic={args.dead_letter_topic}")
    try:
        validate_options(PipelineOptions(argv))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    started_at = datetime.now(UTC)
    result = run(argv)
    print(f"streaming from {args.subscription} to {args.warehouse}; Ctrl-C stops", flush=True)
    started = time.monotonic()
    try:
        while result.state not in _TERMINAL:
            if args.duration_s and time.monotonic() - started >= args.duration_s:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping ...", file=sys.stderr, flush=True)
    if result.state not in _TERMINAL:
        result.cancel()
    # The local DuckDB sink commits across bundles: land what it still holds.
    try:
        flush_warehouse_buffers()
    except WarehouseError as exc:
        raise CliError(f"the job's last rows were not written: {exc}", exit_code=1) from None
    print(f"landed in {args.warehouse} since {started_at:%Y-%m-%d %H:%M:%S} UTC:")
    # The job's own handle: a second one would make its writer let go of the file.
    for line in landed_counts(shared_warehouse(args.warehouse), started_at).lines():
        print(line)
    if result.state == PipelineState.FAILED:
        raise CliError("the streaming job failed (see the log above)", exit_code=1)
    return 0
