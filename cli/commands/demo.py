"""``dra-twin demo``: the whole product locally, end to end, with a printed summary.

Each stage runs the same code the product runs and prints what it produced; every
artefact (simulated telemetry, warehouse, plots) lands under ``--out``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from cli.live_stack import run_live_stack, summarise_live_run
from cli.main import main as cli_main

__all__ = ["register"]

_REPO = Path(__file__).resolve().parents[2]

DEMO_FAULTS = (
    "stuck_sensor:ATL-01:1h:2h",
    "malformed:ATL-01:150m:152m",
    "duplicate:ATL-01:3h:185m",
    "out_of_order:ATL-01:4h:242m",
    "dropout:ATL-01:5h:310m",
    "injection_pump_failure:ATL-01:6h:7h",
    "degraded_dra:ATL-01:8h:9h",
    "pressure_over_maop_margin:ATL-01:10h:10.5h",
    "low_tank:ATL-01:11h:12h",
    "spike:ATL-01:13h:46830s",
    "dra_in_jet:ATL-01:15h:16h",
    "drift:ATL-01:18h:22h:pump_power_kw:0.1",
)
"""One of each fault the simulator knows, on the pilot skid's day from 04:00 UTC."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the product locally end to end",
        description="Validate the reference config, simulate a skid-day with faults, run "
        "the live streaming path (mosquitto, bridge, Pub/Sub emulator, streaming job, "
        "warehouse) for a few minutes, plan the reference week, evaluate DRA economics; "
        "outputs and plots under --out.",
    )
    p.add_argument(
        "--config", type=Path, default=_REPO / "config" / "atlanta-pilot.yaml", help="site config"
    )
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output directory")
    p.set_defaults(func=_run)


def _stage(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def _call(argv: list[str]) -> None:
    code = cli_main(argv)
    if code != 0:
        raise SystemExit(code)


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    config = str(args.config)
    _stage("1. site config")
    _call(["validate-config", config])
    _stage("2. a simulated skid-day at 1 s with injected faults (readings + ground truth)")
    start = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
    _call(
        [
            "simulate",
            "--config",
            config,
            "--start",
            start.isoformat(),
            "--hours",
            "24",
            "--seed",
            "7",
            *(f"--fault={f}" for f in DEMO_FAULTS),
            "--out",
            str(out / "simulation"),
        ]
    )
    _stage("3. live: simulator -> MQTT -> bridge -> Pub/Sub emulator -> streaming job -> warehouse")
    live = run_live_stack(args.config, out / "live")
    summarise_live_run(live, out / "live_stream.png")
    _stage("4. the forward plan of the reference week (written to the same warehouse)")
    _call(
        [
            "plan",
            "--config",
            config,
            "--nominations",
            str(_REPO / "config" / "nominations-reference-week.yaml"),
            "--start",
            "2026-07-06T00:00:00-04:00",
            "--plot",
            str(out / "plan_week.png"),
            "--warehouse",
            live.warehouse_url,
        ]
    )
    _stage("5. DRA economics at an on-peak weekday hour (what-if across ppm)")
    at = datetime(2026, 7, 1, 20, 0, tzinfo=UTC).isoformat()
    plot = out / "dra_sweep_ulsd.png"
    _call(
        [
            "sweep",
            "--config",
            config,
            "--skid",
            "ATL-01",
            "--product",
            "ULSD",
            "--flow-bph",
            "52000",
            "--at",
            at,
            "--plot",
            str(plot),
        ]
    )
    _stage("6. one operating point, jet fuel refused any DRA")
    _call(
        [
            "what-if",
            "--config",
            config,
            "--skid",
            "ATL-01",
            "--flow-bph",
            "52000",
            "--ppm",
            "10",
            "--product",
            "ULSD",
            "--at",
            at,
        ]
    )
    print(f"\ndemo complete: outputs in {out.resolve()}")
    return 0
