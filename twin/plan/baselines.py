"""Today's practice, as a plan: the operator rule the optimiser is measured against.

Operators run a constant flow, the smallest that meets every deadline, with a fixed
ppm in every product that allows DRA (none in jet fuel), the fewest pumps that make
the head; where that flow would break MAOP for the product passing (jet fuel without
DRA, typically) they slow down to the highest flow that keeps it. The result is an
hourly plan like the optimiser's, costed by the same checker (the same steady-state
model) so the saving compares like with like.
"""

from __future__ import annotations

from twin import fluid
from twin.operating_point import evaluate_operating_point, pumps_required
from twin.plan.batches import batches_in_interval
from twin.plan.checker import PlannedHour
from twin.plan.inputs import PlanInputs

__all__ = ["operator_rule_plan"]


def _ok(inputs: PlanInputs, flow: float, ppm: float, products: list[str]) -> int | None:
    """Fewest pumps that run ``flow`` at ``ppm`` within MAOP for every product, or None."""
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    limit = skid.segment.maop_psig - skid.segment.maop_margin_psig
    n_needed = 0
    for code in products:
        op = evaluate_operating_point(
            config,
            inputs.skid_id,
            flow,
            min(ppm, config.product(code).max_dra_ppm),
            code,
            inputs.nominations.temperature_degf,
            inputs.hour_starts[0],
        )
        if op.discharge_psig_required > limit or op.pumps_required is None:
            return None
        n = pumps_required(
            config,
            inputs.skid_id,
            flow,
            op.discharge_psig_required - skid.nominal_suction_psig,
            _density(inputs, code),
        )
        if n is None:
            return None
        n_needed = max(n_needed, n)
    return n_needed


def _density(inputs: PlanInputs, code: str) -> float:
    return float(
        fluid.density_kg_m3(inputs.config.product(code), inputs.nominations.temperature_degf)
    )


def _hour(inputs: PlanInputs, volume: float, wanted: float) -> PlannedHour:
    """One hour at ``wanted`` bbl/h, slowed where MAOP requires it."""
    config = inputs.config
    skid = config.skid(inputs.skid_id)
    pump = skid.pumps[0]
    flow = max(wanted, pump.min_flow_bph)
    present = batches_in_interval(inputs.batch_end_bbl, volume, volume + flow)
    products = sorted({inputs.batches[b].product_code for b in present})
    ppm = min([inputs.nominations.operator_ppm] + [config.product(p).max_dra_ppm for p in products])
    while flow >= pump.min_flow_bph:
        ppm_here = ppm if flow >= skid.min_flow_for_injection_bph else 0.0
        n = _ok(inputs, flow, ppm_here, products)
        if n is not None:
            return PlannedHour(flow_bph=flow, pumps_running=n, ppm=ppm_here)
        flow -= 250.0
    return PlannedHour(flow_bph=0.0, pumps_running=0, ppm=0.0)


def _simulate(inputs: PlanInputs, flow_bph: float) -> tuple[list[PlannedHour], bool]:
    plan: list[PlannedHour] = []
    volume = 0.0
    meets = True
    for h in range(inputs.hours):
        remaining = inputs.total_bbl - volume
        if remaining <= 1e-6:
            plan.append(PlannedHour(0.0, 0, 0.0))
            continue
        step = _hour(inputs, volume, min(flow_bph, remaining))
        plan.append(step)
        volume += step.flow_bph
        for b, d in enumerate(inputs.deadline_hour):
            if d is not None and d == h + 1 and volume < inputs.batch_end_bbl[b] - 1e-6:
                meets = False
    return plan, meets


def operator_rule_plan(inputs: PlanInputs) -> list[PlannedHour] | None:
    """The operator-rule plan; ``None`` when no constant flow meets the deadlines."""
    pump = inputs.config.skid(inputs.skid_id).pumps[0]
    low, high = pump.min_flow_bph, pump.max_flow_bph
    _plan, meets = _simulate(inputs, high)
    if not meets:
        return None
    for _ in range(20):
        mid = 0.5 * (low + high)
        if _simulate(inputs, mid)[1]:
            high = mid
        else:
            low = mid
        if high - low < 50.0:
            break
    return _simulate(inputs, high)[0]
