"""Physics-consistent skid telemetry, deterministic by seed, with injectable faults.

The simulator drives the same twin code the product runs (fluid properties, Darcy
friction from ``fluids``, the DR curve, pump heads and efficiencies), so a detector
tested on its output is tested against physics, not against noise. Each skid moves
product through a batch sequence (jet fuel included) at a diurnally varying flow;
operators inject a fixed ppm wherever the product allows DRA and the flow is above
the injection minimum. Named faults change what the sensors report (stuck, dropout,
spike, drift), what the process does (injection pump failure, degraded DRA, DRA in
jet, pressure near MAOP, low tank) or how messages travel (duplicates, out of order,
malformed). Each fault leaves a ground-truth label of exactly where it took effect,
so detection can be scored.

Everything is vectorised per skid over the whole time range with numpy; only the
final JSON encoding loops. The same seed gives byte-identical payloads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import to_json

from schemas.site_config import SiteConfig, SkidConfig
from schemas.telemetry import NUMERIC_SIGNALS
from twin import dra, energy, fluid, hydraulics
from twin._arrays import FloatArray
from twin.units import G_M_PER_S2, ft_to_m, m_to_ft, pa_to_psi, psi_to_pa

__all__ = [
    "DEFAULT_BATCH_CYCLE",
    "BatchSpec",
    "FaultKind",
    "FaultLabel",
    "FaultSpec",
    "SimulatedMessage",
    "Simulation",
    "SimulationSpec",
    "mqtt_topic",
    "simulate",
]

BoolArray = npt.NDArray[np.bool_]


class FaultKind(StrEnum):
    """Faults the simulator can inject; each is labelled where it took effect."""

    STUCK_SENSOR = "stuck_sensor"
    DROPOUT = "dropout"
    SPIKE = "spike"
    DRIFT = "drift"
    INJECTION_PUMP_FAILURE = "injection_pump_failure"
    DEGRADED_DRA = "degraded_dra"
    DRA_IN_JET = "dra_in_jet"
    PRESSURE_OVER_MAOP_MARGIN = "pressure_over_maop_margin"
    LOW_TANK = "low_tank"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    MALFORMED = "malformed"


_SENSOR_FAULTS = {FaultKind.STUCK_SENSOR, FaultKind.SPIKE, FaultKind.DRIFT}
_TRANSPORT_DETAIL = {
    FaultKind.DUPLICATE: "messages published twice",
    FaultKind.OUT_OF_ORDER: "messages published in reversed blocks of 5",
    FaultKind.MALFORMED: "messages garbled or with invalid values",
}
_TRANSPORT_FAULTS = set(_TRANSPORT_DETAIL)
_DEFAULT_SIGNAL: dict[FaultKind, str] = {
    FaultKind.STUCK_SENSOR: "discharge_psig",
    FaultKind.SPIKE: "discharge_psig",
    FaultKind.DRIFT: "line_flow_bph",
}
_DEFAULT_MAGNITUDE: dict[FaultKind, float] = {
    FaultKind.SPIKE: 0.25,  # +25 % of the true value while the spike lasts
    FaultKind.DRIFT: 0.05,  # +5 % at the end of the window, linear from 0
    FaultKind.DEGRADED_DRA: 0.35,  # DRA delivers 35 % of the curve's drag reduction
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FaultSpec(_Spec):
    """One fault on one skid over ``[start, end)``.

    ``signal`` picks the sensor for stuck/spike/drift (default per kind) and, for a
    dropout, the one signal that goes null; a dropout with no signal silences the
    whole skid. ``magnitude`` is fractional for spike and drift (0.25 = +25 %) and
    the effectiveness kept for degraded DRA.
    """

    kind: FaultKind
    skid_id: str
    start: AwareDatetime
    end: AwareDatetime
    signal: str | None = None
    magnitude: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end <= self.start:
            raise ValueError("fault end must be after its start")
        if self.signal is not None and self.signal not in NUMERIC_SIGNALS:
            raise ValueError(f"unknown signal {self.signal!r}; expected one of {NUMERIC_SIGNALS}")
        if self.signal is not None and self.kind not in {*_SENSOR_FAULTS, FaultKind.DROPOUT}:
            raise ValueError(f"{self.kind.value} does not take a signal")
        return self


class BatchSpec(_Spec):
    """One batch of the product sequence passing the injection point."""

    product_code: str
    volume_bbl: Annotated[float, Field(gt=0.0)]


DEFAULT_BATCH_CYCLE: tuple[BatchSpec, ...] = (
    BatchSpec(product_code="ULSD", volume_bbl=300_000.0),
    BatchSpec(product_code="RBOB", volume_bbl=400_000.0),
    BatchSpec(product_code="JET", volume_bbl=180_000.0),
    BatchSpec(product_code="RBOB", volume_bbl=350_000.0),
)
"""A products-line cycle: about 17 hours at 52,000 bbl/h, with a jet batch in it."""


class SimulationSpec(_Spec):
    """What to simulate: skids, time range, sampling, seed, operating rule, faults."""

    start: AwareDatetime
    duration_s: Annotated[float, Field(gt=0.0)]
    interval_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 1.0
    seed: int = 0
    skid_ids: tuple[str, ...] | None = Field(default=None, description="None: every skid")
    faults: tuple[FaultSpec, ...] = ()
    batches: tuple[BatchSpec, ...] = DEFAULT_BATCH_CYCLE
    base_flow_bph: Annotated[float, Field(gt=0.0)] = 52_000.0
    diurnal_amplitude_frac: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.08
    operator_ppm: Annotated[float, Field(ge=0.0)] = 10.0
    initial_tank_frac: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    tank_refill_below_frac: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.15
    delivery_margin_psig: Annotated[float, Field(ge=0.0)] = 30.0

    @model_validator(mode="after")
    def _batches_nonempty(self) -> Self:
        if not self.batches:
            raise ValueError("batches must not be empty")
        return self


class FaultLabel(_Spec):
    """Ground truth: where a fault actually took effect (first and last sample)."""

    kind: FaultKind
    skid_id: str
    start: AwareDatetime
    end: AwareDatetime
    signal: str | None = None
    samples: int = Field(ge=1, description="Sample times (or messages) affected")
    detail: str = ""


@dataclass(frozen=True)
class SimulatedMessage:
    """One MQTT message as the field would publish it."""

    topic: str
    payload: bytes
    skid_id: str
    source_ts: datetime | None
    """The reading's source time; None when the payload is malformed."""


