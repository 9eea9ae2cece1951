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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from schemas.energy import EnergyRow, PowerSource
from schemas.site_config import SiteConfig
from schemas.spine import SpinePoint
from twin import dra, energy, fluid, hydraulics
from twin._arrays import FloatArray

__all__ = ["ENERGY_FIGURES", "SPINE_INPUTS", "EnergyColumns", "energy_columns", "energy_rows"]

SPINE_INPUTS: tuple[str, ...] = (
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
"""Signals whose interval means the energy figures need."""

ENERGY_FIGURES: tuple[str, ...] = (
    "line_flow_bph",
    "volume_bbl",
    "dra_ppm",
    "reynolds",
    "relative_roughness",
    "darcy_friction_factor",
    "friction_loss_psi",
    "friction_loss_psi_no_dra",
    "dr_observed_pct",
    "dr_expected_pct",
    "dra_effectiveness",
    "electric_kw",
    "electric_kw_no_dra",
    "electric_kwh",
    "electric_kwh_no_dra",
    "kwh_per_bbl",
    "tariff_usd_per_kwh",
    "energy_cost_usd",
    "energy_cost_usd_no_dra",
    "dra_gal",
    "dra_cost_usd",
    "net_benefit_usd",
)
"""The float fields of :class:`EnergyRow`, in its order."""

_TARIFF_STEP_S = 900
"""Tariff periods start on whole local hours and every UTC offset in use is a multiple
of 15 minutes, so the price is constant over each UTC quarter hour: looked up once."""


@dataclass(frozen=True)
class EnergyColumns:
    """Energy figures of many spine rows, one array per field of :class:`EnergyRow`
    (``figures`` keyed by :data:`ENERGY_FIGURES`, NaN where the row has ``None``)."""

    figures: dict[str, FloatArray]
    power_source: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.power_source.shape[0])


def _column(points: Sequence[SpinePoint], signal: str) -> FloatArray:
    """Interval means of one signal (filled values included; MISSING is NaN)."""
    return np.array(
        [np.nan if (m := getattr(p, signal).mean) is None else m for p in points], dtype=float
    )


