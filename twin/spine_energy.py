"""Energy, hydraulics and DRA effectiveness of spine rows, vectorised over many rows.

Observed drag reduction compares the friction loss the skid actually sees (discharge
minus downstream pressure minus the elevation head) with the twin's friction loss
with no DRA at the same flow and fluid; the expected one comes from the product's DR
curve at the injected ppm (after shear by a running pump downstream, when the skid
has one). Electric power is the meter's when the row has it, otherwise the pump
model's; the no-DRA counterfactual adds back the friction DRA removed.

Every figure comes from :mod:`twin.dra`, :mod:`twin.energy`, :mod:`twin.fluid` and
:mod:`twin.hydraulics`, the same functions the what-if and the planner use. A figure
whose inputs are missing is ``None``, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from schemas.energy import EnergyRow, PowerSource
from schemas.site_config import SiteConfig
from schemas.spine import SpinePoint
from twin import dra, energy, fluid, hydraulics
from twin._arrays import FloatArray

__all__ = ["energy_rows"]

_INPUTS = (
    "line_flow_bph",
    "dra_injection_gph",
    "suction_psig",
    "discharge_psig",
    "downstream_psig",
    "temperature_degf",
    "density_kg_m3",
    "pump_power_kw",
    "pumps_running",
)


def _column(points: Sequence[SpinePoint], signal: str) -> FloatArray:
    """Interval means of one signal (filled values included; MISSING is NaN)."""
    return np.array(
        [np.nan if (m := getattr(p, signal).mean) is None else m for p in points], dtype=float
    )


def _opt(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def energy_rows(points: Sequence[SpinePoint], config: SiteConfig) -> list[EnergyRow]:
    """One :class:`EnergyRow` per spine point, in the order given.

    Rows of an unknown skid raise ``KeyError`` (the config is the only source of the
    segment and pumps); an unknown or missing product leaves the product-dependent
    figures ``None``.
    """
    out: list[EnergyRow | None] = [None] * len(points)
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault((p.skid_id, p.product_code), []).append(i)
    tariffs: dict[datetime, float] = {}
    for (skid_id, product_code), index in groups.items():
        group = [points[i] for i in index]
        for i, row in zip(
            index, _group_rows(group, skid_id, product_code, config, tariffs), strict=True
        ):
            out[i] = row
    return [row for row in out if row is not None]


def _group_rows(
    points: list[SpinePoint],
    skid_id: str,
    product_code: str | None,
    config: SiteConfig,
    tariffs: dict[datetime, float],
) -> list[EnergyRow]:
    skid = config.skid(skid_id)
    seg = skid.segment
    pump = skid.pumps[0]
    col = {name: _column(points, name) for name in _INPUTS}
    interval_s = np.array([p.interval_s for p in points], dtype=float)
    flow = col["line_flow_bph"]
    gph = col["dra_injection_gph"]
    temperature = col["temperature_degf"]
    nan = np.full(len(points), np.nan)

    ppm = np.asarray(dra.ppm_from_injection(gph, flow), dtype=float)
    if skid.pump_downstream_of_injection:
        ppm = np.asarray(
            dra.ppm_after_shear(ppm, col["pumps_running"] > 0, config.dra.shear_retention_frac),
            dtype=float,
        )
    product = config.products.get(product_code) if product_code is not None else None
    ed = hydraulics.relative_roughness(seg)
    if product is not None:
        rho_model = np.asarray(fluid.density_kg_m3(product, temperature), dtype=float)
        rho = np.where(np.isnan(col["density_kg_m3"]), rho_model, col["density_kg_m3"])
        nu = np.asarray(fluid.kinematic_viscosity_m2_s(product, temperature), dtype=float)
        re = np.asarray(hydraulics.reynolds(seg, flow, nu), dtype=float)
        f = np.asarray(hydraulics.darcy_friction_factor(re, ed), dtype=float)
        loss_no_dra = np.asarray(hydraulics.friction_loss_psi(seg, flow, rho, f), dtype=float)
        elevation = np.asarray(hydraulics.elevation_head_psi(seg, rho), dtype=float)
        loss = col["discharge_psig"] - col["downstream_psig"] - elevation
        dr_obs = np.asarray(dra.dr_observed_pct(loss, loss_no_dra), dtype=float)
        curve = config.dra.curves.get(product_code or "")
        dr_exp = np.asarray(dra.dr_expected_pct(curve, ppm), dtype=float)
        dr_exp = np.where(np.isnan(ppm), np.nan, dr_exp)
        eff = np.asarray(dra.effectiveness(dr_obs, dr_exp), dtype=float)
    else:
        re = f = loss_no_dra = loss = dr_obs = dr_exp = eff = nan

    dp = col["discharge_psig"] - col["suction_psig"]
    # Without DRA the pumps would have to add back the friction DRA took away.
    dp_no_dra = dp + (loss_no_dra - loss)
    w2w = np.asarray(energy.wire_to_water_efficiency(pump, flow), dtype=float)
    kw_model = np.asarray(energy.electric_kw(energy.hydraulic_kw(flow, dp), w2w), dtype=float)
    kw_model_no = np.asarray(
        energy.electric_kw(energy.hydraulic_kw(flow, dp_no_dra), w2w), dtype=float
    )
    measured = col["pump_power_kw"]
    has_meter = ~np.isnan(measured)
    kw = np.where(has_meter, measured, kw_model)
    kw_no = np.where(
        has_meter,
        np.asarray(energy.scale_kw_to_dp(measured, dp, dp_no_dra), dtype=float),
        kw_model_no,
    )
    hours = interval_s / 3600.0
    kwh = kw * hours
    kwh_no = kw_no * hours
    volume = flow * hours
    per_bbl = np.asarray(energy.kwh_per_bbl(kwh, volume), dtype=float)
    tariff = np.array([_tariff(config, p.grid_ts, tariffs) for p in points], dtype=float)
    cost = kwh * tariff
    cost_no = kwh_no * tariff
    dra_gal = gph * hours
    dra_cost = dra_gal * config.dra.price_usd_per_gal
    net = (cost_no - cost) - dra_cost

    rows = []
    for i, p in enumerate(points):
        source = (
            PowerSource.MEASURED
            if has_meter[i]
            else (PowerSource.MODELLED if np.isfinite(kw_model[i]) else PowerSource.NONE)
        )
        rows.append(
            EnergyRow(
                skid_id=p.skid_id,
                grid_ts=p.grid_ts,
                interval_s=p.interval_s,
                revision=p.revision,
                product_code=p.product_code,
                line_flow_bph=_opt(flow[i]),
                volume_bbl=_opt(volume[i]),
                dra_ppm=_opt(ppm[i]),
                reynolds=_opt(re[i]),
                relative_roughness=ed if product is not None else None,
                darcy_friction_factor=_opt(f[i]),
                friction_loss_psi=_opt(loss[i]),
                friction_loss_psi_no_dra=_opt(loss_no_dra[i]),
                dr_observed_pct=_opt(dr_obs[i]),
                dr_expected_pct=_opt(dr_exp[i]),
                dra_effectiveness=_opt(eff[i]),
                electric_kw=_opt(kw[i]),
                electric_kw_no_dra=_opt(kw_no[i]),
                power_source=source,
                electric_kwh=_opt(kwh[i]),
                electric_kwh_no_dra=_opt(kwh_no[i]),
                kwh_per_bbl=_opt(per_bbl[i]),
                tariff_usd_per_kwh=_opt(tariff[i]),
                energy_cost_usd=_opt(cost[i]),
                energy_cost_usd_no_dra=_opt(cost_no[i]),
                dra_gal=_opt(dra_gal[i]),
                dra_cost_usd=_opt(dra_cost[i]),
                net_benefit_usd=_opt(net[i]),
            )
        )
    return rows


def _tariff(config: SiteConfig, ts: datetime, cache: dict[datetime, float]) -> float:
    """Price in force at ``ts``, looked up once per minute of the day."""
    minute = ts.replace(second=0, microsecond=0)
    if minute not in cache:
        cache[minute] = config.tariff.price_usd_per_kwh(minute)
    return cache[minute]
