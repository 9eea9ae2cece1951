"""Entry point of the streaming job's Dataflow Flex Template.

The template launcher (``FLEX_TEMPLATE_PYTHON_PY_FILE`` in ``beam/Dockerfile``) runs
this file with the template's parameters as ``--name=value`` flags, plus the runner,
project, region and worker settings Dataflow adds. This template only ever starts the
streaming job, so ``--streaming`` is added here rather than left to every caller
(``validate_options`` refuses ``--subscription`` without it). ``run`` validates the
flags, submits the job and returns; the launcher must not wait for a streaming job.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from beam.pipeline import run

__all__ = ["launch_args", "main"]


def launch_args(argv: Sequence[str]) -> list[str]:
    """The launcher's flags with ``--streaming`` added when absent."""
    args = list(argv)
    if not any(a == "--streaming" or a.startswith("--streaming=") for a in args):
        args.append("--streaming")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Submit the streaming job with the launcher's flags (``sys.argv`` by default)."""
    logging.getLogger().setLevel(logging.INFO)
    run(launch_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
