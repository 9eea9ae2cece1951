"""Independent feasibility check and costing of any hourly plan.

Its own code path: it never reads the MILP or its operating table. From the plan's
flow, pump count and ppm per hour it walks the batches through the injection point
(:mod:`twin.plan.batches`), evaluates every product present with the steady-state
model (:func:`twin.operating_point.evaluate_operating_point`) and the pump curves,
and checks every rule the planner promises: MAOP minus margin, each product's DRA
limit (jet fuel: 0), pump head at full and minimum speed and flow range, injection
minimum flow and maximum rate, deadlines, the nominated total, the DRA tank between
empty and full, pump starts per day. It also costs the plan (the baselines are
costed here too), so plan and baselines are priced by one model.

Costing convention (shared with the MILP): an hour's kW is the product at the
injection point at the start of the hour; feasibility must hold for every product
that passes during the hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin import dra, energy, fluid
from twin.operating_point import evaluate_operating_point
from twin.plan.batches import batch_at, batches_in_interval
from twin.plan.inputs import PlanInputs
from twin.units import G_M_PER_S2, ft_to_m, pa_to_psi

__all__ = ["CheckReport", "CheckedHour", "PlannedHour", "check_plan"]

_PSI_TOL = 0.01
_PPM_TOL = 1e-6
_GAL_TOL = 1e-3
_BBL_TOL = 1.0
"""A barrel short of a deadline, or over the nominations, is solver round-off."""


@dataclass(frozen=True)
class PlannedHour:
    """What a plan does in one hour (all a checker needs)."""

    flow_bph: float
    pumps_running: int
    ppm: float


@dataclass(frozen=True)
class CheckedHour:
    """One hour as the checker recomputed it."""

    hour_index: int
    product_code: str
    batch_id: str
    products_present: tuple[str, ...]
    flow_bph: float
    pumps_running: int
    ppm: float
    dra_gal: float
    dr_pct: float
    discharge_psig: float
    electric_kw: float
    energy_cost_usd: float
    dra_cost_usd: float
    tariff_usd_per_kwh: float
    tank_gal_end: float
    volume_end_bbl: float
    pump_starts: int


@dataclass
class CheckReport:
    """Verdict, violations (one line each, naming hour and rule) and recomputed costs."""

    violations: list[str] = field(default_factory=list)
    hours: list[CheckedHour] = field(default_factory=list)
    energy_cost_usd: float = 0.0
    dra_cost_usd: float = 0.0
    demand_charge_usd: float = 0.0
    volume_bbl: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def total_cost_usd(self) -> float:
        return self.energy_cost_usd + self.dra_cost_usd + self.demand_charge_usd


def _head_psi(
    inputs: PlanInputs, product_code: str, flow_bph: float, n: int, speed: float
) -> float:
    skid = inputs.config.skid(inputs.skid_id)
    rho = float(fluid.density_kg_m3(inputs.config.product(product_code), _temperature(inputs)))
    head_ft = n * float(energy.pump_head_ft(skid.pumps[0], flow_bph, speed))
    return float(pa_to_psi(ft_to_m(head_ft) * rho * G_M_PER_S2))


def _temperature(inputs: PlanInputs) -> float:
    return inputs.nominations.temperature_degf


def check_plan(
    inputs: PlanInputs, plan: list[PlannedHour], *, volume_tolerance_bbl: float = 0.0
) -> CheckReport:
    """Recompute and check ``plan`` (one entry per hour of ``inputs``).

    ``volume_tolerance_bbl`` is how far beyond the nominated total the plan may pump
    (one flow step of a discrete-flow plan; 0 otherwise).
    """
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    pump = skid.pumps[0]
    seg = skid.segment
    limit_psig = seg.maop_psig - seg.maop_margin_psig
    report = CheckReport()
    if len(plan) != inputs.hours:
        report.violations.append(f"plan has {len(plan)} hours, the horizon {inputs.hours}")
        return report
    ends = inputs.batch_end_bbl
    volume = 0.0
    tank = inputs.nominations.initial_tank_gal + inputs.delivery_gal_at_hour[0]
    previous_pumps = inputs.nominations.initial_pumps_running
    starts_by_day: dict[int, int] = {}
    peak_kw = 0.0
    if tank > skid.tank_capacity_gal + _GAL_TOL:
        report.violations.append(f"hour 0: DRA tank {tank:.0f} gal above capacity")
    for h, step in enumerate(plan):
        when = inputs.hour_starts[h]
        tag = f"hour {h} ({when.isoformat()})"
        flow, n, ppm = step.flow_bph, step.pumps_running, step.ppm
        present = batches_in_interval(ends, volume, volume + flow)
        start_batch = batch_at(ends, volume)
        products = tuple(dict.fromkeys(inputs.batches[b].product_code for b in present))
        if flow < 0 or ppm < 0 or n < 0:
            report.violations.append(f"{tag}: negative flow, ppm or pump count")
        if n > len(skid.pumps):
            report.violations.append(f"{tag}: {n} pumps, the station has {len(skid.pumps)}")
        if (flow > 0) != (n > 0):
            report.violations.append(f"{tag}: flow {flow:.0f} bbl/h with {n} pumps running")
        if flow > 0 and not pump.min_flow_bph - 1e-6 <= flow <= pump.max_flow_bph + 1e-6:
            report.violations.append(f"{tag}: flow {flow:.0f} bbl/h outside the pumps' range")
        if ppm > _PPM_TOL and flow < skid.min_flow_for_injection_bph:
            report.violations.append(f"{tag}: {ppm:.2f} ppm below the injection minimum flow")
        gph = float(dra.dra_gph_for_ppm(ppm, flow))
        if gph > skid.max_injection_gph + _GAL_TOL:
            report.violations.append(f"{tag}: injection {gph:.1f} gal/h above the pump's maximum")
        kw = 0.0
        dr_pct = 0.0
        discharge = 0.0
        for b in present:
            code = inputs.batches[b].product_code
            limit_ppm = config.product(code).max_dra_ppm
            if ppm > limit_ppm + _PPM_TOL:
                report.violations.append(
                    f"{tag}: {ppm:.3f} ppm in {code} (batch {inputs.batches[b].batch_id}), "
                    f"limit {limit_ppm:g} ppm"
                )
            if flow <= 0:
                continue
            op = evaluate_operating_point(
                config, inputs.skid_id, flow, min(ppm, limit_ppm), code, _temperature(inputs), when
            )
            if op.discharge_psig_required > limit_psig + _PSI_TOL:
                report.violations.append(
                    f"{tag}: discharge {op.discharge_psig_required:.1f} psig with {code} above "
                    f"MAOP less margin ({limit_psig:.0f} psig)"
                )
            dp = op.discharge_psig_required - skid.nominal_suction_psig
            if n > 0 and dp > _head_psi(inputs, code, flow, n, pump.max_speed_frac) + _PSI_TOL:
                report.violations.append(f"{tag}: {n} pumps cannot make {dp:.0f} psi with {code}")
            if n > 0 and dp < _head_psi(inputs, code, flow, n, pump.min_speed_frac) - _PSI_TOL:
                report.violations.append(
                    f"{tag}: {n} pumps at minimum speed give more than {dp:.0f} psi with {code}"
                )
            if b == start_batch or (start_batch not in present and b == present[0]):
                kw = op.electric_kw
                dr_pct = op.dr_expected_pct
            discharge = max(discharge, op.discharge_psig_required)
        gal = gph  # one hour at constant rate
        tank -= gal
        if tank < -_GAL_TOL:
            report.violations.append(f"{tag}: DRA tank runs dry ({tank:.1f} gal)")
        tank += inputs.delivery_gal_at_hour[h + 1]
        if tank > skid.tank_capacity_gal + _GAL_TOL:
            report.violations.append(f"{tag}: DRA tank {tank:.0f} gal above capacity")
        volume += flow
        starts = max(0, n - previous_pumps)
        previous_pumps = n
        day = inputs.day_of_hour[h]
        starts_by_day[day] = starts_by_day.get(day, 0) + starts
        price = inputs.price_usd_per_kwh[h]
        energy_cost = kw * price
        dra_cost = gal * config.dra.price_usd_per_gal
        report.energy_cost_usd += energy_cost
        report.dra_cost_usd += dra_cost
        peak_kw = max(peak_kw, kw)
        report.hours.append(
            CheckedHour(
                hour_index=h,
                product_code=inputs.batches[start_batch].product_code,
                batch_id=inputs.batches[start_batch].batch_id,
                products_present=products,
                flow_bph=flow,
                pumps_running=n,
                ppm=ppm,
                dra_gal=gal,
                dr_pct=dr_pct,
                discharge_psig=discharge,
                electric_kw=kw,
                energy_cost_usd=energy_cost,
                dra_cost_usd=dra_cost,
                tariff_usd_per_kwh=price,
                tank_gal_end=tank,
                volume_end_bbl=volume,
                pump_starts=starts,
            )
        )
        for b, d in enumerate(inputs.deadline_hour):
            if d is not None and max(d, 0) == h + 1 and volume < ends[b] - _BBL_TOL:
                report.violations.append(
                    f"{tag}: batch {inputs.batches[b].batch_id} due; {volume:,.0f} bbl pumped "
                    f"of the {ends[b]:,.0f} needed by then"
                )
    for b, d in enumerate(inputs.deadline_hour):
        if d is not None and d <= 0 and ends[b] > 0:
            report.violations.append(
                f"batch {inputs.batches[b].batch_id} is due before the first hour ends"
            )
    for day, count in sorted(starts_by_day.items()):
        if count > skid.max_pump_starts_per_day:
            report.violations.append(
                f"day {day}: {count} pump starts, at most {skid.max_pump_starts_per_day}"
            )
    if volume > inputs.total_bbl + volume_tolerance_bbl + _BBL_TOL:
        report.violations.append(
            f"pumps {volume:,.0f} bbl, beyond the {inputs.total_bbl:,.0f} bbl nominated"
        )
    report.demand_charge_usd = config.tariff.demand_charge_usd_per_kw * peak_kw
    report.volume_bbl = volume
    return report
