"""Bulk validation of telemetry payloads with Arrow's JSON reader: the backfill's fast
path in front of pydantic.

Why: on a backfill, validating 10,000 payloads a batch with pydantic and then turning
the 10,000 dicts into columns was half of the job's time. Arrow reads
newline-separated JSON objects straight into typed columns in C++, and the model's
constraints (bounds, lengths, patterns) are then checked on whole columns.

It is a filter, never a second judge: a payload is accepted here only when pydantic
would accept it with the same values, as far as can be proven cheaply; every other
payload is left to pydantic (:func:`beam.readings._valid_positions`), which has the
final word and words the dead letters. So it only takes:

* ASCII without a backslash (no escapes, no encoding questions; Arrow refuses control
  characters as JSON does),
* objects with no field but the model's and none twice (Arrow refuses the block),
* types as Arrow reads them strictly (a string where a number belongs, ``3.0`` for an
  integer, ``1`` for a boolean: Arrow refuses; pydantic's lax coercions decide those),
* ``source_ts`` written exactly as ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)``
  in the years 1900-2199,
* finite floats other than ``-0`` (pydantic reads the integer ``-0`` as ``0.0``, Arrow
  as ``-0.0``), within the model's bounds, and strings within its lengths and patterns.

The rules are derived from :class:`TelemetryReading`'s fields when this module is
imported; a constraint it does not know fails the import, so the model cannot gain a
rule the fast path would skip. ``tests/beam/test_arrow_readings.py`` checks, on
generated payloads valid and not, that what it accepts pydantic accepts with equal
values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import annotated_types
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.json as pa_json  # type: ignore[import-untyped]
from pydantic import AwareDatetime, BaseModel

from beam.batches import ReadingBatch
from beam.lines import FileLines
from schemas._base import UtcDatetime
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from twin.spine import ReadingColumns
from warehouse.table_schemas import ARROW_TIMESTAMP

__all__ = ["FastReadings", "checks_of", "read_valid_readings"]

_TS_PATTERN = (
    r"^(19|2[01])\d\d-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
"""The one ``source_ts`` spelling taken here (what the RTUs and the simulator write);
pydantic also takes others, and decides them."""

_MIN_BLOCK_BYTES = 1 << 20
"""Arrow parses a buffer in blocks of this size, on its own threads when there are
several; a row must fit in one block."""

_BISECT_BELOW = 64
"""Payload groups smaller than this are left to pydantic whole when Arrow refuses
them, instead of being halved again."""


@dataclass(frozen=True)
class _Check:
    """One field's rules: required or not, bounds, string lengths and pattern."""

    name: str
    kind: type
    required: bool
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(type, optional) of ``X`` or ``X | None``."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        if len(args) != 1:
            raise TypeError(f"arrow_readings does not handle the union {annotation}")
        return args[0], True
    return annotation, False


_UTC_DATETIME_RULES = get_args(UtcDatetime)[1:]
"""What the contract's ``UtcDatetime`` adds to an aware datetime (normalising to UTC)."""


def checks_of(model: type[BaseModel]) -> tuple[_Check, ...]:
    """``model``'s fields as :class:`_Check`; refuses any rule it would not enforce."""
    checks = []
    for name, info in model.model_fields.items():
        kind, optional = _base_type(info.annotation)
        if kind is AwareDatetime:
            kind = datetime
        if kind not in (str, datetime, int, float, bool):
            raise TypeError(f"arrow_readings does not handle {name}: {info.annotation}")
        rules: dict[str, Any] = {}
        for meta in info.metadata:
            if isinstance(meta, annotated_types.Ge):
                rules["ge"] = meta.ge
            elif isinstance(meta, annotated_types.Le):
                rules["le"] = meta.le
            elif isinstance(meta, annotated_types.MinLen):
                rules["min_length"] = meta.min_length
            elif isinstance(meta, annotated_types.MaxLen):
                rules["max_length"] = meta.max_length
            elif kind is str and set(getattr(meta, "__dict__", {})) == {"pattern"}:
                rules["pattern"] = meta.pattern  # pydantic's Field(pattern=...), alone
            elif kind is datetime and meta in _UTC_DATETIME_RULES:
                pass  # Arrow's cast gives UTC; the year range keeps it in bounds
            else:
                raise TypeError(f"arrow_readings does not enforce {meta!r} on {name}")
        if optional == info.is_required() or (optional and info.default is not None):
            raise TypeError(f"arrow_readings expects {name} required or None by default")
        checks.append(_Check(name, kind, not optional, **rules))
    if model.model_config.get("extra") != "forbid":
        raise TypeError("arrow_readings refuses unknown fields, as the model must")
    if model.model_config.get("allow_inf_nan", True):
        raise TypeError("arrow_readings refuses non-finite numbers, as the model must")
    return tuple(checks)


