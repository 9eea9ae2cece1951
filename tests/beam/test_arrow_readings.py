"""The Arrow fast path against pydantic, the contract's own validator.

Independent truth: :meth:`TelemetryReading.model_validate_json` (the streaming path's
validator). The fast path may leave any payload to pydantic, but what it accepts
pydantic must accept, with bit-for-bit the same values. Payloads are generated at the
level of JSON tokens, so that they carry what ``json.dumps`` never writes: duplicate
keys, ``-0``, ``3.0`` for an integer, exponents, odd whitespace, two objects on a
line, control characters, every spelling of a time.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError

from beam.arrow_readings import FastReadings, _plain, checks_of, read_valid_readings
from beam.batches import ReadingBatch
from beam.lines import line_batches
from schemas.site_config import SiteConfig
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from tests.beam.conftest import T0
from twin.simulator import SimulationSpec, simulate

_MAX_BYTES = 2_000


def _pydantic(payload: bytes) -> TelemetryReading | None:
    try:
        return TelemetryReading.model_validate_json(payload)
    except ValidationError:
        return None


def _row(batch: ReadingBatch, i: int) -> tuple[Any, ...]:
    """Row ``i`` with every float as its exact repr (so -0.0 differs from 0.0)."""
    cols = batch.columns
    return (
        batch.skid_id[i],
        repr(float(cols.ts_s[i])),
        int(cols.seq[i]),
        [None if math.isnan(v) else repr(v) for v in cols.values[i].tolist()],
        cols.product_code[i],
        cols.batch_id[i],
    )


def _check_against_pydantic(payloads: list[bytes]) -> int:
    """Assert the fast path's contract on ``payloads``; the number it accepted."""
    fast = read_valid_readings(payloads, _MAX_BYTES)
    assert sorted(fast.index + fast.rest) == list(range(len(payloads)))
    assert fast.rest == sorted(fast.rest)
    assert len(fast.readings) == len(fast.index) == len(fast.source_ts)
    for k, i in enumerate(fast.index):
        model = _pydantic(payloads[i])
        assert model is not None, f"fast path accepted what pydantic refuses: {payloads[i]!r}"
        assert _row(fast.readings, k) == _row(ReadingBatch.of([model]), 0), payloads[i]
        assert fast.source_ts[k].as_py() == model.source_ts
    return len(fast.index)


# -- token-level payload generation ---------------------------------------------------

_GOOD: dict[str, str] = {
    "skid_id": '"ATL-01"',
    "source_ts": '"2026-07-01T12:00:00Z"',
    "seq": "7",
    "product_code": '"ULSD"',
    "batch_id": '"B1"',
    "line_flow_bph": "50000.0",
    "suction_psig": "40.5",
    "discharge_psig": "700",
    "temperature_degf": "60.25",
    "pumps_running": "3",
    "injection_pump_running": "true",
}

_times = st.one_of(
    st.builds(
        lambda y, mo, d, h, mi, s, frac, zone, sep: (
            f'"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"'
        ),
        st.sampled_from([1, 1899, 1900, 1970, 2026, 2199, 2200, 9999]),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 60),
        st.integers(0, 61),
        st.sampled_from(["", ".5", ".123456", ".1234567", ".000000001"]),
        st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+05:30", "-04:00", "+24:00", "+0530"]),
        st.sampled_from(["T", "t", " "]),
    ),
    st.sampled_from(['"2026-07-01"', "1782907200", "1782907200.5", '""', "null"]),
)

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        [
            "-0",
            "-0.0",
            "0",
            "3.0",
            "1e2",
            "1E+2",
            "2.5e-3",
            "1e400",
            "1e-400",
            "NaN",
            "Infinity",
            "-Infinity",
            "01",
            ".5",
            "5.",
            "+1",
            '"1.5"',
            "true",
            "null",
            "[]",
            "{}",
        ]
    ),
)

_strings = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=70).map(
        lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'
    ),
    st.sampled_from(['"ATL-01"', '"A\\u0054L"', '"\u00e9"', '"a\tb"', "7", "null", '""']),
)

