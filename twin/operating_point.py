"""A steady operating point of one skid: what a flow and a ppm cost, with and without DRA.

This is the model behind ``dra-twin what-if``, the planner's baselines and the
counterfactual of the streaming job: one code path for all three.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from schemas.site_config import SiteConfig
from twin import dra, energy, fluid, hydraulics
from twin.units import ft_to_m, psi_to_pa

__all__ = ["DraLimitError", "OperatingPoint", "evaluate_operating_point", "pumps_required"]


class DraLimitError(ValueError):
    """A ppm above the product's fuel-quality limit (any DRA in jet fuel)."""


class OperatingPoint(BaseModel):
    """Every figure of one steady operating point, with units in the names."""

    model_config = ConfigDict(frozen=True)

    skid_id: str
    product_code: str
    line_flow_bph: float
    temperature_degf: float
    tariff_usd_per_kwh: float
    ppm: float
    dra_gph: float
    reynolds: float
    relative_roughness: float
    darcy_friction_factor: float
    dr_expected_pct: float
    friction_loss_psi: float
    friction_loss_psi_no_dra: float
    elevation_head_psi: float
    discharge_psig_required: float
    discharge_psig_required_no_dra: float
    maop_psig: float
    within_maop: bool
    within_maop_no_dra: bool
    pumps_required: int | None
    electric_kw: float
    electric_kw_no_dra: float
    kwh_per_bbl: float
    energy_cost_usd_per_h: float
    energy_cost_usd_per_h_no_dra: float
    dra_cost_usd_per_h: float
    net_benefit_usd_per_h: float


def pumps_required(
    config: SiteConfig, skid_id: str, flow_bph: float, dp_psi: float, density_kg_m3: float
) -> int | None:
    """Fewest series pumps whose full-speed head at ``flow_bph`` covers ``dp_psi``;
    ``None`` when even all of them cannot (or the flow is off their curve)."""
    skid = config.skid(skid_id)
    pump = skid.pumps[0]
    if not pump.min_flow_bph <= flow_bph <= pump.max_flow_bph:
        return None
    head_needed_ft = psi_to_pa(dp_psi) / (density_kg_m3 * 9.80665) / ft_to_m(1.0)
    head_one_ft = float(energy.pump_head_ft(pump, flow_bph, pump.max_speed_frac))
    for n in range(1, len(skid.pumps) + 1):
        if n * head_one_ft >= head_needed_ft:
            return n
    return None


def evaluate_operating_point(
    config: SiteConfig,
    skid_id: str,
    flow_bph: float,
    ppm: float,
    product_code: str,
    temperature_degf: float,
    at: datetime,
) -> OperatingPoint:
    """Evaluate one operating point.

    Raises:
        KeyError: unknown skid or product.
        DraLimitError: ``ppm`` above the product's DRA limit.
        ValueError: a non-positive flow or negative ppm.
    """
    skid = config.skid(skid_id)
    product = config.product(product_code)
    if flow_bph <= 0:
        raise ValueError(f"flow_bph must be positive, got {flow_bph}")
    if ppm < 0:
        raise ValueError(f"ppm must not be negative, got {ppm}")
    if ppm > product.max_dra_ppm:
        raise DraLimitError(
            f"{ppm:g} ppm exceeds the DRA limit of {product_code} "
            f"({product.max_dra_ppm:g} ppm)"
            + ("; DRA is forbidden in this product" if product.max_dra_ppm == 0 else "")
        )
    seg = skid.segment
    rho = float(fluid.density_kg_m3(product, temperature_degf))
    nu = float(fluid.kinematic_viscosity_m2_s(product, temperature_degf))
    re = float(hydraulics.reynolds(seg, flow_bph, nu))
    ed = hydraulics.relative_roughness(seg)
    f = float(hydraulics.darcy_friction_factor(re, ed))
    loss_no_dra = float(hydraulics.friction_loss_psi(seg, flow_bph, rho, f))
    dr_pct = float(dra.dr_expected_pct(config.dra.curves.get(product_code), ppm))
    loss = loss_no_dra * (1.0 - dr_pct / 100.0)
    elev = float(hydraulics.elevation_head_psi(seg, rho))
    p_req = seg.delivery_psig + elev + loss
    p_req_no_dra = seg.delivery_psig + elev + loss_no_dra
    suction = skid.nominal_suction_psig
    eff = float(energy.wire_to_water_efficiency(skid.pumps[0], flow_bph))
    kw = float(energy.electric_kw(energy.hydraulic_kw(flow_bph, p_req - suction), eff))
    kw_no = float(energy.electric_kw(energy.hydraulic_kw(flow_bph, p_req_no_dra - suction), eff))
    tariff = config.tariff.price_usd_per_kwh(at)
    gph = float(dra.dra_gph_for_ppm(ppm, flow_bph))
    cost = kw * tariff
    cost_no = kw_no * tariff
    dra_cost = gph * config.dra.price_usd_per_gal
    return OperatingPoint(
        skid_id=skid_id,
        product_code=product_code,
        line_flow_bph=flow_bph,
        temperature_degf=temperature_degf,
        tariff_usd_per_kwh=tariff,
        ppm=ppm,
        dra_gph=gph,
        reynolds=re,
        relative_roughness=ed,
        darcy_friction_factor=f,
        dr_expected_pct=dr_pct,
        friction_loss_psi=loss,
        friction_loss_psi_no_dra=loss_no_dra,
        elevation_head_psi=elev,
        discharge_psig_required=p_req,
        discharge_psig_required_no_dra=p_req_no_dra,
        maop_psig=seg.maop_psig,
        within_maop=p_req <= seg.maop_psig,
        within_maop_no_dra=p_req_no_dra <= seg.maop_psig,
        pumps_required=pumps_required(config, skid_id, flow_bph, p_req - suction, rho),
        electric_kw=kw,
        electric_kw_no_dra=kw_no,
        kwh_per_bbl=kw / flow_bph,
        energy_cost_usd_per_h=cost,
        energy_cost_usd_per_h_no_dra=cost_no,
        dra_cost_usd_per_h=dra_cost,
        net_benefit_usd_per_h=(cost_no - cost) - dra_cost,
    )
