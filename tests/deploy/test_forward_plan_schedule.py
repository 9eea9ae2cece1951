"""The Cloud Scheduler job's request body against the compiled forward-plan pipeline:
every parameter it sets is a pipeline input, every required input is set, and the
config path it passes is a file the image ships."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.terraform.hcl import load
from vertex.compile import compile_all

REPO = Path(__file__).resolve().parents[2]


def _vertex_locals() -> dict[str, Any]:
    (block,) = load("vertex.tf")["locals"]
    return block


def _pipeline_inputs(tmp_path: Path) -> dict[str, dict[str, Any]]:
    (path,) = [p for p in compile_all(tmp_path) if p.stem == "forward_plan"]
    spec = yaml.safe_load(path.read_text())
    inputs: dict[str, dict[str, Any]] = spec["root"]["inputDefinitions"]["parameters"]
    return inputs


def test_schedule_sets_every_required_input_and_only_pipeline_inputs(tmp_path: Path) -> None:
    inputs = _pipeline_inputs(tmp_path)
    parameters = _vertex_locals()["forward_plan_parameters"]
    # skid_id is merged in per scheduler job (one job per skid).
    sent = set(parameters) | {"skid_id"}
    required = {name for name, spec in inputs.items() if not spec.get("isOptional")}
    assert required <= sent, required - sent
    assert sent <= set(inputs), sent - set(inputs)


def test_config_path_is_a_config_the_image_ships() -> None:
    config_path = _vertex_locals()["forward_plan_parameters"]["config_path"]
    assert config_path == "/template/${var.site_config}"
    dockerfile = (REPO / "beam" / "Dockerfile").read_text()
    assert "WORKDIR /template" in dockerfile and "COPY config/ config/" in dockerfile


def test_template_uri_names_the_compiled_pipeline(tmp_path: Path) -> None:
    (path,) = [p for p in compile_all(tmp_path) if p.stem == "forward_plan"]
    name = yaml.safe_load(path.read_text())["pipelineInfo"]["name"]
    uri = _vertex_locals()["forward_plan_template_uri"]
    assert re.search(rf"-kfp\.pkg\.dev/.+/{re.escape(name)}/latest$", uri), uri