_values: dict[str, st.SearchStrategy[str]] = {
    "skid_id": _strings,
    "source_ts": _times,
    "seq": _numbers,
    "product_code": _strings,
    "batch_id": _strings,
    "line_flow_bph": _numbers,
    "suction_psig": _numbers,
    "dra_tank_level_gal": _numbers,
    "pumps_running": _numbers,
    "injection_pump_running": st.sampled_from(["true", "false", "null", "1", "0", '"true"']),
    "unknown": st.just("1"),
}


@st.composite
def _payload(draw: st.DrawFn) -> bytes:
    members = dict(_GOOD)
    for key in draw(st.lists(st.sampled_from(sorted(_values)), max_size=4)):
        members[key] = draw(_values[key])
    for key in draw(st.lists(st.sampled_from(sorted(_GOOD)), max_size=1)):
        del members[key]
    pairs = [f'"{k}":{v}' for k, v in members.items()]
    if draw(st.booleans()) and pairs:  # a key twice
        pairs.append(pairs[draw(st.integers(0, len(pairs) - 1))])
    space = draw(st.sampled_from(["", " ", "\t", "\r", "\x0b"]))
    text = "{" + f",{space}".join(pairs) + "}"
    text = (
        # " " and "\t": no object at all (beside a line of two, the row count matches)
        draw(st.sampled_from(["{}", "{} ", " {}", "{}{}", "{}\n{}", "[{}]", "{},", " ", "\t"]))
        .replace("{}", text, 1)
        .replace("{}", text if draw(st.booleans()) else "{}")
    )
    return text.encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(st.lists(_payload(), min_size=1, max_size=12))
def test_what_the_fast_path_accepts_pydantic_accepts_with_equal_values(
    payloads: list[bytes],
) -> None:
    _check_against_pydantic(payloads)


def test_the_generator_makes_payloads_taken_and_left() -> None:
    """The property above is only as good as its payloads: some must take the fast
    path, some must be left to pydantic though pydantic takes them, some refused."""

    def fate(payload: bytes) -> str:
        if read_valid_readings([payload], _MAX_BYTES).index:
            return "fast"
        return "pydantic" if _pydantic(payload) is not None else "refused"

    for wanted in ("fast", "pydantic", "refused"):
        find(
            _payload(), lambda p, wanted=wanted: fate(p) == wanted, settings=settings(database=None)
        )


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ('"line_flow_bph":-0', "pydantic reads the integer -0 as 0.0, Arrow as -0.0"),
        ('"line_flow_bph":NaN', "Arrow reads NaN; the model refuses non-finite numbers"),
        ('"line_flow_bph":Infinity', "likewise"),
        ('"pumps_running":3.0', "Arrow refuses it for an integer; pydantic takes it"),
        ('"source_ts":"2026-07-01T12:00:00+00:00","source_ts":"2026-07-01T12:00:00Z"', "twice"),
        ('"source_ts":"2026-02-30T12:00:00Z"', "no such day"),
        ('"source_ts":"2026-07-01T12:00:00"', "naive"),
        ('"skid_id":"A\\u0054L"', "an escape"),
    ],
)
def test_fast_path_leaves_the_contentious_to_pydantic(member: str, why: str) -> None:
    good = ",".join(f'"{k}":{v}' for k, v in _GOOD.items() if f'"{k}"' not in member)
    payload = ("{" + good + "," + member + "}").encode()
    fast = read_valid_readings([payload], _MAX_BYTES)
    assert fast.rest == [0], why


def test_fast_path_takes_every_simulated_reading(site_config: SiteConfig) -> None:
    """The speed is only there if the telemetry as the RTUs write it takes the fast
    path: a simulated day, with every field the simulator writes."""
    spec = SimulationSpec(start=T0, duration_s=86_400, interval_s=30.0, seed=5)
    payloads = [m.payload for m in simulate(site_config, spec).messages]
    assert _check_against_pydantic(payloads) == len(payloads) > 2_000


