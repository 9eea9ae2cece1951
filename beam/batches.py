"""What crosses the backfill's stages: many records per element, as columns.

The streaming job moves one record per element (a message, a reading, a spine row),
because it must answer a message at a time. The backfill has all its input at once,
and there the per-element cost of the runner and of building one pydantic model per
row was most of its time. So on bounded input the same composite transforms pass:

* :class:`MessageBatch`: many messages (a chunk of lines of a backfill file, or of
  ``raw_readings`` rows replayed with their message ids, attributes, publish times);
* :class:`ReadingBatch`: the valid readings of one such chunk, as the columns the
  spine computes on (a list of models would be pickled model by model whenever the
  runner samples an element's size);
* :class:`RowBatch`: rows of one warehouse table as an Arrow table, built from the
  same ``twin/`` arrays the streaming path turns into models, with exactly the
  columns of ``schemas/`` (so the sink inserts it as is).

Dead letters and duplicates stay single records in both modes (they are few).
:func:`records_of` turns any of these back into the streaming path's records, for the
BigQuery sink and for tests comparing the two paths.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.coders import Coder, registry
from apache_beam.io.gcp.pubsub import PubsubMessage
from pydantic import BaseModel

from beam.lines import FileLines
from schemas.tables import TABLES
from schemas.telemetry import NUMERIC_SIGNALS, TelemetryReading
from twin.spine import ReadingColumns, columns_from_readings, labels_at

__all__ = ["BatchCoder", "MessageBatch", "ReadingBatch", "RowBatch", "records_of"]


@dataclass(frozen=True)
class MessageBatch:
    """Payloads read together, with where they came from.

    A backfill file's lines come as :class:`~beam.lines.FileLines` (one buffer and
    offsets; a line's bytes are made only when asked for), other payloads as a list.
    ``messages`` holds the Pub/Sub messages they came in (attributes, id, publish
    time); ``replayed`` holds, row for row, the ``message_id``, ``publish_ts`` and
    ``attributes_json`` columns of ``raw_readings`` rows being replayed (Arrow, the
    table's types), so a replay keeps them without a Python object per row. Both are
    ``None`` for file lines, which have none of these.
    """

    payloads: list[bytes] | FileLines
    messages: list[PubsubMessage] | None = None
    replayed: pa.Table | None = None

    def __len__(self) -> int:
        return len(self.payloads)

    @property
    def nbytes(self) -> int:
        """Payload bytes (what the batch's size is made of)."""
        if isinstance(self.payloads, FileLines):
            return int(self.payloads.lengths.sum())
        return sum(map(len, self.payloads))

    def message(self, i: int) -> PubsubMessage:
        """The ``i``-th message (a file line as a message without attributes)."""
        if self.messages is not None:
            return self.messages[i]
        if self.replayed is not None:
            row = self.replayed.slice(i, 1).to_pylist()[0]
            return PubsubMessage(
                self.payloads[i],
                json.loads(row["attributes_json"]),
                message_id=row["message_id"],
                publish_time=row["publish_ts"],
            )
        return PubsubMessage(self.payloads[i], {})


_KIND = {
    s: bool if bool in get_args(a) else int if int in get_args(a) else float
    for s in NUMERIC_SIGNALS
    if (a := TelemetryReading.model_fields[s].annotation) is not None
}
"""Python type of each signal, to turn a column value back into the model's."""


@dataclass(frozen=True)
class ReadingBatch:
    """Valid readings as columns: ``skid_id[i]`` is the skid of row ``i`` of
    ``columns`` (nulls are NaN, booleans 0/1, as :mod:`twin.spine` takes them)."""

    skid_id: tuple[str, ...]
    columns: ReadingColumns

    def __len__(self) -> int:
        return len(self.skid_id)

    @property
    def nbytes(self) -> int:
        """Bytes of the numeric columns (the strings add little)."""
        cols = self.columns
        return int(cols.ts_s.nbytes + cols.seq.nbytes + cols.values.nbytes)

    @classmethod
    def of(cls, readings: list[TelemetryReading]) -> ReadingBatch:
        """Columns of validated readings."""
        return cls(tuple(r.skid_id for r in readings), columns_from_readings(readings))

    @classmethod
    def of_rows(cls, rows: Sequence[Mapping[str, Any]]) -> ReadingBatch:
        """Columns of validated readings given as their fields (a missing optional
        field is null): what :meth:`of` gives for the same readings as models."""
        values = np.empty((len(rows), len(NUMERIC_SIGNALS)))
        for j, signal in enumerate(NUMERIC_SIGNALS):
            # numpy makes None NaN and booleans 0/1 in a float array.
            values[:, j] = np.array([r.get(signal) for r in rows], dtype=float)
        columns = ReadingColumns(
            ts_s=np.array([r["source_ts"].timestamp() for r in rows], dtype=float),
            seq=np.array([r["seq"] for r in rows], dtype=np.int64),
            values=values,
            product_code=tuple(r.get("product_code") for r in rows),
            batch_id=tuple(r.get("batch_id") for r in rows),
        )
        return cls(tuple(r["skid_id"] for r in rows), columns)

    @classmethod
    def concat(cls, parts: Sequence[ReadingBatch]) -> ReadingBatch:
        """The readings of ``parts``, one after another (none: an empty batch)."""
        if not parts:
            return cls.of_rows([])
        if len(parts) == 1:
            return parts[0]
        return cls(
            tuple(s for p in parts for s in p.skid_id),
            ReadingColumns.concat([p.columns for p in parts]),
        )

    def take(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> ReadingBatch:
        """The rows at ``index`` (integer positions, in that order, or a boolean mask)."""
        positions = np.flatnonzero(index) if index.dtype == np.bool_ else index
        return ReadingBatch(labels_at(self.skid_id, positions), self.columns.take(positions))

    def readings(self) -> list[TelemetryReading]:
        """The rows as models again (equal to the validated ones)."""
        cols = self.columns
        out = []
        for i, skid_id in enumerate(self.skid_id):
            signals = {
                s: None if math.isnan(v) else _KIND[s](v)
                for s, v in zip(NUMERIC_SIGNALS, cols.values[i].tolist(), strict=True)
            }
            out.append(
                TelemetryReading(
                    skid_id=skid_id,
                    source_ts=datetime.fromtimestamp(float(cols.ts_s[i]), tz=UTC),
                    seq=int(cols.seq[i]),
                    product_code=cols.product_code[i],
                    batch_id=cols.batch_id[i],
                    **signals,
                )
            )
        return out


@dataclass(frozen=True)
class RowBatch:
    """Rows of warehouse table ``table`` as an Arrow table with its exact schema."""

    table: str
    arrow: pa.Table

    def __len__(self) -> int:
        return int(self.arrow.num_rows)

    @property
    def nbytes(self) -> int:
        """Bytes of the Arrow buffers."""
        return int(self.arrow.nbytes)

    def records(self) -> list[BaseModel]:
        """The rows as the table's models (as the streaming path emits them)."""
        model = TABLES[self.table].model
        return [model.model_validate(row) for row in self.arrow.to_pylist()]


def records_of(element: Any) -> Iterator[Any]:
    """The single records an element stands for: a batch's rows, else itself."""
    if isinstance(element, RowBatch):
        yield from element.records()
    elif isinstance(element, ReadingBatch):
        yield from element.readings()
    else:
        yield element


class BatchCoder(Coder):  # type: ignore[misc]
    """Encodes a batch as Beam's fallback coder would (pickle), but estimates its
    size from its buffers. The runner samples the size of a stage's output elements
    by encoding them; pickling each 10,000-line batch only to measure it cost about
    60 ms of a skid-week's backfill."""

    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> Any:
        return pickle.loads(encoded)

    def estimate_size(self, value: Any) -> int:
        return int(value.nbytes)

    def is_deterministic(self) -> bool:
        return False


for _batch_type in (MessageBatch, ReadingBatch, RowBatch):
    registry.register_coder(_batch_type, BatchCoder)
