"""The streaming job and the backfill: one graph, two sources.

``build_pipeline`` wires the stages and returns every named output, so tests can
swap the source and assert on each; ``write_outputs`` adds the sinks; ``run`` only
puts the two together. Streaming reads Pub/Sub with the event time taken from the
``ts`` attribute (the local runner's watermark follows the wall clock, so without
it readings would be judged by arrival time); the backfill reads JSONL files whose
lines are the same payloads, in batches of lines, or replays ``raw_readings`` rows
from Parquet exports, the DuckDB warehouse or BigQuery (:mod:`beam.sources`). Both go
through the same transforms, which on bounded input pass column batches
(:mod:`beam.batches`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp.pubsub import PubsubMessage, ReadFromPubSub
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import TaggedOutput
from apache_beam.runners.runner import PipelineResult

from beam.batches import MessageBatch, ReadingBatch, RowBatch
from beam.dofn_signatures import SignatureCachedDoFn
from beam.energy import EnergyRows
from beam.lines import BLOCK_BYTES, line_batches
from beam.options import StreamOptions, parse_time, validate_options
from beam.readings import ParsedReadings
from beam.sinks import PublishDeadLetters, WriteToWarehouse, open_warehouse_early
from beam.sources import (
    FilesInput,
    ReadRawReadings,
    check_input,
    is_parquet,
    matching_files,
    parquet_batches,
    parse_input,
)
from beam.spine import TimeSpine
from beam.warehouse_buffer import warehouse_buffer
from bridge.attributes import ATTR_TS
from schemas.site_config import SiteConfig, SpineConfig, load_site_config
from schemas.telemetry import TelemetryReading
from warehouse.url import canonical_url

__all__ = [
    "OUTPUTS",
    "build_pipeline",
    "run",
    "spine_config_of",
    "write_outputs",
]

OUTPUTS: tuple[str, ...] = (
    "readings",
    "raw",
    "dead_letters",
    "out_of_range",
    "duplicates",
    "too_late",
    "spine",
    "energy",
)
"""The named PCollections ``build_pipeline`` returns (streaming: all but
``out_of_range``, and to a local warehouse with no dead-letter topic also not
``dead_letters``; see :func:`_build_streaming`). ``dead_letters`` holds every dead
letter in streaming; in batch, the parsing's, and ``too_late`` (always empty there:
the spine has all its input before it computes) is written beside them."""


class _ReadMessages(beam.PTransform):  # type: ignore[misc]
    """The configured source: ``PubsubMessage``s from Pub/Sub; for the backfill,
    ``MessageBatch``es of file lines (which have no attributes) or of replayed
    ``raw_readings`` rows (:mod:`beam.sources`)."""

    def __init__(self, opts: StreamOptions) -> None:
        super().__init__()
        self._opts = opts

    def expand(self, p: beam.pvalue.PBegin) -> beam.PCollection[PubsubMessage]:
        if self._opts.subscription:
            return p | "ReadFromPubSub" >> ReadFromPubSub(
                subscription=self._opts.subscription,
                with_attributes=True,
                timestamp_attribute=ATTR_TS,
            )
        source = parse_input(self._opts.input)
        start = parse_time(self._opts.start, "start") if self._opts.start else None
        end = parse_time(self._opts.end, "end") if self._opts.end else None
        if isinstance(source, FilesInput):
            # Impulse, not Create: one transform where Create is three (each costs the
            # runner a few milliseconds to plan and run).
            return (
                p
                | "Impulse" >> beam.Impulse()
                | "MatchFiles" >> beam.FlatMap(_files_matching, source.pattern)
                | "ReadFiles"
                >> beam.ParDo(_ReadFileBatchesFn(start, end)).with_output_types(MessageBatch)
            )
        return p | "ReadRawReadings" >> ReadRawReadings(source, start, end)


def _files_matching(_: bytes, pattern: str) -> list[str]:
    return matching_files(pattern)


class _ReadFileBatchesFn(SignatureCachedDoFn):
    """A backfill file -> :class:`MessageBatch` elements: a Parquet export of
    ``raw_readings`` by its rows (row groups outside ``[start, end)`` skipped), any
    other file by its lines."""

    def __init__(self, start: datetime | None, end: datetime | None) -> None:
        self._start = start
        self._end = end
        self._lines = _ReadLineBatchesFn(_LINES_PER_BATCH)

    def process(self, path: str) -> Iterator[MessageBatch]:
        if is_parquet(path):
            yield from parquet_batches(path, self._start, self._end)
        else:
            yield from self._lines.process(path)


_LINES_PER_BATCH = 10_000
"""Lines per :class:`MessageBatch` read from a backfill file (a few MB)."""


class _ReadLineBatchesFn(SignatureCachedDoFn):
    """A file -> its lines as :class:`MessageBatch` elements, ``batch_lines`` each.

    Files are read whole by one worker each (no split within a file): what the local
    runner does anyway, and a backfill's input is many daily or hourly files.

    Lines are split as ``ReadFromText`` splits them, ``block_bytes`` of the file at a
    time, into one buffer and offsets per batch (:mod:`beam.lines`); compressed files
    are read by their extension. One element per line would cost the runner as much
    as all the parsing does.
    """

    def __init__(self, batch_lines: int, block_bytes: int = BLOCK_BYTES) -> None:
        self._batch_lines = batch_lines
        self._block_bytes = block_bytes

    def process(self, path: str) -> Iterator[MessageBatch]:
        with FileSystems.open(path) as fh:
            for lines in line_batches(fh, self._batch_lines, self._block_bytes):
                yield MessageBatch(lines)


def spine_config_of(config: SiteConfig, opts: StreamOptions) -> SpineConfig:
    """The site's spine settings, with the grid interval overridden when asked."""
    if opts.spine_interval_s:
        return config.spine.model_copy(update={"interval_s": opts.spine_interval_s})
    return config.spine


