"""What a run did, from its Beam counters: readings in, rows out, and where the rest went.

The identity the tests hold the job to: readings in = distinct readings used +
duplicates + dead letters (+ readings outside a backfill's range).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

__all__ = ["JobCounts", "job_counts", "landed_counts"]


@dataclass(frozen=True)
class JobCounts:
    """Counters of one run (committed values where the runner has them)."""

    readings_in: int
    valid: int
    dead_letters: int
    duplicates: int
    too_late: int
    out_of_range: int
    spine_rows: int
    energy_rows: int

    @property
    def distinct_used(self) -> int:
        return self.valid - self.duplicates - self.too_late - self.out_of_range

    def lines(self) -> list[str]:
        """Human-readable summary, one figure per line."""
        return [
            f"readings in        {self.readings_in:>10,}",
            f"  distinct used    {self.distinct_used:>10,}",
            f"  duplicates       {self.duplicates:>10,}",
            f"  dead letters     {self.dead_letters:>10,}  (incl. {self.too_late:,} too late)",
            f"  out of range     {self.out_of_range:>10,}",
            f"spine rows out     {self.spine_rows:>10,}",
            f"energy rows out    {self.energy_rows:>10,}",
        ]


def job_counts(result: PipelineResult) -> JobCounts:
    """Sum each counter over steps; committed values, else attempted (local runners)."""
    totals: dict[tuple[str, str], int] = {}
    for counter in result.metrics().query(MetricsFilter())["counters"]:
        key = (counter.key.metric.namespace, counter.key.metric.name)
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[key] = totals.get(key, 0) + int(value or 0)

    def get(namespace: str, name: str) -> int:
        return totals.get((namespace, name), 0)

    parse_dead = sum(
        v for (ns, n), v in totals.items() if ns == "readings" and n.startswith("dead_letter_")
    )
    too_late = get("spine", "too_late")
    valid = get("readings", "valid")
    return JobCounts(
        readings_in=valid + parse_dead,
        valid=valid,
        dead_letters=parse_dead + too_late,
        duplicates=get("spine", "duplicates"),
        too_late=too_late,
        out_of_range=get("readings", "out_of_range"),
        spine_rows=get("spine", "rows"),
        energy_rows=get("energy", "rows"),
    )


_LANDED_SQL = """
SELECT
  (SELECT COUNT(*) FROM raw_readings WHERE ingest_ts >= @since) AS raw,
  (SELECT COUNT(*) FROM (
     SELECT DISTINCT skid_id, source_ts, seq FROM raw_readings WHERE ingest_ts >= @since
   )) AS distinct_raw,
  (SELECT COUNT(*) FROM dead_letters WHERE received_ts >= @since) AS dead,
  (SELECT COUNT(*) FROM dead_letters WHERE received_ts >= @since AND stage = 'TOO_LATE')
     AS too_late,
  (SELECT COUNT(*) FROM spine_points WHERE emitted_ts >= @since) AS spine,
  (SELECT COUNT(*) FROM energy_rows AS e JOIN spine_points AS s
     USING (skid_id, grid_ts, revision) WHERE s.emitted_ts >= @since) AS energy
"""


def landed_counts(warehouse: Any, since: datetime) -> JobCounts:
    """What a run wrote since ``since``, read back from the warehouse.

    For the local streaming runner, whose counters do not keep up with what it
    processed; duplicates are raw readings repeating a ``(skid, source_ts, seq)``.
    """
    (row,) = warehouse.query(_LANDED_SQL, {"since": since})
    parse_dead = row["dead"] - row["too_late"]
    return JobCounts(
        readings_in=row["raw"] + parse_dead,
        valid=row["raw"],
        dead_letters=row["dead"],
        duplicates=row["raw"] - row["distinct_raw"],
        too_late=row["too_late"],
        out_of_range=0,
        spine_rows=row["spine"],
        energy_rows=row["energy"],
    )