@dataclass(frozen=True)
class Simulation:
    """Messages in publish order and the ground-truth fault labels."""

    messages: list[SimulatedMessage]
    labels: list[FaultLabel]


def mqtt_topic(site_id: str, skid_id: str) -> str:
    """The telemetry topic of a skid: ``dra/<site>/<skid>/telemetry``."""
    return f"dra/{site_id}/{skid_id}/telemetry"


# --- physics of one skid over the whole range --------------------------------------


@dataclass
class _Trace:
    """True process values and what the sensors report, one array per signal."""

    ts_s: FloatArray  # seconds since the epoch
    product: npt.NDArray[np.str_]
    batch: npt.NDArray[np.str_]
    signals: dict[str, FloatArray]
    present: dict[str, BoolArray]
    send: BoolArray


def _window(ts_s: FloatArray, fault: FaultSpec) -> BoolArray:
    mask: BoolArray = (ts_s >= fault.start.timestamp()) & (ts_s < fault.end.timestamp())
    return mask


def _batches(
    spec: SimulationSpec, volume_bbl: FloatArray, skid_index: int
) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.str_]]:
    """Product and batch id at the injection point from the cumulative volume pumped."""
    cycle_bbl = sum(b.volume_bbl for b in spec.batches)
    # Each skid starts at a different point of the cycle, as stations along a line do.
    offset_bbl = (skid_index * 0.37 % 1.0) * cycle_bbl
    edges = np.cumsum([b.volume_bbl for b in spec.batches])
    pos = volume_bbl + offset_bbl
    cycle_no = np.floor(pos / cycle_bbl).astype(int)
    idx = np.searchsorted(edges, pos - cycle_no * cycle_bbl, side="right")
    codes = np.array([b.product_code for b in spec.batches])
    product = codes[idx]
    batch_no = cycle_no * len(spec.batches) + idx
    batch = np.char.add("B", np.char.zfill(batch_no.astype(str), 5))
    return product, batch