class _InRange:
    """Backfill: splits batches by ``start <= source_ts < end`` (``--start``/``--end``
    apply to a bounded source only; :func:`validate_options` refuses them otherwise)."""

    def __init__(self, start: datetime | None, end: datetime | None) -> None:
        self._start = start
        self._end = end
        self._outside = Metrics.counter("readings", "out_of_range")

    def split(self, batch: ReadingBatch) -> Iterator[Any]:
        """Batch: the readings inside (main) and those outside (``out_of_range``)."""
        ts_s = batch.columns.ts_s
        inside = np.ones(len(batch), dtype=bool)
        if self._start is not None:
            inside &= ts_s >= self._start.timestamp()
        if self._end is not None:
            inside &= ts_s < self._end.timestamp()
        if not inside.all():
            self._outside.inc(int((~inside).sum()))
            yield TaggedOutput("out_of_range", batch.take(~inside))
        if inside.any():
            yield batch if inside.all() else batch.take(inside)

    def raw_rows(self, raw: RowBatch) -> Iterator[RowBatch]:
        """Batch: the raw rows inside the range."""
        ts = raw.arrow.column("source_ts")
        keep = pa.array(np.ones(len(raw), dtype=bool))
        if self._start is not None:
            keep = pc.and_(keep, pc.greater_equal(ts, pa.scalar(self._start, ts.type)))
        if self._end is not None:
            keep = pc.and_(keep, pc.less(ts, pa.scalar(self._end, ts.type)))
        selected = raw.arrow.filter(keep)
        if selected.num_rows:
            yield RowBatch(raw.table, selected)


def build_pipeline(
    p: beam.Pipeline,
    options: PipelineOptions,
    source: beam.PCollection[PubsubMessage] | None = None,
) -> dict[str, beam.PCollection]:
    """Wire every stage; return the PCollections named in :data:`OUTPUTS`.

    ``source`` replaces the configured source (tests pass a ``Create`` or a
    ``TestStream`` of ``PubsubMessage``). Readings outside ``--start``/``--end`` are
    set aside in ``out_of_range`` (counted, not written). On bounded input the
    readings, raw, spine and energy outputs hold batches (:mod:`beam.batches`), and
    ``dead_letters`` are the parsing's: no Flatten with the (batch: empty) ``too_late``,
    which on the runner would be a stage of its own, ~10 ms of a skid-week's backfill;
    :func:`write_outputs` writes both. On unbounded input see :func:`_build_streaming`
    (to a local warehouse, the stages write their rows themselves).
    """
    opts = options.view_as(StreamOptions)
    config = load_site_config(opts.config)
    messages = source if source is not None else p | "Read" >> _ReadMessages(opts)
    if not messages.is_bounded:
        return _build_streaming(opts, config, messages)
    parsed = messages | "ParsedReadings" >> ParsedReadings(opts.max_payload_bytes)
    start = parse_time(opts.start, "start") if opts.start else None
    end = parse_time(opts.end, "end") if opts.end else None
    readings: beam.PCollection[TelemetryReading] = parsed["readings"]
    raw = parsed["raw"]
    parse_dead_letters = parsed["dead_letters"]
    # Also without a range: a pass-through fused with the parsing, cheaper than
    # an empty source for out_of_range (one more stage for the runner to run).
    selected = _InRange(start, end)
    split = readings | "SelectRange" >> beam.FlatMap(selected.split).with_output_types(
        ReadingBatch, out_of_range=ReadingBatch
    ).with_outputs("out_of_range", main="inside")
    readings, out_of_range = split.inside, split.out_of_range
    if start is not None or end is not None:
        raw = raw | "SelectRawRange" >> beam.FlatMap(selected.raw_rows).with_output_types(RowBatch)
    spine = readings | "TimeSpine" >> TimeSpine(spine_config_of(config, opts))
    energy = spine["spine"] | "EnergyRows" >> EnergyRows(config)
    return {
        "readings": readings,
        "raw": raw,
        "dead_letters": parse_dead_letters,
        "out_of_range": out_of_range,
        "duplicates": spine["duplicates"],
        "too_late": spine["too_late"],
        "spine": spine["spine"],
        "energy": energy,
    }


