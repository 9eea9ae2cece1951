"""Parsing and validation: every message is either a reading (with its raw record) or
a dead letter that keeps the exact bytes, attributes and the reason."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.pvalue import TaggedOutput
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from beam.batches import records_of
from beam.readings import TAG_DEAD_LETTER, TAG_RAW, ParsedReadings, ParseReadingFn
from schemas.dead_letter import DeadLetterStage
from tests.beam.conftest import reading


def _message(data: bytes, **attributes: str) -> PubsubMessage:
    return PubsubMessage(data, attributes, message_id="m-1")


def _outputs(data: bytes, max_payload_bytes: int = 65_536) -> list[object]:
    fn = ParseReadingFn(max_payload_bytes)
    fn.setup()
    return list(fn.process(_message(data, ts="2026-07-01T12:00:10Z")))


def test_valid_reading_is_stamped_at_source_time_with_its_raw_record() -> None:
    r = reading(10, 7)
    main, raw = _outputs(r.model_dump_json().encode())
    assert isinstance(main, TimestampedValue)
    assert main.value == r
    assert main.timestamp.micros == int(r.source_ts.timestamp() * 1e6)
    assert isinstance(raw, TaggedOutput) and raw.tag == TAG_RAW
    record = raw.value.value
    assert (record.skid_id, record.seq, record.message_id) == ("ATL-01", 7, "m-1")
    assert record.payload == r.model_dump_json()
    assert json.loads(record.attributes_json) == {"ts": "2026-07-01T12:00:10Z"}


@pytest.mark.parametrize(
    ("data", "stage", "error_part"),
    [
        (b"\xff\xfe not json", DeadLetterStage.DECODE, "Invalid JSON"),
        (b'{"skid_id": "ATL-01"', DeadLetterStage.DECODE, "Invalid JSON"),
        (
            reading(0, 1).model_dump_json().replace("50000.0", "-9999.0").encode(),
            DeadLetterStage.VALIDATE,
            "line_flow_bph",
        ),
        (
            reading(0, 1).model_dump_json().replace("+00:00", "").replace("Z", "").encode(),
            DeadLetterStage.VALIDATE,
            "source_ts",
        ),
        (b'{"skid_id": "ATL-01", "seq": 1}', DeadLetterStage.VALIDATE, "source_ts"),
    ],
)
def test_bad_message_becomes_dead_letter_with_exact_bytes(
    data: bytes, stage: DeadLetterStage, error_part: str
) -> None:
    (out,) = _outputs(data)
    assert isinstance(out, TaggedOutput) and out.tag == TAG_DEAD_LETTER
    letter = out.value
    assert letter.stage == stage
    assert error_part in letter.error
    assert letter.raw_payload == data
    assert letter.message_id == "m-1"
    assert json.loads(letter.attributes_json)["ts"] == "2026-07-01T12:00:10Z"


def test_oversize_payload_is_dead_lettered_before_parsing() -> None:
    data = reading(0, 1).model_dump_json().encode()
    (out,) = _outputs(data, max_payload_bytes=100)
    assert out.value.stage == DeadLetterStage.OVERSIZE
    assert out.value.skid_id == "ATL-01"


def test_parsed_readings_counts_in_equal_counts_out() -> None:
    good = [reading(i, i).model_dump_json().encode() for i in range(5)]
    bad = [b"garbage", b"{}", b'{"skid_id": "ATL-01", "seq": -1}']
    with TestPipeline(runner="BundleBasedDirectRunner") as p:
        out = p | beam.Create([PubsubMessage(d, {}) for d in good + bad]) | ParsedReadings()
        readings = out["readings"] | "Readings" >> beam.FlatMap(records_of)
        assert_that(readings | beam.Map(lambda r: r.seq), equal_to(list(range(5))))
        assert_that(
            out["raw"] | "Raw" >> beam.FlatMap(records_of) | "RawSeq" >> beam.Map(lambda r: r.seq),
            equal_to(list(range(5))),
            label="Raw",
        )
        assert_that(
            out["dead_letters"] | beam.Map(lambda d: d.raw_payload), equal_to(bad), label="Dead"
        )