def _trace(config: SiteConfig, skid: SkidConfig, skid_index: int, spec: SimulationSpec) -> _Trace:
    rng = np.random.default_rng([spec.seed, skid_index])
    n = math.floor(spec.duration_s / spec.interval_s)
    t0 = spec.start.timestamp()
    ts_s: FloatArray = t0 + np.arange(n, dtype=np.float64) * spec.interval_s
    faults = [f for f in spec.faults if f.skid_id == skid.skid_id]

    def active(kind: FaultKind) -> BoolArray:
        mask = np.zeros(n, dtype=bool)
        for f in faults:
            if f.kind == kind:
                mask |= _window(ts_s, f)
        return mask

    # Flow: a diurnal swing (demand peaks in the afternoon) plus a slow random walk.
    hour_of_day = ((ts_s - 5 * 3600) % 86400) / 3600.0
    diurnal = spec.diurnal_amplitude_frac * np.sin(2 * np.pi * (hour_of_day - 9.0) / 24.0)
    walk_sigma = 0.002 * math.sqrt(spec.interval_s / 60.0)
    walk = np.cumsum(rng.normal(0.0, walk_sigma, n))
    walk -= np.linspace(0.0, walk[-1], n) if n else 0.0  # no drift away over long runs
    pump = skid.pumps[0]
    flow = np.clip(
        spec.base_flow_bph * (1.0 + diurnal + 0.03 * np.tanh(walk / 0.03)),
        pump.min_flow_bph,
        pump.max_flow_bph,
    )
    # Batch positions follow the scheduled flow; the pressure-limit throttle below
    # trims a few hours of it by a few percent, which moves interfaces by minutes.
    volume = np.concatenate([[0.0], np.cumsum(flow[:-1] * spec.interval_s / 3600.0)])
    product, batch = _batches(spec, volume, skid_index)

    temperature = 62.0 + 6.0 * np.sin(2 * np.pi * (hour_of_day - 10.0) / 24.0)
    rho = np.empty(n)
    nu = np.empty(n)
    max_ppm = np.empty(n)
    dr_max = np.zeros(n)
    k_ppm = np.ones(n)
    for code in np.unique(product):
        sel = product == code
        prod_cfg = config.product(str(code))
        rho[sel] = fluid.density_kg_m3(prod_cfg, temperature[sel])
        nu[sel] = fluid.kinematic_viscosity_m2_s(prod_cfg, temperature[sel])
        max_ppm[sel] = prod_cfg.max_dra_ppm
        curve = config.dra.curves.get(str(code))
        if curve is not None:
            dr_max[sel], k_ppm[sel] = curve.dr_max_pct, curve.k_ppm

    effectiveness = np.ones(n)
    for f in faults:
        if f.kind == FaultKind.DEGRADED_DRA:
            keep = f.magnitude if f.magnitude is not None else _DEFAULT_MAGNITUDE[f.kind]
            effectiveness[_window(ts_s, f)] = keep
    seg = skid.segment
    elev = np.asarray(pa_to_psi(rho * G_M_PER_S2 * ft_to_m(seg.elevation_change_ft)))
    downstream = seg.delivery_psig + spec.delivery_margin_psig + rng.normal(0.0, 1.5, n)

    def operate(flow: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Operator rule at ``flow``: injection (gal/h), pump commanded, friction (psi).

        A fixed ppm wherever the product allows it and the flow is stable enough.
        """
        may_inject = flow >= skid.min_flow_for_injection_bph
        ppm_set = np.where(may_inject, np.minimum(spec.operator_ppm, max_ppm), 0.0)
        jet_fault = active(FaultKind.DRA_IN_JET) & may_inject & (max_ppm == 0.0)
        ppm_set = np.where(jet_fault, spec.operator_ppm, ppm_set)
        gph = np.minimum(np.asarray(dra.dra_gph_for_ppm(ppm_set, flow)), skid.max_injection_gph)
        pump_on = (gph > 0).astype(float)
        failed = active(FaultKind.INJECTION_PUMP_FAILURE) & (gph > 0)
        gph = np.where(failed, 0.0, gph)  # commanded on, delivering nothing
        ppm = np.asarray(dra.ppm_from_injection(gph, flow))
        with np.errstate(invalid="ignore"):
            dr_pct = np.where(max_ppm > 0, dr_max * ppm / (k_ppm + ppm), 0.0) * effectiveness
        re = np.asarray(hydraulics.reynolds(seg, flow, nu))
        fd = np.asarray(hydraulics.darcy_friction_factor(re, hydraulics.relative_roughness(seg)))
        loss = np.asarray(hydraulics.friction_loss_psi(seg, flow, rho, fd)) * (1 - dr_pct / 100)
        return gph, pump_on, loss

    gph, pump_on, loss = operate(flow)
    # Operators throttle the flow to hold discharge below MAOP less its margin (what
    # they do with jet fuel, which gets no DRA); friction ~ Q^1.8 sets the cut.
    limit_psig = seg.maop_psig - seg.maop_margin_psig - 15.0
    over = downstream + elev + loss > limit_psig
    if over.any():
        room = np.clip((limit_psig - downstream - elev) / loss, 0.05, 1.0)
        flow = np.where(over, flow * room ** (1 / 1.8) * 0.995, flow)
        gph, pump_on, loss = operate(flow)
    discharge = downstream + elev + loss
    # A throttled valve downstream raises both pressures to just under MAOP.
    for f in faults:
        if f.kind == FaultKind.PRESSURE_OVER_MAOP_MARGIN:
            w = _window(ts_s, f)
            target = seg.maop_psig - 0.4 * seg.maop_margin_psig
            lift = np.where(w, np.clip(target - discharge, 0.0, None), 0.0)
            discharge, downstream = discharge + lift, downstream + lift
    suction = skid.nominal_suction_psig + rng.normal(0.0, 1.0, n)

    dp = discharge - suction
    head_ft = m_to_ft(psi_to_pa(dp) / (rho * G_M_PER_S2))
    head_one_ft = np.asarray(energy.pump_head_ft(pump, flow, pump.max_speed_frac))
    pumps = np.clip(np.ceil(head_ft / head_one_ft), 1, len(skid.pumps))
    eff = np.asarray(energy.wire_to_water_efficiency(pump, flow))
    kw = np.asarray(energy.electric_kw(energy.hydraulic_kw(flow, dp), eff))

    # DRA tank: consumption, and a delivery back to 90 % when it runs low.
    cap = skid.tank_capacity_gal
    used = np.concatenate([[0.0], np.cumsum(gph[:-1] * spec.interval_s / 3600.0)])
    refill_gal = (spec.initial_tank_frac - spec.tank_refill_below_frac) * cap
    span = (0.9 - spec.tank_refill_below_frac) * cap
    over = np.clip(used - refill_gal, 0.0, None)
    tank = np.where(
        used <= refill_gal, spec.initial_tank_frac * cap - used, 0.9 * cap - over % span
    )
    for f in faults:
        if f.kind == FaultKind.LOW_TANK:
            w = _window(ts_s, f)
            if w.any():
                first = int(np.argmax(w))
                low = 0.06 * cap - (used - used[first])
                tank = np.where(w, np.clip(low, 0.0, None), tank)

    signals: dict[str, FloatArray] = {
        "line_flow_bph": flow * (1.0 + rng.normal(0.0, 0.002, n)),
        "dra_injection_gph": np.where(gph > 0, gph * (1.0 + rng.normal(0.0, 0.01, n)), 0.0),
        "dra_tank_level_gal": tank + rng.normal(0.0, 2.0, n),
        "suction_psig": suction,
        "discharge_psig": discharge + rng.normal(0.0, 1.0, n),
        "downstream_psig": downstream,
        "temperature_degf": temperature + rng.normal(0.0, 0.2, n),
        "density_kg_m3": rho + rng.normal(0.0, 0.3, n),
        "pump_power_kw": kw * (1.0 + rng.normal(0.0, 0.004, n)),
        "pumps_running": pumps.astype(float),
        "injection_pump_running": pump_on,
    }
    signals["dra_tank_level_gal"] = np.clip(signals["dra_tank_level_gal"], 0.0, cap)
    present = {name: np.ones(n, dtype=bool) for name in signals}
    send = np.ones(n, dtype=bool)

    for f in faults:
        w = _window(ts_s, f)
        if not w.any() or f.kind not in {*_SENSOR_FAULTS, FaultKind.DROPOUT}:
            continue
        if f.kind == FaultKind.DROPOUT:
            if f.signal is None:
                send &= ~w
            else:
                present[f.signal] &= ~w
            continue
        name = f.signal or _DEFAULT_SIGNAL[f.kind]
        values = signals[name]
        mag = f.magnitude if f.magnitude is not None else _DEFAULT_MAGNITUDE.get(f.kind, 0.0)
        if f.kind == FaultKind.STUCK_SENSOR:
            values = np.where(w, values[int(np.argmax(w))], values)
        elif f.kind == FaultKind.SPIKE:
            values = np.where(w, values * (1.0 + mag), values)
        else:
            first = ts_s[int(np.argmax(w))]
            ramp = (ts_s - first) / (f.end.timestamp() - first)
            values = np.where(w, values * (1.0 + mag * ramp), values)
        signals[name] = values

    return _Trace(ts_s, product, batch, signals, present, send)


def _labels(
    config: SiteConfig, skid: SkidConfig, spec: SimulationSpec, trace: _Trace
) -> list[FaultLabel]:
    """Where each fault of this skid took effect; a fault with no effect is an error."""
    out: list[FaultLabel] = []
    max_ppm = np.array([config.product(str(p)).max_dra_ppm for p in trace.product])
    gph = trace.signals["dra_injection_gph"]
    commanded = trace.signals["injection_pump_running"] > 0
    for f in spec.faults:
        if f.skid_id != skid.skid_id:
            continue
        mask = _window(trace.ts_s, f)
        detail = ""
        if f.kind == FaultKind.DRA_IN_JET:
            mask &= (max_ppm == 0.0) & (gph > 0)
            detail = "DRA injected while a DRA-forbidden product passed the injection point"
        elif f.kind == FaultKind.INJECTION_PUMP_FAILURE:
            mask &= commanded
            detail = "injection pump reported running, delivering 0 gal/h"
        elif f.kind == FaultKind.DEGRADED_DRA:
            mask &= gph > 0
            keep = f.magnitude if f.magnitude is not None else _DEFAULT_MAGNITUDE[f.kind]
            detail = f"DRA delivers {keep:.0%} of the expected drag reduction"
        elif f.kind in _SENSOR_FAULTS:
            detail = f"{f.signal or _DEFAULT_SIGNAL[f.kind]} sensor"
        elif f.kind in _TRANSPORT_FAULTS:
            mask &= trace.send
            detail = _TRANSPORT_DETAIL[f.kind]
        elif f.kind == FaultKind.DROPOUT:
            detail = f"{f.signal} reported null" if f.signal else "skid silent: no messages"
        elif f.kind == FaultKind.PRESSURE_OVER_MAOP_MARGIN:
            seg = skid.segment
            detail = (
                f"discharge held at {seg.maop_psig - 0.4 * seg.maop_margin_psig:.0f} psig, inside "
                f"the {seg.maop_margin_psig:.0f} psi margin below MAOP {seg.maop_psig:.0f} psig"
            )
        elif f.kind == FaultKind.LOW_TANK:
            detail = "DRA tank at 6 % of capacity and falling, no delivery"
        if not mask.any():
            raise ValueError(
                f"fault {f.kind.value} on {f.skid_id} from {f.start.isoformat()} to "
                f"{f.end.isoformat()} has no effect (no sample in the window"
                + (f"; it needs: {detail}" if detail else "")
                + ")"
            )
        idx = np.flatnonzero(mask)
        signal = f.signal or _DEFAULT_SIGNAL.get(f.kind)
        out.append(
            FaultLabel(
                kind=f.kind,
                skid_id=f.skid_id,
                start=_utc(trace.ts_s[idx[0]]),
                end=_utc(trace.ts_s[idx[-1]] + spec.interval_s),
                signal=signal,
                samples=len(idx),
                detail=detail,
            )
        )
    return out


# --- messages ----------------------------------------------------------------------

_ROUND = {
    "line_flow_bph": 1,
    "dra_injection_gph": 3,
    "dra_tank_level_gal": 1,
    "suction_psig": 2,
    "discharge_psig": 2,
    "downstream_psig": 2,
    "temperature_degf": 2,
    "density_kg_m3": 2,
    "pump_power_kw": 1,
}
_MALFORMED_VARIANTS = (
    "truncated",
    "not_json",
    "missing_skid_id",
    "naive_timestamp",
    "sentinel",
    "wrong_type",
)


def _utc(ts_s: float) -> datetime:
    return datetime.fromtimestamp(round(ts_s, 6), tz=UTC)


def _iso(ts: datetime) -> str:
    """The JSON form pydantic gives an aware UTC datetime (``...Z``)."""
    return ts.isoformat().replace("+00:00", "Z")


def _encode(doc: dict[str, Any]) -> bytes:
    """Compact JSON, as pydantic's own (Rust) serialiser writes it: 3x ``json.dumps``."""
    return to_json(doc)


def _malformed(doc: dict[str, Any], variant: str) -> bytes:
    """A realistic broken message: garbled transport, a bad RTU value, a wrong type."""
    if variant == "truncated":
        return _encode(doc)[: len(_encode(doc)) // 2]
    if variant == "not_json":
        return f"RTU {doc['skid_id']} COMM FAIL seq={doc['seq']}".encode()
    bad = dict(doc)
    if variant == "missing_skid_id":
        del bad["skid_id"]
    elif variant == "naive_timestamp":
        bad["source_ts"] = bad["source_ts"].rstrip("Z")
    elif variant == "sentinel":
        bad["discharge_psig"] = -9999.0
    else:
        bad["line_flow_bph"] = "NaN-FAULT"
    return _encode(bad)


def _skid_messages(
    config: SiteConfig, skid: SkidConfig, spec: SimulationSpec, trace: _Trace
) -> list[tuple[float, int, SimulatedMessage]]:
    """Messages of one skid as ``(publish_key, tie, message)``; faults on transport applied."""
    topic = mqtt_topic(config.site_id, skid.skid_id)
    ts = trace.ts_s
    windows = {
        kind: [_window(ts, f) for f in spec.faults if f.skid_id == skid.skid_id and f.kind == kind]
        for kind in _TRANSPORT_FAULTS
    }

    def any_of(kind: FaultKind) -> BoolArray:
        mask = np.zeros(len(ts), dtype=bool)
        for w in windows[kind]:
            mask |= w
        return mask

    dup, ooo, bad = (
        any_of(FaultKind.DUPLICATE),
        any_of(FaultKind.OUT_OF_ORDER),
        any_of(FaultKind.MALFORMED),
    )
    columns: dict[str, list[Any]] = {}
    for name in NUMERIC_SIGNALS:
        values = trace.signals.get(name)
        if values is None:  # not measured on these skids (API gravity: density is)
            columns[name] = [None] * len(ts)
            continue
        if name == "pumps_running":
            col: list[Any] = values.astype(int).tolist()
        elif name == "injection_pump_running":
            col = (values > 0).tolist()
        else:
            col = np.round(values, _ROUND[name]).tolist()
        absent = np.flatnonzero(~trace.present[name]).tolist()
        for i in absent:
            col[i] = None
        columns[name] = col
    products, batches = trace.product.tolist(), trace.batch.tolist()
    # Out-of-order: within the window, each block of 5 samples is published reversed.
    publish_key = ts.copy()
    if ooo.any():
        idx = np.flatnonzero(ooo)
        block = (idx - idx[0]) // 5
        for b in np.unique(block):
            members = idx[block == b]
            publish_key[members] = ts[members[::-1]]
    out: list[tuple[float, int, SimulatedMessage]] = []
    for i in np.flatnonzero(trace.send).tolist():
        source_ts = _utc(float(ts[i]))
        doc: dict[str, Any] = {
            "skid_id": skid.skid_id,
            "source_ts": _iso(source_ts),
            "seq": i,
            "product_code": products[i],
            "batch_id": batches[i],
        }
        for name in NUMERIC_SIGNALS:
            doc[name] = columns[name][i]
        if bad[i]:
            variant = _MALFORMED_VARIANTS[i % len(_MALFORMED_VARIANTS)]
            msg = SimulatedMessage(topic, _malformed(doc, variant), skid.skid_id, None)
        else:
            msg = SimulatedMessage(topic, _encode(doc), skid.skid_id, source_ts)
        out.append((float(publish_key[i]), 0, msg))
        if dup[i]:
            out.append((float(publish_key[i]), 1, msg))
    return out


def simulate(config: SiteConfig, spec: SimulationSpec) -> Simulation:
    """Simulate every requested skid; messages interleaved in publish order.

    Raises:
        KeyError: a skid id (in ``skid_ids`` or a fault) or a batch product the
            config does not know.
        ValueError: a fault that would have no effect (e.g. ``dra_in_jet`` over a
            window with no jet at the injection point).
    """
    skid_ids: Sequence[str] = spec.skid_ids or tuple(s.skid_id for s in config.skids)
    for f in spec.faults:
        config.skid(f.skid_id)
    for b in spec.batches:
        config.product(b.product_code)
    keyed: list[tuple[float, int, int, SimulatedMessage]] = []
    labels: list[FaultLabel] = []
    for skid_index, skid_id in enumerate(skid_ids):
        skid = config.skid(skid_id)
        trace = _trace(config, skid, skid_index, spec)
        labels += _labels(config, skid, spec, trace)
        keyed += [
            (k, skid_index, tie, m) for k, tie, m in _skid_messages(config, skid, spec, trace)
        ]
    keyed.sort(key=lambda x: (x[0], x[1], x[2]))
    labels.sort(key=lambda lab: (lab.start, lab.skid_id, lab.kind.value))
    return Simulation([m for *_, m in keyed], labels)
