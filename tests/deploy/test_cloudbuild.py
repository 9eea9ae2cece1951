"""``cloudbuild.yaml`` parsed and checked against the repository: it cannot run here
(no Cloud Build, no Docker engine), so what can go stale is checked instead: step
ids and their order, the Dockerfiles and make targets it names, the substitutions it
uses, the Terraform variables it writes, the image name the pipelines are compiled
with."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.terraform.hcl import load

REPO = Path(__file__).resolve().parents[2]
BUILT_INS = {"PROJECT_ID", "SHORT_SHA"}


def _build() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    return loaded


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _build()["steps"]
    return steps


def _step(step_id: str) -> dict[str, Any]:
    (step,) = [s for s in _steps() if s["id"] == step_id]
    return step


def _commands(step: dict[str, Any]) -> str:
    """What a step runs, as one text (its script, or entrypoint and args)."""
    if "script" in step:
        return str(step["script"])
    return " ".join([step.get("entrypoint", ""), *map(str, step.get("args", []))])


def _makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))


def test_every_step_has_a_unique_id_and_waits_only_for_earlier_steps() -> None:
    seen: list[str] = []
    for step in _steps():
        assert step.get("id"), step
        assert step["id"] not in seen, step["id"]
        for dependency in step.get("waitFor", []):
            assert dependency in seen, f"{step['id']} waits for {dependency}, not an earlier step"
        seen.append(step["id"])


def test_script_steps_name_their_shell() -> None:
    for step in _steps():
        assert ("script" in step) != ("args" in step), f"{step['id']}: script or args"
        if "script" in step:
            assert step["script"].startswith("#!"), step["id"]
            assert "entrypoint" not in step, step["id"]


def test_every_dockerfile_it_builds_exists() -> None:
    built = []
    for step in _steps():
        args = step.get("args", [])
        if args[:1] == ["build"] and "-f" in args:
            dockerfile = args[args.index("-f") + 1]
            assert (REPO / dockerfile).is_file(), dockerfile
            assert args[-1] == ".", "the context is the repository root (uv.lock, packages)"
            built.append(dockerfile)
    assert sorted(built) == ["beam/Dockerfile", "bridge/Dockerfile"]


def test_every_make_target_it_runs_exists() -> None:
    targets = _makefile_targets()
    used = set()
    for step in _steps():
        if step.get("entrypoint") == "make":
            used.update(step["args"])
        used.update(re.findall(r"\bmake ([\w-]+)", step.get("script", "")))
    assert used == {"lint", "compile-pipelines"}
    assert used <= targets, used - targets


def test_every_substitution_used_is_declared() -> None:
    text = (REPO / "cloudbuild.yaml").read_text()
    declared = set(_build()["substitutions"])
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", text)) | set(re.findall(r"\$(_[A-Z0-9_]+)", text))
    assert used <= declared, used - declared
    assert declared <= used, f"declared, never used: {declared - used}"
    built_ins = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", text))
    assert built_ins <= BUILT_INS | declared, built_ins - BUILT_INS
    assert _build()["options"]["automapSubstitutions"] is True  # scripts read them


def test_no_project_id_or_bucket_is_written_in() -> None:
    text = json.dumps(_steps())  # what runs; the comments show placeholders
    for match in re.finditer(r"gs://([^\s\"'/]+)", text):
        assert match.group(1).startswith("${_"), match.group(0)
    for match in re.finditer(r"projects/([^\s\"'/]+)", text):
        assert match.group(1).startswith("${"), match.group(0)
    assert _build()["substitutions"]["_PREFIX"] == ""


def test_flex_template_is_built_from_the_metadata_and_the_dra_twin_image() -> None:
    args = _step("build-flex-template")["args"]
    assert args[:3] == ["dataflow", "flex-template", "build"]
    metadata = next(a for a in args if a.startswith("--metadata-file="))
    assert (REPO / metadata.split("=", 1)[1]).is_file()
    assert "--image=${_IMAGE_REGISTRY}/dra-twin:${SHORT_SHA}" in args
    assert "--sdk-language=PYTHON" in args
    assert set(_step("build-flex-template")["waitFor"]) == {"push-images"}


def test_unit_tests_deselect_only_integration_tests() -> None:
    script = _step("unit-tests")["script"]
    assert '-m "not integration"' in script
    assert "/workspace/.bin" in script  # terraform for the fmt test
    assert "--deselect" not in script and " -k " not in script


def test_terraform_is_formatted_initialised_and_validated() -> None:
    step = _step("terraform-validate")
    assert step["dir"] == "terraform"
    script = step["script"]
    for command in ("terraform fmt -check", "terraform init -backend=false", "terraform validate"):
        assert command in script


def test_release_vars_are_terraform_variables() -> None:
    script = _step("write-release-vars")["script"]
    body = script.split("<<JSON\n", 1)[1].split("\nJSON\n", 1)[0]
    keys = set(json.loads(re.sub(r"\$\{[A-Z_]+\}", "x", body)))
    variables = {next(iter(v)) for v in load("variables.tf")["variable"]}
    assert keys == {"dataflow_container_spec_gcs_path", "dataflow_image", "bridge_image"}
    assert keys <= variables


def test_compiled_pipelines_are_pinned_to_the_image_of_the_commit() -> None:
    from vertex.components._image import BASE_IMAGE

    script = _step("compile-pipelines")["script"]
    assert f"s#image: {BASE_IMAGE}#image: ${{_IMAGE_REGISTRY}}/dra-twin:${{SHORT_SHA}}#" in script
    assert f'grep -n "{BASE_IMAGE}"' in script
    # The KFP package the scheduler starts is the compiled pipeline's name.
    vertex_tf = (REPO / "terraform" / "vertex.tf").read_text()
    from vertex.pipelines.forward_plan import forward_plan

    assert f"/{forward_plan.name}/latest" in vertex_tf
