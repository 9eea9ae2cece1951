"""The Terraform files as the tests read them: parsed by python-hcl2, quotes removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

__all__ = ["TF_DIR", "load"]

TF_DIR = Path(__file__).resolve().parents[2] / "terraform"


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def load(name: str) -> dict[str, Any]:
    """``terraform/<name>`` parsed, string literals and labels without their quotes."""
    with (TF_DIR / name).open() as f:
        parsed: dict[str, Any] = _unquote(hcl2.load(f))
    return parsed
