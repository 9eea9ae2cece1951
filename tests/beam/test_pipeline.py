"""The whole graph in batch on simulated telemetry with transport faults: every
message is accounted for exactly once, and the spine has one row per grid point."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to

from beam.batches import records_of
from beam.options import validate_options
from beam.pipeline import OUTPUTS, build_pipeline, write_outputs
from schemas.site_config import SiteConfig
from tests.beam.conftest import T0, is_valid_reading, simulate_transport_faults
from tests.conftest import REFERENCE_CONFIG
from twin.simulator import FaultKind

START = T0


def _faulty_simulation(config: SiteConfig, minutes: int = 20) -> list[bytes]:
    faults = {
        FaultKind.DUPLICATE: (2, 4),
        FaultKind.OUT_OF_ORDER: (5, 7),
        FaultKind.MALFORMED: (8, 9),
    }
    return [m.payload for m in simulate_transport_faults(config, START, minutes, 7, faults)]


def _options(*extra: str) -> PipelineOptions:
    return PipelineOptions(
        [f"--config={REFERENCE_CONFIG}", "--input=unused", "--warehouse=duckdb:///x.duckdb", *extra]
    )


def test_every_message_is_used_duplicated_or_dead_lettered(site_config: SiteConfig) -> None:
    payloads = _faulty_simulation(site_config)
    distinct = set(payloads)
    copies = Counter(payloads)
    expected_duplicates = sum(n - 1 for n in copies.values())
    assert expected_duplicates > 0
    with TestPipeline(runner="FnApiRunner") as p:
        source = p | beam.Create([PubsubMessage(d, {}) for d in payloads])
        batched = build_pipeline(p, _options(), source=source)
        assert tuple(batched) == OUTPUTS
        # Bounded input: readings, raw, spine and energy come as column batches.
        out = {name: batched[name] | f"Rows{name}" >> beam.FlatMap(records_of) for name in OUTPUTS}
        counts = {
            name: out[name] | f"Count{name}" >> beam.combiners.Count.Globally()
            for name in (
                "readings",
                "raw",
                "dead_letters",
                "duplicates",
                "too_late",
                "out_of_range",
            )
        }
        merged = [
            counts[n] | f"Tag{n}" >> beam.Map(lambda c, n=n: (n, c)) for n in counts
        ] | beam.Flatten()

        def check(pairs: list[tuple[str, int]]) -> None:
            got = dict(pairs)
            assert got["too_late"] == 0 and got["out_of_range"] == 0
            assert got["raw"] == got["readings"]
            assert got["duplicates"] == expected_duplicates
            distinct_used = got["readings"] - got["duplicates"]
            assert distinct_used == sum(1 for d in distinct if is_valid_reading(d))
            assert got["dead_letters"] == sum(1 for d in payloads if not is_valid_reading(d)) > 0
            # readings in = distinct readings used + duplicates + dead letters, exactly
            assert distinct_used + got["duplicates"] + got["dead_letters"] == len(payloads)

        assert_that(merged, check)
        # One spine row per grid point (batch sees everything: revision 0 only).
        grid = out["spine"] | beam.Map(lambda s: (s.grid_ts, s.revision))
        minutes = [(START + timedelta(minutes=m), 0) for m in range(20 + 60)]
        assert_that(grid, equal_to(minutes), label="OneRowPerPoint")
        assert_that(
            out["energy"] | "EnergyKeys" >> beam.Map(lambda e: (e.grid_ts, e.revision)),
            equal_to(minutes),
            label="OneEnergyRowPerPoint",
        )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--warehouse=duckdb:///x.duckdb", "--input=f"], "--config is required"),
        (["--config=c", "--input=f"], "--warehouse is required"),
        (["--config=c", "--warehouse=sqlite:///x", "--input=f"], "--warehouse 'sqlite:///x'"),
        (["--config=c", "--warehouse=duckdb:///x"], "give exactly one source"),
        (
            ["--config=c", "--warehouse=duckdb:///x", "--subscription=projects/p/subscriptions/s"],
            "--subscription needs --streaming",
        ),
        (
            ["--config=c", "--warehouse=duckdb:///x", "--input=f", "--start=2026-07-01T00:00:00"],
            "needs a UTC offset",
        ),
        (
            [
                "--config=c",
                "--warehouse=duckdb:///x",
                "--input=f",
                "--start=2026-07-02T00:00:00+00:00",
                "--end=2026-07-01T00:00:00+00:00",
            ],
            "--end must be after --start",
        ),
        (
            ["--config=c", "--warehouse=duckdb:///x", "--streaming", "--subscription=topic-name"],
            "expected projects/P/subscriptions/S",
        ),
    ],
)
def test_bad_flags_are_refused_before_submitting(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")):
        validate_options(PipelineOptions(argv))


def test_production_graph_writes_bigquery_and_the_dead_letter_topic() -> None:
    """The Dataflow graph (BigQuery warehouse, DLQ topic) builds; labels name its sinks."""
    options = PipelineOptions(
        [
            f"--config={REFERENCE_CONFIG}",
            "--subscription=projects/my-project/subscriptions/telemetry",
            "--warehouse=bigquery://my-project/dra_twin",
            "--dead_letter_topic=projects/my-project/topics/dead-letter",
            "--streaming",
        ]
    )
    validate_options(options)
    p = beam.Pipeline(options=options)
    write_outputs(build_pipeline(p, options), options)
    labels = {t.unique_name for t in p.to_runner_api().components.transforms.values()}
    for table in ("raw_readings", "spine_points", "energy_rows", "dead_letters"):
        assert f"WriteToWarehouse/{table}/WriteToBigQuery" in labels
    assert "PublishDeadLetters/ToTopic" in labels
    assert "Read/ReadFromPubSub" in labels


def test_a_range_on_an_unbounded_source_is_refused() -> None:
    """``--start``/``--end`` select from files; a stream with a range would ignore it."""
    p = beam.Pipeline()
    stream = p | TestStream().add_elements([PubsubMessage(b"{}", {})])
    with pytest.raises(ValueError, match="bounded source"):
        build_pipeline(p, _options("--start=2026-07-01T00:00:00+00:00"), source=stream)


def test_local_streaming_graph_is_the_read_and_two_stages() -> None:
    """To a local warehouse the parsing and the spine write their own rows: on the
    local runner every further stage (a sink, a Flatten) would cost a bundle per pull
    on the thread that pulls. With a dead-letter topic the Flatten and publisher
    come back."""

    def transforms(*extra: str) -> set[str]:
        options = PipelineOptions(
            [
                f"--config={REFERENCE_CONFIG}",
                "--subscription=projects/local-project/subscriptions/telemetry",
                "--warehouse=duckdb:///unused.duckdb",
                "--streaming",
                *extra,
            ]
        )
        p = beam.Pipeline(options=options)
        write_outputs(build_pipeline(p, options), options)
        components = p.to_runner_api().components.transforms.values()
        return {t.unique_name for t in components if not t.subtransforms}

    leaves = transforms()
    assert "Read/ReadFromPubSub/Read" in leaves  # the local runner replaces the whole read
    assert {name for name in leaves if not name.startswith("Read/")} == {
        "ParsedReadings/Parse/ParDo(ParseReadingFn)",
        "TimeSpine/Spine/ParDo(SpineFn)",
    }
    with_topic = transforms("--dead_letter_topic=projects/local-project/topics/dead-letters")
    assert "AllDeadLetters" in with_topic
    assert any(name.startswith("PublishDeadLetters/") for name in with_topic)
