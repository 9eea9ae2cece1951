"""Which batch is at the injection point, from the cumulative volume pumped.

Batches pass the injection point in nomination order, so the volume pumped since
the start of the plan says where every interface is. An hour in which an interface
passes has two (or more) products at the injection point: each one's rules (its
DRA limit, its hydraulics) must hold for that hour.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["batch_at", "batches_in_interval"]

_MIN_PASSING_BBL = 1.0
"""Less than a barrel of a batch passing in an hour is round-off, not an interface."""


def batch_at(batch_end_bbl: Sequence[float], volume_bbl: float) -> int:
    """Index of the batch at the injection point once ``volume_bbl`` has passed.

    At an interface (within a barrel of it: solver round-off) the next batch is the one
    arriving. The last batch absorbs any volume beyond the nominations (it is what
    keeps flowing).
    """
    for b, end in enumerate(batch_end_bbl):
        if volume_bbl + _MIN_PASSING_BBL < end:
            return b
    return len(batch_end_bbl) - 1


def batches_in_interval(
    batch_end_bbl: Sequence[float], volume_from_bbl: float, volume_to_bbl: float
) -> list[int]:
    """Batches at the injection point while cumulative volume goes from ``volume_from_bbl``
    to ``volume_to_bbl`` (one hour of pumping); with no flow, the batch standing there."""
    volume_from_bbl = min(volume_from_bbl + _MIN_PASSING_BBL, volume_to_bbl)
    volume_to_bbl = max(volume_to_bbl - _MIN_PASSING_BBL, volume_from_bbl)
    if volume_to_bbl <= volume_from_bbl:
        return [batch_at(batch_end_bbl, volume_from_bbl)]
    last = len(batch_end_bbl) - 1
    out: list[int] = []
    for b, end in enumerate(batch_end_bbl):
        start = 0.0 if b == 0 else batch_end_bbl[b - 1]
        if start < volume_to_bbl and (volume_from_bbl < end or b == last):
            out.append(b)
    return out
