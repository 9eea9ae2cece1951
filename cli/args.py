"""Argument types shared by the subcommands, so every command reads times alike."""

from __future__ import annotations

import argparse
from datetime import datetime

__all__ = ["aware_datetime"]


def aware_datetime(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset; a naive time is refused, not guessed."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"time {text!r} needs a UTC offset, e.g. +00:00")
    return value