def test_a_bad_line_costs_only_its_neighbourhood(site_config: SiteConfig) -> None:
    """Arrow fails a whole read for one bad line; the group is halved until the bad
    line's group is small, and only that group goes to pydantic."""
    spec = SimulationSpec(start=T0, duration_s=20_000, interval_s=10.0, seed=6)
    payloads = [m.payload for m in simulate(site_config, spec).messages][:2_000]
    bad = [17, 1_000, 1_999]
    for i in bad:
        payloads[i] = b'{"skid_id": "ATL-01", "source_ts": '
    fast = read_valid_readings(payloads, _MAX_BYTES)
    assert set(bad) <= set(fast.rest)
    assert len(fast.rest) < 3 * 64  # the halving stops below 64 payloads
    assert _check_against_pydantic(payloads) == len(fast.index)


def _same(a: FastReadings, b: FastReadings) -> None:
    assert (a.index, a.rest) == (b.index, b.rest)
    assert [_row(a.readings, i) for i in range(len(a.index))] == [
        _row(b.readings, i) for i in range(len(b.index))
    ]
    assert a.source_ts.equals(b.source_ts)


def test_a_files_lines_are_read_from_their_own_buffer(site_config: SiteConfig) -> None:
    """A file's lines, all plain, go to Arrow as the batch's buffer itself (no join)
    and give what the same payloads as a list give; so do they with bad lines, which
    are halved around as in a list."""
    spec = SimulationSpec(start=T0, duration_s=20_000, interval_s=10.0, seed=6)
    payloads = [m.payload for m in simulate(site_config, spec).messages][:2_000]
    (lines,) = line_batches(io.BytesIO(b"\n".join(payloads)), 10_000)
    group = _plain(lines, _MAX_BYTES)
    assert group is not None and group.text is lines.data
    _same(read_valid_readings(lines, _MAX_BYTES), read_valid_readings(payloads, _MAX_BYTES))
    for i in (17, 1_000):
        payloads[i] = b'{"skid_id": "ATL-01", "source_ts": '
    payloads[1_500] = b""
    (lines,) = line_batches(io.BytesIO(b"\n".join(payloads)), 10_000)
    fast = read_valid_readings(lines, _MAX_BYTES)
    assert {17, 1_000, 1_500} <= set(fast.rest) and len(fast.index) > 1_800
    _same(fast, read_valid_readings(payloads, _MAX_BYTES))


def test_oversized_and_empty_payloads_are_left_to_pydantic() -> None:
    good = ("{" + ",".join(f'"{k}":{v}' for k, v in _GOOD.items()) + "}").encode()
    fast = read_valid_readings([good, b"", good + b" " * _MAX_BYTES, good], _MAX_BYTES)
    assert fast.index == [0, 3]
    assert fast.rest == [1, 2]


def test_a_rule_the_fast_path_cannot_enforce_fails_at_import() -> None:
    """A constraint added to the model that the fast path does not know must stop
    it, not be skipped."""

    class Stricter(TelemetryReading):
        seq: Annotated[int, Field(ge=0, multiple_of=2)]

    class Aware(TelemetryReading):
        source_ts: datetime

    with pytest.raises(TypeError, match="multiple_of"):
        checks_of(Stricter)
    checks_of(TelemetryReading)  # the model as it is passes
    assert {c.name for c in checks_of(Aware)} == set(TelemetryReading.model_fields)


def test_values_are_bitwise_those_of_the_streaming_path() -> None:
    """Floats at the edges of their bounds and of double precision, a time with
    microseconds and an offset: equal to the last bit."""
    payloads = [
        b'{"skid_id":"S1","source_ts":"2199-12-31T23:59:59.999999-04:00","seq":9223372036854775807,'
        b'"line_flow_bph":250000,"suction_psig":-14.7,"temperature_degf":1e-300,'
        b'"density_kg_m3":500.00000000000006,"pumps_running":12,"injection_pump_running":false}',
        b'{"skid_id":"S1","source_ts":"1900-01-01T00:00:00.000001+05:30","seq":0,'
        b'"line_flow_bph":0.1,"api_gravity_deg":99.99999999999999}',
    ]
    fast = read_valid_readings(payloads, _MAX_BYTES)
    assert fast.index == [0, 1]
    assert _check_against_pydantic(payloads) == 2
    assert np.isnan(fast.readings.columns.values[1][NUMERIC_SIGNALS.index("pumps_running")])
