"""Options of the streaming job and the backfill: one ``PipelineOptions`` subclass.

Every flag has a type, a default and help with its unit. :func:`validate_options`
checks them before anything is submitted, so a bad flag fails at once with a
message naming it, not minutes later inside a worker.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypeVar

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from beam.sources import parse_input

__all__ = ["StreamOptions", "parse_time", "validate_options"]

_SUBSCRIPTION = re.compile(r"^projects/[^/]+/subscriptions/[^/]+$")
_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")
_WAREHOUSE = re.compile(r"^(duckdb://.+|bigquery://[^/]+/[^/]+)$")
"""``duckdb:///abs/file.duckdb`` or ``duckdb://relative/file.duckdb`` (as
:func:`warehouse.open_warehouse` reads them), or a BigQuery dataset."""


_View = TypeVar("_View", bound=PipelineOptions)


class StreamOptions(PipelineOptions):  # type: ignore[misc]
    """Flags of ``dra-twin stream`` and ``dra-twin backfill`` (and of Dataflow jobs);
    ``run`` builds the job's options as this class, whose views are made once.

    Beam asks a pipeline's options for a view (``TypeOptions``, ``StandardOptions``,
    ...) once or twice for every transform it applies, and each view builds and runs
    an ``argparse`` parser of its class's flags: about 0.2 ms a time, some 120 of them
    building and starting the backfill (measured: half of building its graph). A view
    holds nothing of its own: it reads and writes the values it shares with these
    options (``_all_options``), and the flags it parses do not change, so one view
    per class answers every call alike. The views are not part of the options' state
    (a copy or an unpickled one makes its own).
    """

    def view_as(self, cls: type[_View]) -> _View:
        views: dict[type[PipelineOptions], Any] = self.__dict__.setdefault("_views", {})
        view = views.get(cls)
        if view is None:
            view = views[cls] = super().view_as(cls)
        return view  # type: ignore[no-any-return]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state

    @classmethod
    def _add_argparse_args(cls, parser: object) -> None:
        add = parser.add_argument  # type: ignore[attr-defined]
        add("--config", type=str, default=None, help="site config YAML (required)")
        add(
            "--subscription",
            type=str,
            default=None,
            help="streaming source: projects/P/subscriptions/S (readings with a 'ts' attribute)",
        )
        add(
            "--input",
            type=str,
            default=None,
            help=(
                "backfill source: glob of files (*.parquet: raw_readings exports; others "
                "JSONL, one payload per line), duckdb:///PATH.duckdb or "
                "bigquery://PROJECT/DATASET[/TABLE] (a raw_readings table)"
            ),
        )
        add(
            "--start",
            type=str,
            default=None,
            help="backfill: first source time to use, ISO 8601 with offset (inclusive)",
        )
        add(
            "--end",
            type=str,
            default=None,
            help="backfill: source time to stop at, ISO 8601 with offset (exclusive)",
        )
        add(
            "--warehouse",
            type=str,
            default=None,
            help="where rows land: duckdb:///PATH.duckdb or bigquery://PROJECT/DATASET (required)",
        )
        add(
            "--dead_letter_topic",
            type=str,
            default=None,
            help="streaming: also publish dead letters to projects/P/topics/T (default: none)",
        )
        add(
            "--spine_interval_s",
            type=int,
            default=0,
            help="time-spine grid, seconds (default 0: the site config's spine.interval_s)",
        )
        add(
            "--max_payload_bytes",
            type=int,
            default=65_536,
            help="messages larger than this many bytes are dead letters (default 65536)",
        )


def parse_time(text: str, flag: str) -> datetime:
    """An aware ISO 8601 time; ``ValueError`` naming the flag otherwise."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--{flag}: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"--{flag}: time {text!r} needs a UTC offset, e.g. +00:00")
    return value


def validate_options(options: PipelineOptions) -> None:
    """Check the flags before submitting.

    Raises:
        ValueError: every problem found, one per line, each naming its flag.
    """
    opts = options.view_as(StreamOptions)
    streaming = options.view_as(StandardOptions).streaming
    problems: list[str] = []
    if not opts.config:
        problems.append("--config is required")
    if not opts.warehouse:
        problems.append("--warehouse is required")
    elif not _WAREHOUSE.match(opts.warehouse):
        problems.append(
            f"--warehouse {opts.warehouse!r}: expected duckdb://PATH (duckdb:///abs/file.duckdb, "
            "duckdb://relative/file.duckdb) or bigquery://PROJECT/DATASET"
        )
    if bool(opts.subscription) == bool(opts.input):
        problems.append("give exactly one source: --subscription (streaming) or --input (backfill)")
    if opts.subscription and not _SUBSCRIPTION.match(opts.subscription):
        problems.append(
            f"--subscription {opts.subscription!r}: expected projects/P/subscriptions/S"
        )
    if opts.subscription and not streaming:
        problems.append("--subscription needs --streaming")
    if opts.input and streaming:
        problems.append("--input is a batch source: drop --streaming")
    if opts.input:
        try:
            parse_input(opts.input)
        except ValueError as exc:
            problems.append(str(exc))
    if opts.dead_letter_topic and not _TOPIC.match(opts.dead_letter_topic):
        problems.append(
            f"--dead_letter_topic {opts.dead_letter_topic!r}: expected projects/P/topics/T"
        )
    if opts.dead_letter_topic and not streaming:
        problems.append("--dead_letter_topic publishes from streaming jobs only")
    if opts.spine_interval_s < 0 or opts.spine_interval_s > 3600:
        problems.append(f"--spine_interval_s {opts.spine_interval_s}: expected 0..3600 s")
    if opts.max_payload_bytes <= 0:
        problems.append(f"--max_payload_bytes {opts.max_payload_bytes}: must be positive")
    times: dict[str, datetime] = {}
    for flag in ("start", "end"):
        text = getattr(opts, flag)
        if text is None:
            continue
        if not opts.input:
            problems.append(f"--{flag} applies to the backfill (--input) only")
        try:
            times[flag] = parse_time(text, flag)
        except ValueError as exc:
            problems.append(str(exc))
    if "start" in times and "end" in times and times["end"] <= times["start"]:
        problems.append("--end must be after --start")
    if problems:
        raise ValueError("\n".join(problems))
