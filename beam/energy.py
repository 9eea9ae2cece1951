"""Energy and DRA figures of every spine row, computed a bundle at a time.

The physics is :func:`twin.spine_energy.energy_rows` (numpy over many rows); the DoFn
buffers a bundle's rows and computes them together, which is what makes the backfill
fast, and emits each result in the window and at the timestamp of its spine row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from schemas.energy import EnergyRow
from schemas.site_config import SiteConfig
from schemas.spine import SpinePoint
from twin.spine_energy import energy_rows

__all__ = ["EnergyRowFn", "EnergyRows"]


class EnergyRowFn(beam.DoFn):  # type: ignore[misc]
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


class EnergyRows(beam.PTransform):  # type: ignore[misc]
    """Spine rows -> energy rows (same skid, grid point and revision)."""

    def __init__(self, config: SiteConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, spine: beam.PCollection[SpinePoint]) -> beam.PCollection[EnergyRow]:
        return spine | "Energy" >> beam.ParDo(EnergyRowFn(self._config))
