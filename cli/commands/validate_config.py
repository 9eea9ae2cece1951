"""``dra-twin validate-config FILE``: load and validate a site config."""

from __future__ import annotations

import argparse

from schemas.site_config import load_site_config

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate-config",
        help="validate a site config file",
        description="Validate a YAML site config; print a summary, or each bad field and why.",
    )
    p.add_argument("file", help="path to the site config YAML")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = load_site_config(args.file)
    print(
        f"{args.file}: OK - site {config.site_id}, {len(config.skids)} skid(s) "
        f"({', '.join(s.skid_id for s in config.skids)}), products "
        f"{', '.join(f'{c} (max {p.max_dra_ppm:g} ppm)' for c, p in config.products.items())}"
    )
    return 0
