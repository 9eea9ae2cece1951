"""``dra-twin what-if``: what one flow and ppm cost now, with and without DRA."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from cli.args import aware_datetime
from cli.errors import CliError
from schemas.site_config import load_site_config
from twin.operating_point import DraLimitError, OperatingPoint, evaluate_operating_point

__all__ = ["WHAT_IF_FIELDS", "register"]

WHAT_IF_FIELDS: tuple[str, ...] = (
    "ppm",
    "reynolds",
    "relative_roughness",
    "darcy_friction_factor",
    "dr_expected_pct",
    "friction_loss_psi",
    "friction_loss_psi_no_dra",
    "discharge_psig_required",
    "maop_psig",
    "electric_kw",
    "electric_kw_no_dra",
    "kwh_per_bbl",
    "energy_cost_usd_per_h",
    "energy_cost_usd_per_h_no_dra",
    "dra_cost_usd_per_h",
    "net_benefit_usd_per_h",
)
"""The figures the what-if prints, in order (the contract other systems read)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "what-if",
        help="cost of one operating point, with and without DRA",
        description=(
            "Evaluate one steady operating point of a skid: hydraulics, drag reduction, "
            "power, energy cost and DRA cost, against the same flow with no DRA."
        ),
    )
    p.add_argument("--config", required=True, help="site config YAML")
    p.add_argument("--skid", required=True, help="skid id, e.g. ATL-01")
    p.add_argument("--flow-bph", required=True, type=float, help="line flow, bbl/h")
    p.add_argument("--ppm", required=True, type=float, help="DRA concentration, ppm by volume")
    p.add_argument(
        "--product", default=None, help="product code (default: the first DRA-allowed product)"
    )
    p.add_argument(
        "--temperature-f", type=float, default=60.0, help="product temperature, degF (default 60)"
    )
    p.add_argument(
        "--at",
        type=aware_datetime,
        default=None,
        help="time whose tariff applies, ISO 8601 with offset (default: now)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_site_config(args.config)
    product = args.product or next(
        (code for code, p in config.products.items() if p.max_dra_ppm > 0),
        next(iter(config.products)),
    )
    try:
        point = evaluate_operating_point(
            config,
            args.skid,
            flow_bph=args.flow_bph,
            ppm=args.ppm,
            product_code=product,
            temperature_degf=args.temperature_f,
            at=args.at or datetime.now(UTC),
        )
    except DraLimitError as exc:
        raise CliError(f"--ppm: {exc}") from None
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(format_point(point, as_json=args.json))
    return 0


def format_point(point: OperatingPoint, as_json: bool) -> str:
    """The what-if figures as JSON or as an aligned table."""
    values = {name: getattr(point, name) for name in WHAT_IF_FIELDS}
    if as_json:
        extra = {
            "skid_id": point.skid_id,
            "product_code": point.product_code,
            "line_flow_bph": point.line_flow_bph,
            "temperature_degf": point.temperature_degf,
            "tariff_usd_per_kwh": point.tariff_usd_per_kwh,
            "dra_gph": point.dra_gph,
            "within_maop": point.within_maop,
            "pumps_required": point.pumps_required,
        }
        return json.dumps({**extra, **values}, indent=2)
    header = (
        f"{point.skid_id} {point.product_code} at {point.line_flow_bph:,.0f} bbl/h, "
        f"{point.temperature_degf:g} degF, tariff {point.tariff_usd_per_kwh:.3f} $/kWh"
    )
    lines = [header]
    lines += [f"  {name:<30} {_fmt(value)}" for name, value in values.items()]
    if not point.within_maop:
        lines.append(
            f"  WARNING: required discharge {point.discharge_psig_required:.0f} psig exceeds "
            f"MAOP {point.maop_psig:.0f} psig"
        )
    if point.within_maop and not point.within_maop_no_dra:
        lines.append(
            f"  NOTE: without DRA this flow would need {point.discharge_psig_required_no_dra:.0f}"
            f" psig, above MAOP {point.maop_psig:.0f} psig"
        )
    if point.pumps_required is None:
        lines.append("  WARNING: no pump line-up of this station can deliver this point")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.6g}"
    return f"{value:,.4f}"
