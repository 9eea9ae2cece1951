"""``dra-twin simulate``: realistic skid telemetry with injected faults, to files.

Writes ``readings.jsonl`` (one MQTT payload per line, in publish order, exactly the
bytes a field RTU would send, malformed ones included) and ``labels.jsonl`` (where
each fault took effect), so a detector can be scored against ground truth.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from cli.args import aware_datetime
from cli.errors import CliError
from schemas.site_config import load_site_config
from twin.simulator import FaultKind, FaultSpec, Simulation, SimulationSpec, simulate

__all__ = ["parse_fault", "register", "write_simulation"]

_OFFSET = re.compile(r"^(\d+(?:\.\d+)?)([smh])$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0}


def _offset(text: str) -> timedelta:
    match = _OFFSET.match(text)
    if match is None:
        raise ValueError(f"offset {text!r} must look like 90s, 15m or 2.5h")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


def parse_fault(text: str, start: datetime) -> FaultSpec:
    """Parse ``KIND:SKID:FROM:TO[:SIGNAL[:MAGNITUDE]]``; FROM/TO are offsets from start.

    Raises:
        CliError: naming the part of the fault that is wrong.
    """
    parts = text.split(":")
    if not 4 <= len(parts) <= 6:
        raise CliError(f"--fault {text!r}: expected KIND:SKID:FROM:TO[:SIGNAL[:MAGNITUDE]]")
    kind, skid, begin, end, *rest = parts
    kinds = [k.value for k in FaultKind]
    if kind not in kinds:
        raise CliError(f"--fault {text!r}: unknown kind {kind!r}; expected one of {kinds}")
    try:
        return FaultSpec(
            kind=FaultKind(kind),
            skid_id=skid,
            start=start + _offset(begin),
            end=start + _offset(end),
            signal=(rest[0] or None) if rest else None,
            magnitude=float(rest[1]) if len(rest) > 1 else None,
        )
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors())
        raise CliError(f"--fault {text!r}: {reasons}") from None
    except ValueError as exc:
        raise CliError(f"--fault {text!r}: {exc}") from None


def write_simulation(sim: Simulation, out: Path) -> tuple[Path, Path]:
    """Write ``readings.jsonl`` and ``labels.jsonl`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    readings, labels = out / "readings.jsonl", out / "labels.jsonl"
    with readings.open("wb") as fh:
        for m in sim.messages:
            fh.write(m.payload + b"\n")
    with labels.open("w", encoding="utf-8") as fh:
        for label in sim.labels:
            fh.write(label.model_dump_json() + "\n")
    return readings, labels


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate skid telemetry with injected faults",
        description="Physics-consistent telemetry from the twin's own models, deterministic "
        "by seed. Faults: KIND:SKID:FROM:TO[:SIGNAL[:MAGNITUDE]], FROM/TO offsets from "
        "--start such as 90s, 15m, 2h. Kinds: " + ", ".join(k.value for k in FaultKind) + ".",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--start", type=aware_datetime, required=True, help="ISO time with offset")
    p.add_argument("--hours", type=float, default=24.0, help="duration, hours (default 24)")
    p.add_argument("--interval-s", type=float, default=1.0, help="sample interval, s (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--skid", action="append", default=None, help="skid id (repeat; default all)")
    p.add_argument("--fault", action="append", default=[], help="fault to inject (repeat)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_site_config(args.config)
    faults = tuple(parse_fault(f, args.start) for f in args.fault)
    try:
        spec = SimulationSpec(
            start=args.start,
            duration_s=args.hours * 3600.0,
            interval_s=args.interval_s,
            seed=args.seed,
            skid_ids=tuple(args.skid) if args.skid else None,
            faults=faults,
        )
        sim = simulate(config, spec)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CliError(reasons) from None
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    readings, labels = write_simulation(sim, args.out)
    per_skid = Counter(m.skid_id for m in sim.messages)
    malformed = sum(m.source_ts is None for m in sim.messages)
    print(f"{len(sim.messages):,} messages ({malformed:,} malformed) -> {readings}")
    for skid_id, count in sorted(per_skid.items()):
        print(f"  {skid_id}: {count:,}")
    print(f"{len(sim.labels)} fault label(s) -> {labels}")
    for label in sim.labels:
        print(
            f"  {label.kind.value:<26} {label.skid_id} {label.start:%Y-%m-%d %H:%M:%S} .. "
            f"{label.end:%Y-%m-%d %H:%M:%S} ({label.samples} samples) {label.detail}"
        )
    return 0
