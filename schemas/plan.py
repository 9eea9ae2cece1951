"""The forward plan: one row per skid per hour, and one summary per plan."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas._base import Record, SkidId, UtcDatetime

__all__ = ["BindingConstraint", "PlanRow", "PlanStatus", "PlanSummary"]


class PlanStatus(StrEnum):
    """Solver outcome, as the operator needs to read it."""

    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    NO_SOLUTION = "NO_SOLUTION"
    ERROR = "ERROR"
    FALLBACK = "FALLBACK"
    """The solver ended without a plan (time limit, solver error): the rows are the
    operator-rule plan, checked like any other, so the operator always has an
    executable plan; the summary's message says why."""


class PlanRow(Record):
    """The plan for one skid in one hour."""

    plan_id: str = Field(min_length=1)
    skid_id: SkidId
    hour_start: UtcDatetime
    hour_index: int = Field(ge=0)
    product_code: str
    batch_id: str | None = None
    line_flow_bph: float = Field(ge=0.0)
    pumps_running: int = Field(ge=0)
    dra_ppm: float = Field(ge=0.0)
    dra_gal: float = Field(ge=0.0)
    dr_pct: float = Field(default=0.0, ge=0.0, le=100.0)
    discharge_psig: float
    maop_psig: float
    electric_kw: float = Field(default=0.0, ge=0.0)
    electric_kwh: float = Field(ge=0.0)
    energy_cost_usd: float = Field(ge=0.0)
    dra_cost_usd: float = Field(ge=0.0)
    tariff_usd_per_kwh: float = Field(ge=0.0)
    dra_tank_gal_end: float | None = None
    is_current_hour: bool = False
    binding_constraints: list[str] = Field(default_factory=list)


class BindingConstraint(Record):
    """A constraint at its limit in one hour (what is driving the plan)."""

    hour_start: UtcDatetime
    constraint: str


class PlanSummary(Record):
    """What the solver did and what the plan is worth against today's practice."""

    plan_id: str = Field(min_length=1)
    skid_id: SkidId
    created_ts: UtcDatetime
    horizon_start: UtcDatetime
    horizon_hours: int = Field(gt=0)
    status: PlanStatus
    solver: str
    message: str = ""
    objective_usd: float | None = None
    best_bound_usd: float | None = None
    relative_gap: float | None = None
    gap_target: float = Field(ge=0.0)
    gap_target_reached: bool = False
    solve_time_s: float = Field(ge=0.0)
    time_limit_s: float = Field(gt=0.0)
    time_limit_reached: bool = False
    total_volume_bbl: float | None = None
    energy_cost_usd: float | None = None
    dra_cost_usd: float | None = None
    demand_charge_usd: float | None = None
    baseline_operator_cost_usd: float | None = None
    baseline_no_dra_cost_usd: float | None = None
    saving_vs_operator_usd: float | None = None
    saving_vs_operator_pct: float | None = None
    saving_vs_no_dra_usd: float | None = None
    saving_vs_no_dra_pct: float | None = None
    checker_passed: bool | None = None
    checker_violations: list[str] = Field(default_factory=list)
    binding_constraints: list[BindingConstraint] = Field(default_factory=list)
    current_hour_flow_bph: float | None = None
    current_hour_pumps_running: int | None = None
    current_hour_dra_ppm: float | None = None
