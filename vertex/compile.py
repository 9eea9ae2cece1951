"""``python -m vertex.compile OUT_DIR``: compile every pipeline to YAML (what Vertex AI
``PipelineJob`` runs)."""

from __future__ import annotations

import sys
from pathlib import Path

from kfp import compiler

from vertex.pipelines.forward_plan import forward_plan

__all__ = ["compile_all"]

PIPELINES = {"forward_plan": forward_plan}


def compile_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, pipeline in PIPELINES.items():
        path = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in compile_all(Path(sys.argv[1] if len(sys.argv) > 1 else "vertex/compiled")):
        print(p)
