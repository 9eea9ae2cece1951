"""Shared timing and reporting for the benchmarks.

Every benchmark times its subject and a baseline measured in the same run, several
times each, interleaved, and reports medians and the ratio against a goal. Medians of
interleaved runs keep a busy neighbour from favouring one side.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Comparison", "compare", "timed_s"]


def timed_s(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Comparison:
    """Medians of a subject and its baseline, as work per second, and their ratio."""

    name: str
    subject_s: float
    baseline_s: float
    work_units: float
    unit: str
    goal_ratio: float
    higher_is_better: bool = True

    @property
    def subject_rate(self) -> float:
        return self.work_units / self.subject_s

    @property
    def baseline_rate(self) -> float:
        return self.work_units / self.baseline_s

    @property
    def ratio(self) -> float:
        """Subject speed over baseline speed (> 1: subject faster)."""
        return self.baseline_s / self.subject_s

    @property
    def meets_goal(self) -> bool:
        return (
            self.ratio >= self.goal_ratio
            if self.higher_is_better
            else self.ratio <= self.goal_ratio
        )

    def report(self) -> str:
        verdict = "meets" if self.meets_goal else "MISSES"
        return (
            f"{self.name}: {self.subject_rate:,.0f} {self.unit}/s ({self.subject_s:.3f} s) vs "
            f"baseline {self.baseline_rate:,.0f} {self.unit}/s ({self.baseline_s:.3f} s); "
            f"ratio {self.ratio:.2f}x, goal >= {self.goal_ratio:.2f}x: {verdict}"
        )


def compare(
    name: str,
    subject: Callable[[], object],
    baseline: Callable[[], object],
    *,
    work_units: float,
    unit: str,
    goal_ratio: float,
    repeats: int = 3,
) -> Comparison:
    """Time ``subject`` and ``baseline`` ``repeats`` times each, interleaved; medians."""
    subject_runs: list[float] = []
    baseline_runs: list[float] = []
    for _ in range(repeats):
        baseline_runs.append(timed_s(baseline))
        subject_runs.append(timed_s(subject))
    result = Comparison(
        name,
        statistics.median(subject_runs),
        statistics.median(baseline_runs),
        work_units,
        unit,
        goal_ratio,
    )
    print(result.report(), flush=True)
    return result
