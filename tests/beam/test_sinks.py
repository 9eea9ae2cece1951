"""Sinks: the dead-letter message keeps the exact bytes and says why; tables are checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.portability.common_urns import primitives

from beam.sinks import WriteToWarehouse, dead_letter_message
from schemas.dead_letter import DeadLetter, DeadLetterStage
from warehouse import open_warehouse

FLATTEN_URN = primitives.FLATTEN.urn


def test_dead_letter_message_keeps_bytes_and_reason() -> None:
    letter = DeadLetter(
        received_ts=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        stage=DeadLetterStage.VALIDATE,
        error="line_flow_bph: Input should be greater than or equal to 0",
        raw_payload=b'{"line_flow_bph": -9999}\xff',
        attributes_json=json.dumps({"ts": "2026-07-01T12:00:00Z"}),
        message_id="42",
        skid_id="ATL-01",
    )
    message = dead_letter_message(letter)
    assert message.data == b'{"line_flow_bph": -9999}\xff'
    assert message.attributes == {
        "stage": "VALIDATE",
        "error": "line_flow_bph: Input should be greater than or equal to 0",
        "received_ts": "2026-07-01T12:00:00+00:00",
        "source_attributes": '{"ts": "2026-07-01T12:00:00Z"}',
        "skid_id": "ATL-01",
        "message_id": "42",
    }


def test_dead_letter_message_attributes_fit_pubsub_limits() -> None:
    letter = DeadLetter(
        received_ts=datetime(2026, 7, 1, tzinfo=UTC),
        stage=DeadLetterStage.DECODE,
        error="é" * 4000,
        raw_payload=b"garbage",
        attributes_json=json.dumps({"k": "v" * 3000}),
    )
    attributes = dead_letter_message(letter).attributes
    assert all(len(v.encode()) <= 1024 for v in attributes.values())
    assert "skid_id" not in attributes and "message_id" not in attributes


def test_unknown_table_is_refused_when_the_graph_is_built() -> None:
    p = beam.Pipeline()
    spine = p | beam.Create([])
    with pytest.raises(KeyError, match=r"unknown table\(s\) \['spine'\]"):
        _ = {"spine": spine} | WriteToWarehouse("duckdb:///x.duckdb")


def _letter(payload: bytes) -> DeadLetter:
    return DeadLetter(
        received_ts=datetime(2026, 7, 1, tzinfo=UTC),
        stage=DeadLetterStage.DECODE,
        error="not JSON",
        raw_payload=payload,
    )


def test_a_table_given_as_several_collections_gets_all_of_them(tmp_path: Path) -> None:
    """The backfill writes the parsing's dead letters and the spine's too-late ones
    to one table, each by a sink of its own (no Flatten, which would be a stage)."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    with beam.Pipeline(runner="FnApiRunner") as p:
        parsed = p | "Parsed" >> beam.Create([_letter(b"a"), _letter(b"b")])
        late = p | "Late" >> beam.Create([_letter(b"c")])
        _ = {"dead_letters": (parsed, late)} | WriteToWarehouse(url)
    transforms = p.to_runner_api().components.transforms.values()
    flattens = [t.unique_name for t in transforms if t.spec.urn == FLATTEN_URN]
    # The one Flatten gathers the sinks' counts of rows for the last stage, not rows.
    assert [name.rsplit("/", 1)[-1] for name in flattens] == ["RowsHandedOver"]
    rows = open_warehouse(url).query("SELECT raw_payload FROM dead_letters ORDER BY raw_payload")
    assert [r["raw_payload"] for r in rows] == [b"a", b"b", b"c"]
