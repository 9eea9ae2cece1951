"""The streaming job and the backfill: one graph, two sources.

``build_pipeline`` wires the stages and returns every named output, so tests can
swap the source and assert on each; ``write_outputs`` adds the sinks; ``run`` only
puts the two together. Streaming reads Pub/Sub with the event time taken from the
``ts`` attribute (the local runner's watermark follows the wall clock, so without
it readings would be judged by arrival time); the backfill reads JSONL files whose
lines are the same payloads. Both go through the same transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder
from apache_beam.io.gcp.pubsub import PubsubMessage, ReadFromPubSub
from apache_beam.io.textio import ReadFromText
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from beam.energy import EnergyRows
from beam.options import StreamOptions, parse_time, validate_options
from beam.readings import ParsedReadings
from beam.sinks import PublishDeadLetters, WriteToWarehouse
from beam.spine import TimeSpine
from schemas.site_config import SiteConfig, SpineConfig, load_site_config
from schemas.telemetry import TelemetryReading

__all__ = [
    "OUTPUTS",
    "TIMESTAMP_ATTRIBUTE",
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
"""The named PCollections ``build_pipeline`` returns."""

TIMESTAMP_ATTRIBUTE = "ts"
"""Pub/Sub attribute holding the reading's source time (set by the bridge)."""


class _ReadMessages(beam.PTransform):  # type: ignore[misc]
    """The configured source, as ``PubsubMessage``s (file lines get no attributes)."""

    def __init__(self, opts: StreamOptions) -> None:
        super().__init__()
        self._opts = opts

    def expand(self, p: beam.pvalue.PBegin) -> beam.PCollection[PubsubMessage]:
        if self._opts.subscription:
            return p | "ReadFromPubSub" >> ReadFromPubSub(
                subscription=self._opts.subscription,
                with_attributes=True,
                timestamp_attribute=TIMESTAMP_ATTRIBUTE,
            )
        return (
            p
            | "ReadFromText" >> ReadFromText(self._opts.input, coder=BytesCoder())
            | "AsMessage" >> beam.Map(lambda line: PubsubMessage(line, {}))
        )


def spine_config_of(config: SiteConfig, opts: StreamOptions) -> SpineConfig:
    """The site's spine settings, with the grid interval overridden when asked."""
    if opts.spine_interval_s:
        return config.spine.model_copy(update={"interval_s": opts.spine_interval_s})
    return config.spine


class _InRange:
    """True for a reading (or raw record) with ``start <= source_ts < end``."""

    def __init__(self, start: datetime | None, end: datetime | None) -> None:
        self._start = start
        self._end = end
        self._outside = Metrics.counter("readings", "out_of_range")

    def __call__(self, record: Any) -> bool:
        ts = record.source_ts
        inside = (self._start is None or ts >= self._start) and (
            self._end is None or ts < self._end
        )
        return bool(inside)

    def partition(self, record: Any, _n: int) -> int:
        if self(record):
            return 0
        self._outside.inc()
        return 1


def build_pipeline(
    p: beam.Pipeline,
    options: PipelineOptions,
    source: beam.PCollection[PubsubMessage] | None = None,
) -> dict[str, beam.PCollection]:
    """Wire every stage; return the PCollections named in :data:`OUTPUTS`.

    ``source`` replaces the configured source (tests pass a ``Create`` or a
    ``TestStream`` of ``PubsubMessage``). Readings outside ``--start``/``--end`` are
    set aside in ``out_of_range`` (counted, not written).
    """
    opts = options.view_as(StreamOptions)
    config = load_site_config(opts.config)
    messages = source if source is not None else p | "Read" >> _ReadMessages(opts)
    parsed = messages | "ParsedReadings" >> ParsedReadings(opts.max_payload_bytes)
    start = parse_time(opts.start, "start") if opts.start else None
    end = parse_time(opts.end, "end") if opts.end else None
    readings: beam.PCollection[TelemetryReading] = parsed["readings"]
    raw = parsed["raw"]
    out_of_range = p | "NoneOutOfRange" >> beam.Create([])
    if start is not None or end is not None:
        selected = _InRange(start, end)
        split = readings | "SelectRange" >> beam.Partition(selected.partition, 2)
        readings, out_of_range = split[0], split[1]
        raw = raw | "SelectRawRange" >> beam.Filter(selected)
    spine = readings | "TimeSpine" >> TimeSpine(spine_config_of(config, opts))
    energy = spine["spine"] | "EnergyRows" >> EnergyRows(config)
    dead_letters = (parsed["dead_letters"], spine["too_late"]) | "AllDeadLetters" >> beam.Flatten()
    return {
        "readings": readings,
        "raw": raw,
        "dead_letters": dead_letters,
        "out_of_range": out_of_range,
        "duplicates": spine["duplicates"],
        "too_late": spine["too_late"],
        "spine": spine["spine"],
        "energy": energy,
    }


def write_outputs(outputs: dict[str, beam.PCollection], options: PipelineOptions) -> None:
    """Raw readings, spine and energy rows and dead letters to the warehouse; dead
    letters also to their topic when one is given."""
    opts = options.view_as(StreamOptions)
    tables = {
        "raw_readings": outputs["raw"],
        "spine_points": outputs["spine"],
        "energy_rows": outputs["energy"],
        "dead_letters": outputs["dead_letters"],
    }
    _ = tables | "WriteToWarehouse" >> WriteToWarehouse(opts.warehouse)
    if opts.dead_letter_topic:
        _ = outputs["dead_letters"] | "PublishDeadLetters" >> PublishDeadLetters(
            opts.dead_letter_topic
        )


def run(argv: Sequence[str] | None = None) -> PipelineResult:
    """Validate the flags, build the graph with its sinks, start it; return the result."""
    options = PipelineOptions(list(argv) if argv is not None else None)
    validate_options(options)
    p = beam.Pipeline(options=options)
    write_outputs(build_pipeline(p, options), options)
    return p.run()
