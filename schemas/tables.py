"""Every warehouse table: which model defines it, how it is partitioned and clustered.

BigQuery JSON schemas are generated from this registry (``python -m schemas.generate``)
and committed under ``schemas/bigquery/``; Terraform creates the tables from them and
the local DuckDB warehouse creates the same tables from them.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Union

from pydantic import AwareDatetime, BaseModel

from schemas.alarm import Alarm, AlarmEvent
from schemas.anomaly import Anomaly
from schemas.dead_letter import DeadLetter
from schemas.energy import EnergyRow
from schemas.plan import PlanRow, PlanSummary
from schemas.raw import RawReading
from schemas.spine import SpinePoint

__all__ = ["TABLES", "TABLE_OF_MODEL", "Table", "bigquery_fields", "bigquery_table_spec"]


@dataclass(frozen=True)
class Table:
    """A warehouse table and the model that is its only definition."""

    name: str
    model: type[BaseModel]
    description: str
    partition_field: str
    clustering: tuple[str, ...]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "raw_readings",
            RawReading,
            "Every valid reading as it arrived",
            "source_ts",
            ("skid_id",),
        ),
        Table(
            "dead_letters",
            DeadLetter,
            "Messages that could not be used, with the reason",
            "received_ts",
            ("stage", "skid_id"),
        ),
        Table(
            "spine_points",
            SpinePoint,
            "Time spine: one row per skid per grid point and revision",
            "grid_ts",
            ("skid_id",),
        ),
        Table(
            "energy_rows",
            EnergyRow,
            "Energy, cost and DRA effectiveness per spine row",
            "grid_ts",
            ("skid_id", "product_code"),
        ),
        Table(
            "anomalies",
            Anomaly,
            "Findings of range checks, rules and detectors",
            "event_ts",
            ("skid_id", "rule"),
        ),
        Table(
            "alarms",
            Alarm,
            "Current ISA-18.2 state of every alarm",
            "updated_ts",
            ("skid_id", "alarm_type"),
        ),
        Table(
            "alarm_events",
            AlarmEvent,
            "Every alarm transition (audit trail)",
            "event_ts",
            ("skid_id", "alarm_id"),
        ),
        Table(
            "plan_rows",
            PlanRow,
            "Forward plan, one row per skid per hour",
            "hour_start",
            ("skid_id", "plan_id"),
        ),
        Table(
            "plan_summaries",
            PlanSummary,
            "Forward plan solver outcome and savings",
            "created_ts",
            ("skid_id",),
        ),
    )
}

TABLE_OF_MODEL: dict[type[BaseModel], str] = {t.model: name for name, t in TABLES.items()}
"""The table a record model's rows go to (each model has one table)."""

_SCALARS: dict[Any, str] = {
    str: "STRING",
    int: "INTEGER",
    float: "FLOAT",
    bool: "BOOLEAN",
    bytes: "BYTES",
    datetime: "TIMESTAMP",
    AwareDatetime: "TIMESTAMP",
}


def _field(name: str, annotation: Any, required: bool, description: str | None) -> dict[str, Any]:
    mode = "REQUIRED" if required else "NULLABLE"
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"{name}: unions other than Optional are not storable")
        return _field(name, args[0], False, description)
    if origin is typing.Annotated:
        return _field(name, typing.get_args(annotation)[0], required, description)
    out: dict[str, Any] = {"name": name}
    if origin is list:
        inner = _field(name, typing.get_args(annotation)[0], True, description)
        inner["mode"] = "REPEATED"
        return inner
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out.update(type="RECORD", mode=mode, fields=bigquery_fields(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        out.update(type="STRING", mode=mode)
    elif annotation in _SCALARS:
        out.update(type=_SCALARS[annotation], mode=mode)
    else:
        raise TypeError(f"{name}: no BigQuery type for {annotation!r}")
    if description:
        out["description"] = description
    return out


def bigquery_fields(model: type[BaseModel]) -> list[dict[str, Any]]:
    """BigQuery schema fields of a model.

    A field is NULLABLE only when its type admits ``None``: a field with a non-null
    default is always written, so it is REQUIRED.
    """
    return [
        _field(name, info.annotation, True, info.description)
        for name, info in model.model_fields.items()
    ]


def bigquery_table_spec(table: Table) -> dict[str, Any]:
    """The committed JSON of one table: schema plus partitioning and clustering."""
    return {
        "table": table.name,
        "description": table.description,
        "time_partitioning": {"type": "DAY", "field": table.partition_field},
        "clustering": list(table.clustering),
        "schema": bigquery_fields(table.model),
    }
