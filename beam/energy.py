"""Energy and DRA figures of every spine row, computed a batch at a time.

The physics is :func:`twin.spine_energy.energy_columns` (numpy over many rows). The
backfill's spine rows come as column batches, turned into energy batches without a
model per row. The streaming job computes its energy rows where its spine rows are
made, in :class:`beam.spine.SpineFn` (:func:`twin.spine_energy.energy_rows` over each
firing's rows): on the local streaming runner a separate stage cost two bundles per
spine bundle.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from apache_beam.metrics import Metrics

from beam.batches import RowBatch
from schemas.energy import EnergyRow
from schemas.site_config import SiteConfig
from schemas.spine import SpinePoint
from twin.spine_energy import SPINE_INPUTS, energy_columns
from warehouse.table_schemas import arrow_schema

__all__ = ["EnergyRows", "energy_batch"]


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
    """Spine row batches -> energy row batches (same skid, grid point and revision), as
    :class:`RowBatch` (see :mod:`beam.batches`). Bounded input only: streaming spine
    rows get theirs from ``TimeSpine(..., energy_config=config)``."""

    def __init__(self, config: SiteConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, spine: beam.PCollection[SpinePoint]) -> beam.PCollection[EnergyRow]:
        if not spine.is_bounded:
            raise ValueError("streaming energy rows come from TimeSpine(energy_config=...)")
        return spine | "EnergyBatches" >> beam.ParDo(_EnergyBatchFn(self._config))