_CHECKS = checks_of(TelemetryReading)
_ARROW_TYPE = {
    str: pa.string(),
    datetime: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}
_READ_SCHEMA = pa.schema([(c.name, _ARROW_TYPE[c.kind]) for c in _CHECKS])
_PARSE_OPTIONS = pa_json.ParseOptions(
    explicit_schema=_READ_SCHEMA, unexpected_field_behavior="error"
)
if {c.name for c in _CHECKS} != {"skid_id", "source_ts", "seq", "product_code", "batch_id"} | set(
    NUMERIC_SIGNALS
):
    raise TypeError("arrow_readings maps every field of TelemetryReading onto ReadingBatch")


@dataclass(frozen=True)
class FastReadings:
    """What the fast path accepted: ``index`` (positions in the payloads given, in
    order), their readings as columns, and their ``source_ts`` as an Arrow UTC
    timestamp array (for the raw rows); ``rest`` are the positions left to pydantic."""

    index: list[int]
    readings: ReadingBatch
    source_ts: pa.Array
    rest: list[int]


def _ok(table: pa.Table) -> npt.NDArray[np.bool_]:
    """Rows of ``table`` that satisfy every rule."""
    ok = np.ones(table.num_rows, dtype=np.bool_)
    for check in _CHECKS:
        column = table.column(check.name)
        present = column.is_valid().to_numpy(zero_copy_only=False)
        if check.required:
            ok &= present
        if check.kind in (str, datetime):
            text = column.fill_null("")
            rules = []
            if check.kind is datetime:
                rules.append(pc.match_substring_regex(text, _TS_PATTERN))
            if check.pattern is not None:
                rules.append(pc.match_substring_regex(text, check.pattern))
            if check.min_length is not None or check.max_length is not None:
                length = pc.utf8_length(text)
                if check.min_length is not None:
                    rules.append(pc.greater_equal(length, check.min_length))
                if check.max_length is not None:
                    rules.append(pc.less_equal(length, check.max_length))
            for rule in rules:
                ok &= ~present | rule.to_numpy(zero_copy_only=False)
        elif check.kind in (int, float):
            if check.kind is int:  # compared as integers: a float cannot hold 2**63 - 1
                values = column.fill_null(0).to_numpy(zero_copy_only=False)
                good = np.ones(len(values), dtype=np.bool_)
            else:
                values = column.to_numpy(zero_copy_only=False)
                good = np.isfinite(values) & ((values != 0.0) | ~np.signbit(values))
            with np.errstate(invalid="ignore"):
                if check.ge is not None:
                    good &= values >= check.ge
                if check.le is not None:
                    good &= values <= check.le
            ok &= ~present | good
    return ok


def _columns(table: pa.Table, source_ts: pa.Array) -> ReadingBatch:
    """The accepted rows as the spine's columns (nulls NaN, booleans 0/1)."""
    micros = source_ts.cast(pa.int64()).to_numpy(zero_copy_only=False)
    values = np.column_stack(
        [table.column(s).cast(pa.float64()).to_numpy(zero_copy_only=False) for s in NUMERIC_SIGNALS]
    )
    return ReadingBatch(
        _shared_strings(table.column("skid_id")),
        ReadingColumns(
            # As datetime.timestamp() computes it: microseconds / 10**6, rounded once.
            ts_s=micros / 1e6,
            seq=table.column("seq").to_numpy(zero_copy_only=False).astype(np.int64),
            values=values.reshape(len(micros), len(NUMERIC_SIGNALS)),
            product_code=_shared_strings(table.column("product_code")),
            batch_id=_shared_strings(table.column("batch_id")),
        ),
    )


def _shared_strings(column: pa.ChunkedArray) -> tuple[str | None, ...]:
    """The column's values, one Python string per distinct value: a batch crosses the
    runner's GroupByKey pickled, and pickle writes a string it has seen as a
    reference (a 10,000-reading batch: 2.0 ms to pickle and unpickle -> 0.4 ms)."""
    encoded = column.dictionary_encode().combine_chunks()
    values = [*encoded.dictionary.to_pylist(), None]
    index = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
    return tuple(map(values.__getitem__, index.tolist()))


@dataclass(frozen=True)
class _Group:
    """Payloads read together: their positions, them joined by newlines, and the
    longest's length (a row must fit in one of Arrow's blocks)."""

    positions: list[int]
    text: bytes
    longest: int


