"""``dra-twin sweep``: the what-if across ppm levels, as a table and a plot.

Operators use it to see where extra DRA stops paying: DR flattens towards DRmax
while DRA cost keeps rising linearly, so net benefit peaks and falls.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cli.args import aware_datetime
from cli.errors import CliError
from schemas.site_config import load_site_config
from twin.operating_point import OperatingPoint, evaluate_operating_point

__all__ = ["register", "sweep_points"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="what-if across ppm levels (table and plot)",
        description="Evaluate one skid, product and flow at ppm levels from 0 to the "
        "product's limit; print a table and optionally plot DR %% and net benefit vs ppm.",
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--skid", required=True, help="skid id")
    p.add_argument("--product", required=True, help="product code")
    p.add_argument("--flow-bph", type=float, required=True, help="line flow, bbl/h")
    p.add_argument("--temperature-f", type=float, default=60.0, help="degF (default 60)")
    p.add_argument("--steps", type=int, default=16, help="ppm levels (default 16)")
    p.add_argument("--at", type=aware_datetime, default=None, help="tariff time (default now)")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    p.set_defaults(func=_run)


def sweep_points(
    config_path: str,
    skid: str,
    product: str,
    flow_bph: float,
    temperature_degf: float,
    steps: int,
    at: datetime,
) -> list[OperatingPoint]:
    """Operating points from 0 ppm to the product's DRA limit."""
    config = load_site_config(config_path)
    try:
        limit = config.product(product).max_dra_ppm
        levels = np.linspace(0.0, limit, max(steps, 2)) if limit > 0 else np.array([0.0])
        return [
            evaluate_operating_point(
                config, skid, flow_bph, float(ppm), product, temperature_degf, at
            )
            for ppm in levels
        ]
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    if args.steps < 2:
        raise CliError("--steps: need at least 2 levels")
    points = sweep_points(
        args.config,
        args.skid,
        args.product,
        args.flow_bph,
        args.temperature_f,
        args.steps,
        args.at or datetime.now(UTC),
    )
    print(
        f"{args.skid} {args.product} at {args.flow_bph:,.0f} bbl/h, "
        f"tariff {points[0].tariff_usd_per_kwh:.3f} $/kWh"
    )
    print(
        f"{'ppm':>6} {'DR %':>6} {'disch psig':>10} {'kW':>9} {'energy $/h':>10} "
        f"{'DRA $/h':>8} {'net $/h':>8}  MAOP"
    )
    for p in points:
        print(
            f"{p.ppm:6.2f} {p.dr_expected_pct:6.1f} {p.discharge_psig_required:10.0f} "
            f"{p.electric_kw:9.0f} {p.energy_cost_usd_per_h:10.0f} "
            f"{p.dra_cost_usd_per_h:8.0f} {p.net_benefit_usd_per_h:8.0f}  "
            f"{'ok' if p.within_maop else 'OVER'}"
        )
    best = max(points, key=lambda p: p.net_benefit_usd_per_h)
    print(f"best net benefit: {best.net_benefit_usd_per_h:,.0f} $/h at {best.ppm:.2f} ppm")
    if args.plot:
        _plot(points, args.plot)
        print(f"plot written: {args.plot}")
    return 0


def _plot(points: list[OperatingPoint], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ppm = [p.ppm for p in points]
    fig, ax_dr = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax_dr.plot(
        ppm,
        [p.dr_expected_pct for p in points],
        color="tab:blue",
        marker="o",
        label="expected drag reduction",
    )
    ax_dr.set_xlabel("DRA concentration (ppm)")
    ax_dr.set_ylabel("drag reduction (%)", color="tab:blue")
    ax_net = ax_dr.twinx()
    ax_net.plot(
        ppm,
        [p.net_benefit_usd_per_h for p in points],
        color="tab:green",
        marker="s",
        label="net benefit",
    )
    ax_net.plot(
        ppm,
        [p.dra_cost_usd_per_h for p in points],
        color="tab:red",
        linestyle="--",
        label="DRA cost",
    )
    ax_net.set_ylabel("$/h", color="tab:green")
    ax_net.axhline(0.0, color="grey", linewidth=0.8)
    p0 = points[0]
    ax_dr.set_title(
        f"{p0.skid_id} {p0.product_code} at {p0.line_flow_bph:,.0f} bbl/h "
        f"(tariff {p0.tariff_usd_per_kwh:.3f} $/kWh)"
    )
    lines = ax_dr.get_lines() + ax_net.get_lines()[:2]
    ax_dr.legend(lines, [str(line.get_label()) for line in lines], loc="center right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
