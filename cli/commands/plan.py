"""``dra-twin plan``: the 7-day hourly forward plan of one skid.

Reads a site config and a nominations file, solves the MILP (HiGHS), checks the plan
with the independent checker and prints the summary (or JSON). ``--out`` writes
``plan_rows.jsonl`` and ``plan_summary.json``; ``--plot`` draws flow, ppm, tariff and
discharge pressure against MAOP over the horizon, with the product bands shaded.
``--warehouse URL`` stores rows and summary there; ``--from-now`` (rolling re-plan,
run every hour) starts from the warehouse's latest state instead of the nominations'
initial state: batches already past the injection point are dropped, the current
batch is reduced by what has been pumped of it, and the DRA tank level and pumps
running are the latest known. The demo calls :func:`run_plan`.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from cli.args import aware_datetime
from cli.errors import CliError
from schemas.site_config import TariffConfig, load_site_config
from twin.plan.inputs import Nominations, NominationsError, PlanSettings, load_nominations
from twin.plan.planner import PlanResult, make_plan

if TYPE_CHECKING:
    from warehouse import Warehouse

__all__ = ["register", "run_plan"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="7-day hourly plan of flow, pumps and DRA ppm (MILP)",
        description="Plan line flow, pump line-up and DRA ppm hour by hour at least "
        "energy + DRA cost, within MAOP and every product's DRA limit.",
    )
    p.add_argument("--config", required=True, type=Path, help="site config YAML")
    p.add_argument("--nominations", required=True, type=Path, help="nominations YAML/JSON")
    p.add_argument("--tariff", type=Path, default=None, help="tariff YAML overriding the config's")
    p.add_argument(
        "--start", type=aware_datetime, default=None, help="first hour (default: now, on the hour)"
    )
    p.add_argument("--hours", type=int, default=168, help="horizon, hours (default 168)")
    p.add_argument("--time-limit-s", type=float, default=60.0, help="solver time limit, s")
    p.add_argument("--gap", type=float, default=0.001, help="relative gap target (0.001 = 0.1 %%)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--out", type=Path, default=None, help="write rows and summary here")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG plot of the plan here")
    p.add_argument(
        "--warehouse", default=None, help="store the plan here (duckdb://FILE or bigquery://P/D)"
    )
    p.add_argument(
        "--from-now",
        action="store_true",
        help="rolling re-plan: initial state from the warehouse's latest spine rows "
        "(as of --start, default now)",
    )
    p.set_defaults(func=_run)


_PUMPED_SQL = """
WITH latest AS (
  SELECT * FROM spine_points
  WHERE skid_id = @skid_id AND batch_id = @batch_id AND grid_ts < @as_of
  QUALIFY ROW_NUMBER() OVER (PARTITION BY skid_id, grid_ts ORDER BY revision DESC) = 1
)
SELECT SUM(line_flow_bph.mean * interval_s / 3600.0) AS pumped_bbl FROM latest
"""


def state_from_warehouse(wh: Warehouse, nominations: Nominations, as_of: datetime) -> Nominations:
    """The nominations re-based on the warehouse's latest state as of ``as_of``.

    Raises:
        CliError: no recent spine row for the skid, or its batch is not nominated.
    """
    skid = nominations.skid_id
    state = wh.run_named_query("latest_spine_state", {"skid_ids": [skid], "as_of": as_of})
    if not state:
        raise CliError(f"--from-now: no spine rows for {skid} in the day before {as_of}")
    latest = state[0]
    ids = [b.batch_id for b in nominations.batches]
    batch_id = latest["batch_id"]
    if batch_id not in ids:
        raise CliError(
            f"--from-now: batch {batch_id!r} at the injection point is not in the "
            f"nominations ({ids})"
        )
    first = ids.index(batch_id)
    (row,) = wh.query(_PUMPED_SQL, {"skid_id": skid, "batch_id": batch_id, "as_of": as_of})
    pumped = float(row["pumped_bbl"] or 0.0)
    batches = list(nominations.batches[first:])
    left = max(batches[0].volume_bbl - pumped, 1.0)
    batches[0] = batches[0].model_copy(update={"volume_bbl": left})
    update: dict[str, object] = {"batches": batches}
    if latest["dra_tank_level_gal"] is not None:
        update["initial_tank_gal"] = float(latest["dra_tank_level_gal"])
    if latest["pumps_running"] is not None:
        update["initial_pumps_running"] = int(latest["pumps_running"])
    return nominations.model_copy(update=update)


def run_plan(
    config_path: Path,
    nominations_path: Path,
    *,
    start: datetime | None = None,
    hours: int = 168,
    time_limit_s: float = 60.0,
    gap: float = 0.001,
    tariff_path: Path | None = None,
    out: Path | None = None,
    plot: Path | None = None,
    warehouse_url: str | None = None,
    from_now: bool = False,
) -> PlanResult:
    """Plan, and write the outputs asked for. Raises :class:`CliError` on bad input."""
    config = load_site_config(config_path)
    if tariff_path is not None:
        try:
            tariff = TariffConfig.model_validate(yaml.safe_load(tariff_path.read_text()))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise CliError(f"{tariff_path}: invalid tariff: {exc}") from None
        config = config.model_copy(update={"tariff": tariff})
    try:
        nominations = load_nominations(nominations_path)
    except NominationsError as exc:
        raise CliError(str(exc)) from None
    if hours <= 0:
        raise CliError("--hours must be positive")
    now = start or datetime.now().astimezone()
    start = now.replace(minute=0, second=0, microsecond=0)
    wh = None
    if warehouse_url is not None:
        from warehouse import WarehouseError, open_warehouse

        try:
            wh = open_warehouse(warehouse_url)
        except (WarehouseError, ValueError) as exc:
            raise CliError(f"--warehouse: {exc}") from None
    if from_now:
        if wh is None:
            raise CliError("--from-now needs --warehouse")
        nominations = state_from_warehouse(wh, nominations, now)
    settings = PlanSettings(start=start, hours=hours, time_limit_s=time_limit_s, relative_gap=gap)
    try:
        result = make_plan(config, nominations, settings, now=now)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "plan_rows.jsonl").write_text(
            "".join(r.model_dump_json() + "\n" for r in result.rows), encoding="utf-8"
        )
        (out / "plan_summary.json").write_text(
            result.summary.model_dump_json(indent=2), encoding="utf-8"
        )
    if plot is not None and result.rows:
        _plot(result, plot)
    if wh is not None:
        if result.rows:
            wh.insert_rows("plan_rows", result.rows)
        wh.insert_rows("plan_summaries", [result.summary])
    return result


def _run(args: argparse.Namespace) -> int:
    result = run_plan(
        args.config,
        args.nominations,
        start=args.start,
        hours=args.hours,
        time_limit_s=args.time_limit_s,
        gap=args.gap,
        tariff_path=args.tariff,
        out=args.out,
        plot=args.plot,
        warehouse_url=args.warehouse,
        from_now=args.from_now,
    )
    s = result.summary
    if args.json:
        print(json.dumps(s.model_dump(mode="json"), indent=2))
        return 0 if result.rows else 1
    print(f"plan {s.plan_id}: {s.status.value} ({s.solver}) {s.message}")
    if not result.rows:
        return 1
    # A FALLBACK plan may have no solver bound, hence no gap.
    bound = "none" if s.best_bound_usd is None else f"{s.best_bound_usd:,.0f}"
    gap = "unknown" if s.relative_gap is None else f"{100 * s.relative_gap:.2f} %"
    print(
        f"  objective {s.objective_usd:,.0f} USD, best bound {bound}, "
        f"gap {gap} (target {100 * s.gap_target:.2f} %"
        f"{', reached' if s.gap_target_reached else ', NOT reached'}), "
        f"solve {s.solve_time_s:.1f} s of {s.time_limit_s:g} s"
        f"{' (time limit reached)' if s.time_limit_reached else ''}"
    )
    print(
        f"  cost {s.energy_cost_usd:,.0f} energy + {s.dra_cost_usd:,.0f} DRA USD for "
        f"{s.total_volume_bbl:,.0f} bbl; checker: {'passed' if s.checker_passed else 'FAILED'}"
    )
    if s.baseline_operator_cost_usd is not None:
        print(
            f"  vs operator rule {s.baseline_operator_cost_usd:,.0f} USD: saving "
            f"{s.saving_vs_operator_usd:,.0f} USD ({s.saving_vs_operator_pct:.1f} %)"
        )
    if s.baseline_no_dra_cost_usd is not None:
        print(
            f"  vs no DRA {s.baseline_no_dra_cost_usd:,.0f} USD: saving "
            f"{s.saving_vs_no_dra_usd:,.0f} USD ({s.saving_vs_no_dra_pct:.1f} %)"
        )
    else:
        # None when no such plan exists or none was found within its time limit.
        print("  vs no DRA: no plan found that meets the nominations without DRA")
    print(
        f"  >>> NOW ({result.rows[0].hour_start:%Y-%m-%d %H:%M} UTC): set "
        f"{s.current_hour_flow_bph:,.0f} bbl/h, {s.current_hour_pumps_running} pumps, "
        f"{s.current_hour_dra_ppm:.2f} ppm"
    )
    return 0


def _plot(result: PlanResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.rows
    x = [r.hour_start for r in rows]
    fig, (ax_flow, ax_ppm, ax_p) = plt.subplots(3, 1, sharex=True, figsize=(11, 8), dpi=100)
    colours = {"ULSD": "#f4d03f", "RBOB": "#85c1e9", "JET": "#f1948a"}
    for ax in (ax_flow, ax_ppm, ax_p):
        for r in rows:
            ax.axvspan(
                r.hour_start,
                r.hour_start + timedelta(hours=1),
                color=colours.get(r.product_code, "#dddddd"),
                alpha=0.25,
                linewidth=0,
            )
    ax_flow.step(x, [r.line_flow_bph for r in rows], where="post", color="black")
    ax_flow.set_ylabel("flow (bbl/h)")
    ax_tariff = ax_flow.twinx()
    ax_tariff.step(
        x, [r.tariff_usd_per_kwh for r in rows], where="post", color="tab:red", alpha=0.6
    )
    ax_tariff.set_ylabel("tariff ($/kWh)", color="tab:red")
    ax_ppm.step(x, [r.dra_ppm for r in rows], where="post", color="tab:green")
    ax_ppm.set_ylabel("DRA (ppm)")
    ax_p.step(x, [r.discharge_psig for r in rows], where="post", color="tab:blue")
    ax_p.axhline(rows[0].maop_psig, color="tab:red", linestyle="--", label="MAOP")
    ax_p.set_ylabel("discharge (psig)")
    from matplotlib.patches import Patch

    handles = ax_p.get_legend_handles_labels()[0] + [
        Patch(color=c, alpha=0.25, label=code)
        for code, c in colours.items()
        if any(r.product_code == code for r in rows)
    ]
    ax_p.legend(handles=handles, loc="lower right", ncol=4)
    s = result.summary
    ax_flow.set_title(
        f"{s.skid_id} plan {s.status.value}: saving vs operator rule "
        f"{s.saving_vs_operator_pct or 0:.1f} % (bands: product at the injection point)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