def _group(payloads: Sequence[bytes], positions: list[int]) -> _Group | None:
    """The payloads at ``positions`` joined (None for none)."""
    if not positions:
        return None
    return _Group(
        positions,
        b"\n".join(payloads[i] for i in positions),
        max(len(payloads[i]) for i in positions),
    )


def _read(payloads: Sequence[bytes], group: _Group | None) -> list[tuple[list[int], pa.Table]]:
    """Arrow tables of the group's payloads, with the positions each holds. A group
    Arrow refuses (one bad payload fails its whole block) is halved until the halves
    read or are small enough to leave to pydantic."""
    if group is None:
        return []
    try:
        table = pa_json.read_json(
            pa.BufferReader(group.text),
            read_options=pa_json.ReadOptions(
                block_size=max(_MIN_BLOCK_BYTES, 2 * group.longest), use_threads=True
            ),
            parse_options=_PARSE_OPTIONS,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = None
    positions = group.positions
    # Every line starts an object (_plain), so as many rows as lines means one each;
    # a line holding two shifts the count.
    if table is not None and table.num_rows == len(positions):
        return [(positions, table)]
    if len(positions) < _BISECT_BELOW:
        return []
    if isinstance(payloads, FileLines):
        payloads = list(payloads)  # every line made once, not one at a time per half
    half = len(positions) // 2
    return _read(payloads, _group(payloads, positions[:half])) + _read(
        payloads, _group(payloads, positions[half:])
    )


def _plain(payloads: Sequence[bytes], max_payload_bytes: int) -> _Group | None:
    """The non-empty payloads within the size limit that are ASCII without a
    backslash or a newline and start with ``{``. Checked on the payloads joined, in
    one pass (a regex search per payload cost as much as Arrow's read), and payload by
    payload only when the joined text fails; a file's lines come joined already (no
    copy) when every line end is a newline. Control characters need no check: Arrow's
    parser refuses them in strings and between tokens, as JSON does."""
    if isinstance(payloads, FileLines):
        lengths = payloads.lengths
        text = payloads.joined()
        if (
            text is not None
            and len(lengths)
            and lengths.min() > 0
            and lengths.max() <= max_payload_bytes
            and _plain_text(text)
            and _objects_start_lines(text, len(lengths))  # FileLines: one line per line
        ):
            return _Group(list(range(len(lengths))), text, int(lengths.max()))
        payloads = list(payloads)
    sized = [i for i, p in enumerate(payloads) if 0 < len(p) <= max_payload_bytes]
    group = _group(payloads, sized)
    if group is None or (
        _plain_text(group.text)
        and group.text.count(b"\n") == len(sized) - 1
        and _objects_start_lines(group.text, len(sized))
    ):
        return group
    return _group(payloads, [i for i in sized if _plain_one(payloads[i])])


def _plain_text(text: bytes) -> bool:
    return text.isascii() and b"\\" not in text


def _objects_start_lines(text: bytes, lines: int) -> bool:
    """Whether each of the ``lines`` newline-separated lines of ``text`` starts with
    ``{``: then none is blank (a blank line would read as no row, and beside a line
    holding two objects leave the count right but the rows on the wrong lines). A
    line with whitespace before its object goes to pydantic."""
    return text.startswith(b"{") and text.count(b"\n{") == lines - 1


def _plain_one(payload: bytes) -> bool:
    return _plain_text(payload) and b"\n" not in payload and payload.startswith(b"{")


def read_valid_readings(payloads: Sequence[bytes], max_payload_bytes: int) -> FastReadings:
    """The payloads the fast path accepts, as columns; the others' positions in
    ``rest`` (ascending), for pydantic. A file's lines (:class:`FileLines`) are read
    from their own buffer when every one is plain."""
    accepted: list[int] = []
    batches: list[ReadingBatch] = []
    stamps: list[pa.Array] = []
    for positions, table in _read(payloads, _plain(payloads, max_payload_bytes)):
        table = table.combine_chunks()
        ok = _ok(table)
        taken = table.filter(pa.array(ok))
        try:
            source_ts = pc.cast(taken.column("source_ts"), ARROW_TIMESTAMP).combine_chunks()
        except pa.ArrowInvalid:
            continue  # a date that is not one (2026-02-30): pydantic words it
        accepted.extend(compress(positions, ok.tolist()))
        batches.append(_columns(taken, source_ts))
        stamps.append(source_ts)
    rest = []
    if len(accepted) < len(payloads):
        kept = set(accepted)
        rest = [i for i in range(len(payloads)) if i not in kept]
    return FastReadings(
        index=accepted,
        readings=ReadingBatch.concat(batches),
        source_ts=pa.concat_arrays(stamps) if stamps else pa.array([], ARROW_TIMESTAMP),
        rest=rest,
    )