def _opt(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def energy_columns(
    skid_ids: Sequence[str],
    product_codes: Sequence[str | None],
    means: Mapping[str, FloatArray],
    interval_s: FloatArray,
    grid_ts_s: FloatArray,
    config: SiteConfig,
) -> EnergyColumns:
    """Energy figures of spine rows given as columns: ``means`` holds the interval mean
    of every signal of :data:`SPINE_INPUTS` (NaN when MISSING), ``grid_ts_s`` the grid
    start in epoch seconds. Rows are computed together per (skid, product).

    Rows of an unknown skid raise ``KeyError`` (the config is the only source of the
    segment and pumps); an unknown or missing product leaves the product-dependent
    figures NaN.
    """
    n = len(skid_ids)
    figures = {name: np.full(n, np.nan) for name in ENERGY_FIGURES}
    power_source = np.full(n, PowerSource.NONE.value, dtype="<U8")
    tariffs = _tariffs(config, grid_ts_s)
    for (skid_id, product_code), at in _groups(skid_ids, product_codes).items():
        group = _group_figures(
            {name: np.asarray(means[name], dtype=float)[at] for name in SPINE_INPUTS},
            np.asarray(interval_s, dtype=float)[at],
            tariffs[at],
            skid_id,
            product_code,
            config,
        )
        for name in ENERGY_FIGURES:
            figures[name][at] = group.figures[name]
        power_source[at] = group.power_source
    return EnergyColumns(figures=figures, power_source=power_source)


def _groups(
    skid_ids: Sequence[str], product_codes: Sequence[str | None]
) -> dict[tuple[str, str | None], npt.NDArray[np.int64]]:
    """Row positions per distinct ``(skid, product)``, ascending, in order of first
    appearance (rows are looked up in C: a Python step per row cost more than a
    batch's figures)."""
    keys = list(zip(skid_ids, product_codes, strict=True))
    distinct = {key: code for code, key in enumerate(dict.fromkeys(keys))}
    if len(distinct) == 1:
        return {keys[0]: np.arange(len(keys), dtype=np.int64)}
    codes = np.fromiter(map(distinct.__getitem__, keys), dtype=np.int64, count=len(keys))
    return {key: np.flatnonzero(codes == code) for key, code in distinct.items()}


def energy_rows(points: Sequence[SpinePoint], config: SiteConfig) -> list[EnergyRow]:
    """One :class:`EnergyRow` per spine point, in the order given: the same
    :func:`energy_columns`, read off the points' interval means."""
    cols = energy_columns(
        [p.skid_id for p in points],
        [p.product_code for p in points],
        {name: _column(points, name) for name in SPINE_INPUTS},
        np.array([p.interval_s for p in points], dtype=float),
        np.array([p.grid_ts.timestamp() for p in points], dtype=float),
        config,
    )
    figures = {name: cols.figures[name].tolist() for name in ENERGY_FIGURES}
    rows = []
    for i, p in enumerate(points):
        rows.append(
            EnergyRow(
                skid_id=p.skid_id,
                grid_ts=p.grid_ts,
                interval_s=p.interval_s,
                revision=p.revision,
                product_code=p.product_code,
                power_source=PowerSource(str(cols.power_source[i])),
                **{name: _opt(figures[name][i]) for name in ENERGY_FIGURES},
            )
        )
    return rows


def _group_figures(
    col: dict[str, FloatArray],
    interval_s: FloatArray,
    tariff: FloatArray,
    skid_id: str,
    product_code: str | None,
    config: SiteConfig,
) -> EnergyColumns:
    skid = config.skid(skid_id)
    seg = skid.segment
    pump = skid.pumps[0]
    flow = col["line_flow_bph"]
    gph = col["dra_injection_gph"]
    temperature = col["temperature_degf"]
    nan = np.full(flow.shape[0], np.nan)

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
        roughness = np.full(flow.shape[0], ed)
    else:
        re = f = loss_no_dra = loss = dr_obs = dr_exp = eff = roughness = nan

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
    cost = kwh * tariff
    cost_no = kwh_no * tariff
    dra_gal = gph * hours
    dra_cost = dra_gal * config.dra.price_usd_per_gal
    net = (cost_no - cost) - dra_cost
    source = np.where(
        has_meter,
        PowerSource.MEASURED.value,
        np.where(np.isfinite(kw_model), PowerSource.MODELLED.value, PowerSource.NONE.value),
    )
    figures = {
        "line_flow_bph": flow,
        "volume_bbl": volume,
        "dra_ppm": ppm,
        "reynolds": re,
        "relative_roughness": roughness,
        "darcy_friction_factor": f,
        "friction_loss_psi": loss,
        "friction_loss_psi_no_dra": loss_no_dra,
        "dr_observed_pct": dr_obs,
        "dr_expected_pct": dr_exp,
        "dra_effectiveness": eff,
        "electric_kw": kw,
        "electric_kw_no_dra": kw_no,
        "electric_kwh": kwh,
        "electric_kwh_no_dra": kwh_no,
        "kwh_per_bbl": per_bbl,
        "tariff_usd_per_kwh": tariff,
        "energy_cost_usd": cost,
        "energy_cost_usd_no_dra": cost_no,
        "dra_gal": dra_gal,
        "dra_cost_usd": dra_cost,
        "net_benefit_usd": net,
    }
    return EnergyColumns(
        figures={k: np.asarray(v, dtype=float) for k, v in figures.items()},
        power_source=np.asarray(source, dtype="<U8"),
    )


def _tariffs(config: SiteConfig, grid_ts_s: FloatArray) -> FloatArray:
    """Price in force at each time (epoch seconds), looked up once per quarter hour."""
    steps = np.floor(np.asarray(grid_ts_s, dtype=float) / _TARIFF_STEP_S).astype(np.int64)
    unique, inverse = np.unique(steps, return_inverse=True)
    prices = np.array(
        [
            config.tariff.price_usd_per_kwh(
                datetime.fromtimestamp(int(step) * _TARIFF_STEP_S, tz=UTC)
            )
            for step in unique.tolist()
        ],
        dtype=float,
    )
    return prices[inverse.reshape(-1)] if unique.size else np.zeros(0)
