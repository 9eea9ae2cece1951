"""The Dataflow Flex Template of the streaming job: its metadata against the flags
``StreamOptions`` defines and ``validate_options`` demands, the launcher module, and
the Dockerfile against the lock (the image cannot be built here: no Docker engine)."""

from __future__ import annotations

import argparse
import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam.flex_main import launch_args, main
from beam.options import StreamOptions, validate_options

REPO = Path(__file__).resolve().parents[2]
METADATA = REPO / "beam" / "flex_template_metadata.json"
DOCKERFILE = REPO / "beam" / "Dockerfile"

EXAMPLES = {
    "config": "/template/config/atlanta-pilot.yaml",
    "subscription": "projects/my-project/subscriptions/dra-prod-telemetry-dataflow",
    "warehouse": "bigquery://my-project/dra_prod_dra_twin",
    "dead_letter_topic": "projects/my-project/topics/dra-prod-dead-letter",
    "spine_interval_s": "60",
    "max_payload_bytes": "65536",
}
"""A valid value of every template parameter, as the launcher receives it."""


def _parameters() -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = json.loads(METADATA.read_text())["parameters"]
    return params


def _stream_flags() -> set[str]:
    parser = argparse.ArgumentParser()
    StreamOptions._add_argparse_args(parser)
    return {a.dest for a in parser._actions if a.dest != "help"}


def _validate(params: dict[str, str]) -> None:
    validate_options(PipelineOptions(launch_args([f"--{k}={v}" for k, v in params.items()])))


def test_every_parameter_is_a_stream_options_flag() -> None:
    names = [p["name"] for p in _parameters()]
    assert len(names) == len(set(names))
    assert set(names) <= _stream_flags()
    # The backfill's flags are not parameters of a streaming template.
    assert not {"input", "start", "end"} & set(names)
    assert set(names) == set(EXAMPLES)


def test_the_required_parameters_are_exactly_what_a_streaming_launch_needs() -> None:
    required = {p["name"]: EXAMPLES[p["name"]] for p in _parameters() if not p["isOptional"]}
    assert set(required) == {"config", "subscription", "warehouse"}
    _validate(required)  # nothing else is required
    for name in required:
        missing = {k: v for k, v in required.items() if k != name}
        with pytest.raises(ValueError, match=f"--{name}"):
            _validate(missing)
    _validate(EXAMPLES)  # and the optional ones are accepted


@pytest.mark.parametrize("param", _parameters(), ids=lambda p: p["name"])
def test_every_parameter_is_described_and_its_example_matches_its_regexes(
    param: dict[str, Any],
) -> None:
    assert param["label"] and param["helpText"]
    assert isinstance(param["isOptional"], bool)
    for regex in param.get("regexes", []):
        assert re.fullmatch(regex, EXAMPLES[param["name"]]), (param["name"], regex)


def test_numeric_parameters_state_their_unit() -> None:
    by_name = {p["name"]: p for p in _parameters()}
    assert "seconds" in by_name["spine_interval_s"]["helpText"]
    assert "bytes" in by_name["max_payload_bytes"]["helpText"]


def test_spine_interval_regex_accepts_exactly_what_the_pipeline_accepts() -> None:
    (regex,) = next(p for p in _parameters() if p["name"] == "spine_interval_s")["regexes"]
    for seconds in range(0, 4001):
        accepted = True
        try:
            _validate({**EXAMPLES, "spine_interval_s": str(seconds)})
        except ValueError:
            accepted = False
        assert bool(re.fullmatch(regex, str(seconds))) == accepted, seconds


def test_the_shipped_config_parameter_names_a_config_in_the_repository() -> None:
    (regex,) = next(p for p in _parameters() if p["name"] == "config")["regexes"]
    shipped = [f"/template/config/{p.name}" for p in (REPO / "config").glob("*.yaml")]
    assert shipped
    assert all(re.fullmatch(regex, path) for path in shipped)
    assert not re.fullmatch(regex, "/etc/passwd")


def test_metadata_marks_the_template_streaming() -> None:
    assert json.loads(METADATA.read_text())["streaming"] is True


def test_launcher_adds_streaming_once() -> None:
    assert launch_args(["--config=c"]) == ["--config=c", "--streaming"]
    assert launch_args(["--streaming", "--config=c"]) == ["--streaming", "--config=c"]
    assert launch_args(["--streaming=true"]) == ["--streaming=true"]


def test_launcher_hands_its_flags_to_the_pipeline() -> None:
    """main() reaches the pipeline's validation, as a streaming launch: the missing
    warehouse is reported, --subscription without --streaming is not."""
    with pytest.raises(ValueError) as excinfo:
        main(
            [
                f"--config={REPO / 'config' / 'atlanta-pilot.yaml'}",
                f"--subscription={EXAMPLES['subscription']}",
            ]
        )
    assert "--warehouse is required" in str(excinfo.value)
    assert "needs --streaming" not in str(excinfo.value)


def test_launcher_module_imports_beam_modules_by_name() -> None:
    source = (REPO / "beam" / "flex_main.py").read_text()
    assert not re.search(r"^\s*import beam\b", source, re.M)
    assert "from beam.pipeline import run" in source


def _locked_version(package: str) -> str:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    (entry,) = [p for p in lock["package"] if p["name"] == package]
    version: str = entry["version"]
    return version


def test_dockerfile_matches_the_lock_and_the_launcher() -> None:
    text = DOCKERFILE.read_text()
    assert f"ARG BEAM_VERSION={_locked_version('apache-beam')}" in text
    assert "FROM apache/beam_python3.11_sdk:${BEAM_VERSION}" in text
    assert (
        "FROM gcr.io/dataflow-templates-base/python311-template-launcher-base AS launcher" in text
    )
    assert "/opt/google/dataflow/python_template_launcher" in text
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"].startswith(">=3.11,<3.12")
    match = re.search(r"FLEX_TEMPLATE_PYTHON_PY_FILE=(\S+)", text)
    assert match and match.group(1) == "/template/beam/flex_main.py"
    assert "WORKDIR /template" in text
    assert "uv export --frozen --no-dev" in text
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", text, re.M))
    # The SQL the warehouse reads, the site configs.
    assert {"bigquery", "config"} <= copied
    assert all((REPO / d).is_dir() for d in copied)
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in text


def _first_party_imports(package: str, seen: set[str]) -> set[str]:
    """Top-level repository packages that ``package`` imports, transitively."""
    if package in seen:
        return seen
    seen.add(package)
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if (REPO / top / "__init__.py").is_file():
                    _first_party_imports(top, seen)
    return seen


def test_image_holds_every_package_the_job_and_the_pipelines_import() -> None:
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", DOCKERFILE.read_text(), re.M))
    needed = _first_party_imports("beam", set()) | _first_party_imports("vertex", set())
    assert {"beam", "schemas", "twin", "warehouse", "bridge", "vertex"} <= needed
    assert needed <= copied, needed - copied
