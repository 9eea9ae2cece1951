"""``dra-twin bridge --config FILE``: run the MQTT → Pub/Sub bridge until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from bridge.config import BridgeConfigError, load_bridge_config
from bridge.logs import configure_logging
from bridge.service import Bridge
from cli.errors import CliError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bridge",
        help="run the MQTT to Pub/Sub bridge",
        description=(
            "Forward MQTT telemetry to Pub/Sub at least once: subscribe at QoS 1 on a "
            "persistent session and acknowledge each message only after Pub/Sub accepted "
            "it. Settings come from the YAML file, overridden by DRA_BRIDGE_<SECTION>__<FIELD> "
            "environment variables (e.g. DRA_BRIDGE_MQTT__PASSWORD). Stops on SIGTERM/SIGINT "
            "after draining in-flight messages."
        ),
    )
    p.add_argument("--config", help="bridge config YAML (optional if the environment has all)")
    p.add_argument(
        "--check", action="store_true", help="validate the config, print it (no secrets), exit"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_bridge_config(args.config)
    except BridgeConfigError as exc:
        raise CliError(str(exc)) from None
    if args.check:
        print(config.model_dump_json(indent=2))
        return 0
    configure_logging(config.log_level)
    stop_requested = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        bridge = Bridge(config)
    except RuntimeError as exc:  # its forwarding process did not start
        raise CliError(f"bridge could not start: {exc}", exit_code=1) from None
    bridge.run_until(stop_requested)
    if bridge.fatal_error is not None:
        raise CliError(f"bridge stopped on an internal error: {bridge.fatal_error}", exit_code=1)
    return 0