def _build_streaming(
    opts: StreamOptions,
    config: SiteConfig,
    messages: beam.PCollection[PubsubMessage],
) -> dict[str, beam.PCollection]:
    """Unbounded input: the same transforms in fewer stages.

    The local streaming runner runs each stage's bundles one at a time on the thread
    that also pulls from Pub/Sub, a few milliseconds each whether empty or not, and
    every stage consuming an output gets a bundle per producer bundle. So the parsing
    also groups readings per skid and bundle (output ``readings`` holds ``(skid_id,
    readings)``), the spine's stateful DoFn (which may then fire in the same bundle)
    also computes the energy rows, and, to a local DuckDB warehouse, both write their
    rows there themselves: the graph is the read and two stages. The per-table
    outputs are still there: they feed BigQuery, the dead-letter topic and the tests;
    ``dead_letters`` (a Flatten, a stage of its own) only when something reads it.
    There is no ``out_of_range``: a range selects from a bounded source only.
    """
    if opts.start or opts.end:
        raise ValueError("--start/--end select from a bounded source (--input) only")
    local_url = opts.warehouse if _stages_write(opts, bounded=False) else None
    parsed = messages | "ParsedReadings" >> ParsedReadings(opts.max_payload_bytes, local_url)
    spine = parsed["readings"] | "TimeSpine" >> TimeSpine(
        spine_config_of(config, opts),
        keyed_by_skid=True,
        energy_config=config,
        warehouse_url=local_url,
    )
    outputs = {
        "readings": parsed["readings"],
        "raw": parsed["raw"],
        "duplicates": spine["duplicates"],
        "too_late": spine["too_late"],
        "spine": spine["spine"],
        "energy": spine["energy"],
    }
    if local_url is None or opts.dead_letter_topic:
        outputs["dead_letters"] = (
            parsed["dead_letters"],
            spine["too_late"],
        ) | "AllDeadLetters" >> beam.Flatten()
    return outputs


def _stages_write(opts: StreamOptions, *, bounded: bool) -> bool:
    """Whether the stages write the rows themselves (streaming to a local warehouse),
    so that :func:`write_outputs` adds no sink for them."""
    return not bounded and opts.warehouse.startswith("duckdb://")


def write_outputs(outputs: dict[str, beam.PCollection], options: PipelineOptions) -> None:
    """Raw readings, spine and energy rows and dead letters to the warehouse; dead
    letters also to their topic when one is given. In batch the too-late readings
    (none: see :data:`OUTPUTS`) go to the dead-letter table by a sink of their own."""
    opts = options.view_as(StreamOptions)
    bounded = outputs["raw"].is_bounded
    if not _stages_write(opts, bounded=bounded):
        letters = outputs["dead_letters"]
        tables = {
            "raw_readings": outputs["raw"],
            "spine_points": outputs["spine"],
            "energy_rows": outputs["energy"],
            "dead_letters": (letters, outputs["too_late"]) if bounded else letters,
        }
        _ = tables | "WriteToWarehouse" >> WriteToWarehouse(opts.warehouse)
    if opts.dead_letter_topic:
        _ = outputs["dead_letters"] | "PublishDeadLetters" >> PublishDeadLetters(
            opts.dead_letter_topic
        )


def run(argv: Sequence[str] | None = None) -> PipelineResult:
    """Validate the flags and the backfill's input (:func:`beam.sources.check_input`:
    files there, Parquet of the right layout), build the graph with its sinks, start
    it; return the result. A local warehouse the streaming stages write is opened
    (its tables created) first, so that the first commit does not hold up the first
    bundles; a backfill's is opened on a thread while Beam plans the job
    (:func:`beam.sinks.open_warehouse_early`)."""
    options = StreamOptions(list(argv) if argv is not None else None)
    validate_options(options)
    options.warehouse = canonical_url(options.warehouse)
    if options.input:
        check_input(parse_input(options.input), options.warehouse)
        if options.warehouse.startswith("duckdb://"):
            open_warehouse_early(options.warehouse)
    elif _stages_write(options, bounded=False):
        warehouse_buffer(options.warehouse).open()
    p = beam.Pipeline(options=options)
    write_outputs(build_pipeline(p, options), options)
    # No round trip of the graph through its protobuf form first: Beam makes it only
    # to check that the graph survives one, for runners that do not need it (the local
    # streaming runner: 25-30 ms of every start). The runner still pickles every DoFn.
    return p.run(test_runner_api=False)
