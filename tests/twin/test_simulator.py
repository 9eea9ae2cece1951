"""The simulator: deterministic, physics-consistent, and its labels match its faults."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.site_config import SiteConfig
from schemas.telemetry import TelemetryReading
from twin import dra
from twin.operating_point import evaluate_operating_point
from twin.simulator import FaultKind, FaultSpec, Simulation, SimulationSpec, simulate

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _fault(kind: FaultKind, start_h: float, end_h: float, **kw: object) -> FaultSpec:
    return FaultSpec(kind=kind, skid_id="ATL-01", start=_at(start_h), end=_at(end_h), **kw)  # type: ignore[arg-type]


def _run(config: SiteConfig, hours: float, *faults: FaultSpec, **kw: object) -> Simulation:
    spec = SimulationSpec(start=T0, duration_s=hours * 3600, faults=faults, **kw)  # type: ignore[arg-type]
    return simulate(config, spec)


def _readings(sim: Simulation) -> list[TelemetryReading]:
    return [TelemetryReading.model_validate_json(m.payload) for m in sim.messages if m.source_ts]


@pytest.fixture(scope="module")
def clean_day(site_config: SiteConfig) -> Simulation:
    return _run(site_config, 24, interval_s=10.0, seed=3)


def test_same_seed_gives_byte_identical_messages(site_config: SiteConfig) -> None:
    fault = _fault(FaultKind.MALFORMED, 0.1, 0.2)
    a = _run(site_config, 1, fault, seed=11)
    b = _run(site_config, 1, fault, seed=11)
    c = _run(site_config, 1, fault, seed=12)
    assert [m.payload for m in a.messages] == [m.payload for m in b.messages]
    assert [m.payload for m in a.messages] != [m.payload for m in c.messages]
    assert a.labels == b.labels


def test_every_wellformed_payload_is_a_valid_reading_on_the_skid_topic(
    clean_day: Simulation,
) -> None:
    readings = _readings(clean_day)
    assert len(readings) == len(clean_day.messages) == 24 * 360
    assert {m.topic for m in clean_day.messages} == {"dra/atl-pilot/ATL-01/telemetry"}
    assert [r.seq for r in readings] == list(range(len(readings)))
    assert all(
        r.source_ts == m.source_ts for r, m in zip(readings, clean_day.messages, strict=True)
    )


def test_batch_cycle_includes_jet_with_no_dra_and_operator_ppm_elsewhere(
    clean_day: Simulation, site_config: SiteConfig
) -> None:
    readings = _readings(clean_day)
    assert {r.product_code for r in readings} == {"ULSD", "RBOB", "JET"}
    for r in readings:
        assert r.line_flow_bph and r.dra_injection_gph is not None
        ppm = float(dra.ppm_from_injection(r.dra_injection_gph, r.line_flow_bph))
        if r.product_code == "JET":
            assert ppm == 0.0 and r.injection_pump_running is False
        else:
            # Operator rule of 10 ppm; flow and injection meters each carry ~1 % noise.
            assert ppm == pytest.approx(10.0, rel=0.05)


def test_pressures_follow_darcy_weisbach_with_dra_as_the_what_if_computes_it(
    clean_day: Simulation, site_config: SiteConfig
) -> None:
    """Independent path: ``evaluate_operating_point`` (the what-if) recomputes friction
    and elevation from the reading's own flow, ppm, product and temperature; the
    simulated discharge-minus-downstream must match within the sensor noise
    (1 psi + 1.5 psi sigma, plus flow and temperature noise)."""
    residuals = []
    for r in _readings(clean_day)[::20]:
        assert r.line_flow_bph and r.dra_injection_gph is not None and r.product_code
        assert r.temperature_degf and r.discharge_psig and r.downstream_psig
        ppm = float(dra.ppm_from_injection(r.dra_injection_gph, r.line_flow_bph))
        op = evaluate_operating_point(
            site_config,
            "ATL-01",
            r.line_flow_bph,
            min(ppm, site_config.product(r.product_code).max_dra_ppm),
            r.product_code,
            r.temperature_degf,
            r.source_ts,
        )
        expected = op.friction_loss_psi + op.elevation_head_psi
        residuals.append((r.discharge_psig - r.downstream_psig) - expected)
    res = np.array(residuals)
    assert abs(res.mean()) < 1.5
    assert res.std() < 6.0


def test_flow_is_throttled_to_hold_discharge_below_maop_margin(
    clean_day: Simulation, site_config: SiteConfig
) -> None:
    seg = site_config.skid("ATL-01").segment
    peak = max(r.discharge_psig or 0.0 for r in _readings(clean_day))
    assert peak < seg.maop_psig - seg.maop_margin_psig


def test_sensor_faults_change_only_their_signal_in_their_window(site_config: SiteConfig) -> None:
    stuck = _fault(FaultKind.STUCK_SENSOR, 1, 2)
    drift = _fault(FaultKind.DRIFT, 3, 4, signal="pump_power_kw", magnitude=0.1)
    clean = _readings(_run(site_config, 5, seed=5))
    faulty = _readings(_run(site_config, 5, stuck, drift, seed=5))
    in_stuck = [f for f in faulty if _at(1) <= f.source_ts < _at(2)]
    assert len({f.discharge_psig for f in in_stuck}) == 1
    for c, f in zip(clean, faulty, strict=True):
        if _at(3) <= f.source_ts < _at(4):
            assert c.pump_power_kw and f.pump_power_kw
            frac = (f.source_ts - _at(3)).total_seconds() / 3600
            assert f.pump_power_kw / c.pump_power_kw == pytest.approx(1 + 0.1 * frac, abs=1e-4)
        elif not _at(1) <= f.source_ts < _at(2):
            assert f == c


def test_injection_pump_failure_reports_running_with_no_rate_and_pressure_rises(
    site_config: SiteConfig,
) -> None:
    clean = {r.seq: r for r in _readings(_run(site_config, 2, seed=1))}
    sim = _run(site_config, 2, _fault(FaultKind.INJECTION_PUMP_FAILURE, 0.5, 1.5), seed=1)
    for r in _readings(sim):
        if _at(0.5) <= r.source_ts < _at(1.5):
            assert r.injection_pump_running is True and r.dra_injection_gph == 0.0
            assert (r.discharge_psig or 0) > (clean[r.seq].discharge_psig or 0) + 100
    (label,) = sim.labels
    assert (label.start, label.end, label.samples) == (_at(0.5), _at(1.5), 3600)


def test_dra_in_jet_label_covers_exactly_the_jet_hours_with_dra(
    clean_day: Simulation, site_config: SiteConfig
) -> None:
    jet_ts = [r.source_ts for r in _readings(clean_day) if r.product_code == "JET"]
    sim = _run(site_config, 24, _fault(FaultKind.DRA_IN_JET, 0, 24), interval_s=10.0, seed=3)
    dosed = [r.source_ts for r in _readings(sim) if r.product_code == "JET" and r.dra_injection_gph]
    (label,) = sim.labels
    assert dosed == jet_ts
    assert label.samples == len(jet_ts)
    assert (label.start, label.end) == (jet_ts[0], jet_ts[-1] + timedelta(seconds=10))


def test_a_fault_with_nothing_to_act_on_is_refused(site_config: SiteConfig) -> None:
    with pytest.raises(ValueError, match=r"dra_in_jet on ATL-01 .* has no effect"):
        _run(site_config, 2, _fault(FaultKind.DRA_IN_JET, 0, 1), seed=3)


def test_transport_faults_duplicate_reorder_drop_and_garble_messages(
    site_config: SiteConfig,
) -> None:
    faults = (
        _fault(FaultKind.DUPLICATE, 0.1, 0.2),
        _fault(FaultKind.OUT_OF_ORDER, 0.3, 0.35),
        _fault(FaultKind.DROPOUT, 0.4, 0.5),
        _fault(FaultKind.MALFORMED, 0.6, 0.61),
    )
    sim = _run(site_config, 1, *faults, seed=2)
    by_kind = {label.kind: label for label in sim.labels}
    payloads = [m.payload for m in sim.messages]
    assert len(payloads) - len(set(payloads)) == by_kind[FaultKind.DUPLICATE].samples == 360
    assert len(sim.messages) == 3600 + 360 - 360  # duplicated 6 min, dropped 6 min
    ts = [m.source_ts for m in sim.messages if m.source_ts]
    inversions = sum(1 for a, b in itertools.pairwise(ts) if b < a)
    assert inversions == by_kind[FaultKind.OUT_OF_ORDER].samples * 4 // 5
    assert not [t for t in ts if _at(0.4) <= t < _at(0.5)]
    bad = [m for m in sim.messages if m.source_ts is None]
    assert len(bad) == by_kind[FaultKind.MALFORMED].samples == 36
    for m in bad:
        with pytest.raises(ValidationError):
            TelemetryReading.model_validate_json(m.payload)
        assert b"\n" not in m.payload


def test_malformed_variants_cover_transport_and_value_errors(site_config: SiteConfig) -> None:
    sim = _run(site_config, 1, _fault(FaultKind.MALFORMED, 0, 0.01), seed=2)
    kinds = set()
    for m in sim.messages:
        if m.source_ts is None:
            try:
                json.loads(m.payload)
                kinds.add("json")
            except ValueError:
                kinds.add("not-json")
    assert kinds == {"json", "not-json"}


def test_low_tank_and_pressure_faults_reach_their_thresholds(site_config: SiteConfig) -> None:
    skid = site_config.skid("ATL-01")
    sim = _run(
        site_config,
        2,
        _fault(FaultKind.LOW_TANK, 0.5, 1.0),
        _fault(FaultKind.PRESSURE_OVER_MAOP_MARGIN, 1.0, 1.5),
        seed=4,
    )
    for r in _readings(sim):
        if _at(0.5) <= r.source_ts < _at(1.0):
            assert (r.dra_tank_level_gal or 0) < 0.07 * skid.tank_capacity_gal
        elif _at(1.0) <= r.source_ts < _at(1.5):
            margin_floor = skid.segment.maop_psig - skid.segment.maop_margin_psig
            assert margin_floor < (r.discharge_psig or 0) < skid.segment.maop_psig
        else:
            assert (r.dra_tank_level_gal or 0) > 0.5 * skid.tank_capacity_gal


def test_fault_on_unknown_skid_or_signal_is_refused(site_config: SiteConfig) -> None:
    with pytest.raises(KeyError, match="unknown skid"):
        simulate(
            site_config,
            SimulationSpec(
                start=T0,
                duration_s=60,
                faults=(FaultSpec(kind=FaultKind.SPIKE, skid_id="NOPE", start=T0, end=_at(1)),),
            ),
        )
    with pytest.raises(ValidationError, match="unknown signal"):
        _fault(FaultKind.SPIKE, 0, 1, signal="pressure")
