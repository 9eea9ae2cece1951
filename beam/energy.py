"""Energy and DRA figures of every spine row, computed a bundle at a time.

The physics is :func:`twin.spine_energy.energy_columns` (numpy over many rows). In
streaming the DoFn buffers a bundle's rows and computes them together, emitting each
result in the window and at the timestamp of its spine row; the backfill's spine rows
already come as column batches, turned into energy batches without a model per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.metrics import Metrics
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam.batches import RowBatch
from beam.dofn_signatures import SignatureCachedDoFn
from schemas.energy import EnergyRow
from schemas.site_config import SiteConfig
from schemas.spine import SpinePoint
from twin.spine_energy import SPINE_INPUTS, energy_columns, energy_rows
from warehouse.table_schemas import arrow_schema

__all__ = ["EnergyRowFn", "EnergyRows", "energy_batch"]


class EnergyRowFn(SignatureCachedDoFn):
    """SpinePoint -> EnergyRow, vectorised over each bundle."""

    def __init__(self, config: SiteConfig) -> None:
        self._config = config
        self._rows = Metrics.counter("energy", "rows")
        self._pending: list[tuple[SpinePoint, Timestamp, Any]] = []

    def start_bundle(self) -> None:
        self._pending = []

    def process(
        self,
        point: SpinePoint,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
        window: Any = beam.DoFn.WindowParam,
    ) -> Iterator[EnergyRow]:
        self._pending.append((point, timestamp, window))
        return iter(())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        pending, self._pending = self._pending, []
        if not pending:
            return
        rows = energy_rows([p for p, _, _ in pending], self._config)
        self._rows.inc(len(rows))
        for row, (_, timestamp, window) in zip(rows, pending, strict=True):
            yield WindowedValue(row, timestamp, [window])


def energy_batch(spine: RowBatch, config: SiteConfig) -> RowBatch:
    """A ``spine_points`` batch -> its ``energy_rows`` batch: the figures of
    :func:`twin.spine_energy.energy_columns`, column for column what
    :func:`~twin.spine_energy.energy_rows` puts in each model."""
    table = spine.arrow
    means = {
        name: table.column(name).combine_chunks().field("mean").to_numpy(zero_copy_only=False)
        for name in SPINE_INPUTS
    }
    grid_us = table.column("grid_ts").combine_chunks().cast(pa.int64()).to_numpy()
    interval_s = table.column("interval_s").to_numpy()
    cols = energy_columns(
        table.column("skid_id").to_pylist(),
        table.column("product_code").to_pylist(),
        means,
        interval_s.astype(float),
        grid_us / 1e6,
        config,
    )
    columns = {
        name: table.column(name)
        for name in ("skid_id", "grid_ts", "interval_s", "revision", "product_code")
    }
    for name, values in cols.figures.items():
        columns[name] = pa.array(values, pa.float64(), mask=~np.isfinite(values))
    columns["power_source"] = pa.array(cols.power_source, pa.string())
    schema = arrow_schema("energy_rows")
    return RowBatch(
        "energy_rows", pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
    )


class _EnergyBatchFn(beam.DoFn):  # type: ignore[misc]
    """Batch: a ``spine_points`` :class:`RowBatch` -> its ``energy_rows`` batch."""

    def __init__(self, config: SiteConfig) -> None:
        self._config = config
        self._rows = Metrics.counter("energy", "rows")

    def process(self, spine: RowBatch) -> Iterator[RowBatch]:
        energy = energy_batch(spine, self._config)
        self._rows.inc(len(energy))
        yield energy


class EnergyRows(beam.PTransform):  # type: ignore[misc]
    """Spine rows -> energy rows (same skid, grid point and revision); bounded input
    comes and goes as :class:`RowBatch` (see :mod:`beam.batches`)."""

    def __init__(self, config: SiteConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, spine: beam.PCollection[SpinePoint]) -> beam.PCollection[EnergyRow]:
        if spine.is_bounded:
            return spine | "EnergyBatches" >> beam.ParDo(_EnergyBatchFn(self._config))
        return spine | "Energy" >> beam.ParDo(EnergyRowFn(self._config))
