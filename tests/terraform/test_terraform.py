"""The Terraform configuration, checked without the provider registry (unreachable
here): ``terraform fmt``, then python-hcl2 parses every file and the tests evaluate
what the plan would be driven by (which tables, which views, how views are qualified,
who may do what)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import sqlglot
from sqlglot import exp

from schemas.tables import TABLES
from warehouse.sql_files import VIEWS_DIR, referenced_tables, view_names, view_sql

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


def _load(name: str) -> dict[str, Any]:
    with (TF_DIR / name).open() as f:
        parsed: dict[str, Any] = _unquote(hcl2.load(f))
    return parsed


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in TF_DIR.glob("*.tf"):
        for block in _load(path.name).get("resource", []):
            for resource_kind, instances in block.items():
                if resource_kind == kind:
                    found.update(instances)
    return found


def _locals() -> dict[str, str]:
    out: dict[str, str] = {}
    for block in _load("bigquery.tf")["locals"]:
        out.update(block)
    return out


def _module_path(expr: str) -> Path:
    return Path(expr.replace("${path.module}", str(TF_DIR))).resolve()


def test_terraform_fmt_is_clean() -> None:
    terraform = shutil.which("terraform") or "/usr/local/bin/terraform"
    assert Path(terraform).exists(), "terraform is needed to check formatting"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(TF_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change: {result.stdout}"


def test_expected_files_exist_and_parse() -> None:
    names = {p.name for p in TF_DIR.glob("*.tf")}
    assert {"versions.tf", "variables.tf", "outputs.tf", "bigquery.tf", "pubsub.tf", "iam.tf"} <= (
        names
    )
    for name in names:
        assert _load(name), name


def test_provider_is_pinned() -> None:
    (terraform,) = _load("versions.tf")["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    assert re.fullmatch(r"~> \d+\.\d+", providers["google"]["version"])


def test_every_schema_json_becomes_a_table_with_its_partitioning() -> None:
    local = _locals()
    assert 'fileset(local.schema_dir, "*.json")' in local["table_specs"]
    files = sorted(_module_path(local["schema_dir"]).glob("*.json"))
    assert {f.stem for f in files} == set(TABLES)
    table = _resources("google_bigquery_table")["tables"]
    assert table["for_each"] == "${local.table_specs}"
    assert table["schema"] == "${jsonencode(each.value.schema)}"
    assert table["clustering"] == "${each.value.clustering}"
    (partitioning,) = table["time_partitioning"]
    assert partitioning["field"] == "${each.value.time_partitioning.field}"
    for f in files:
        spec = json.loads(f.read_text())
        assert spec["time_partitioning"]["type"] == "DAY"
        columns = {c["name"] for c in spec["schema"]}
        assert spec["time_partitioning"]["field"] in columns
        assert set(spec["clustering"]) <= columns
        assert spec["description"]


def test_every_view_file_becomes_a_standard_sql_view() -> None:
    local = _locals()
    assert 'fileset(local.view_dir, "*.sql")' in local["views"]
    assert {p.stem for p in _module_path(local["view_dir"]).glob("*.sql")} == set(view_names())
    assert _module_path(local["view_dir"]) == VIEWS_DIR.resolve()
    view = _resources("google_bigquery_table")["views"]
    assert view["for_each"] == "${local.views}"
    (definition,) = view["view"]
    assert definition["use_legacy_sql"] is False
    assert definition["query"] == "${each.value}"


def _terraform_qualify(sql: str, project: str, dataset: str) -> str:
    """What the ``views`` local's replace() does, evaluated with Python's re (the RE2
    subset used here means the same in both)."""
    match = re.search(r'replace\(file\([^)]*\), "/(.+)/", "(.+)"\)\}\}$', _locals()["views"])
    assert match, "the views local is a replace() over each file"
    pattern = match.group(1).replace("\\\\", "\\")
    pattern = pattern.replace("${local.table_pattern}", "|".join(sorted(TABLES)))
    replacement = match.group(2).replace("${var.project_id}", project)
    replacement = replacement.replace("${local.dataset_id}", dataset)
    replacement = re.sub(r"\$(\d)", r"\\\1", replacement)
    return re.sub(pattern, replacement, sql)


@pytest.mark.parametrize("name", view_names())
def test_terraform_qualifies_every_table_a_view_reads(name: str) -> None:
    sql = view_sql(name)
    qualified = _terraform_qualify(sql, "my-project", "twin")
    tree = sqlglot.parse_one(qualified, read="bigquery")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = [t for t in tree.find_all(exp.Table) if t.name not in ctes]
    assert tables
    assert {t.sql(dialect="bigquery") for t in tables} == {
        f"`my-project.twin.{t}`" for t in referenced_tables(sql)
    }


def test_variables_are_typed_described_alphabetical_and_validated() -> None:
    variables = [next(iter(v.items())) for v in _load("variables.tf")["variable"]]
    names = [n for n, _ in variables]
    assert names == sorted(names)
    for name, spec in variables:
        assert spec.get("type"), name
        assert spec.get("description"), name
    spec = dict(variables)
    for required in ("project_id", "prefix"):
        assert "default" not in spec[required], f"{required} must be given, never defaulted"
        assert spec[required].get("validation"), required
    assert spec["region"].get("validation")


def test_no_project_is_hard_coded() -> None:
    for path in TF_DIR.glob("*.tf"):
        text = path.read_text()
        for match in re.finditer(r"\bproject(?:_id)?\s*=\s*(.+)", text):
            assert match.group(1).strip() == "var.project_id", f"{path.name}: {match.group(0)}"


def test_telemetry_subscription_dead_letters_to_the_dead_letter_topic() -> None:
    topics = _resources("google_pubsub_topic")
    assert set(topics) == {"telemetry", "dead_letter"}
    subscriptions = _resources("google_pubsub_subscription")
    dataflow = subscriptions["dataflow"]
    assert dataflow["topic"] == "${google_pubsub_topic.telemetry.id}"
    (policy,) = dataflow["dead_letter_policy"]
    assert policy["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert subscriptions["dead_letter_hold"]["topic"] == "${google_pubsub_topic.dead_letter.id}"


def _bindings() -> list[tuple[str, str, str]]:
    """(resource kind, role, member) of every IAM grant."""
    out: list[tuple[str, str, str]] = []
    for path in TF_DIR.glob("*.tf"):
        for block in _load(path.name).get("resource", []):
            for kind, instances in block.items():
                if kind.endswith("_iam_member"):
                    out.extend((kind, i["role"], i["member"]) for i in instances.values())
    return out


def test_iam_is_least_privilege() -> None:
    bindings = _bindings()
    assert not [b for b in bindings if b[1] in ("roles/owner", "roles/editor")]
    project_level = {role for kind, role, _ in bindings if kind == "google_project_iam_member"}
    assert project_level == {"roles/dataflow.worker", "roles/bigquery.jobUser"}
    bridge = [(k, r) for k, r, m in bindings if "google_service_account.bridge" in m]
    assert bridge == [("google_pubsub_topic_iam_member", "roles/pubsub.publisher")]
    dataflow_data = {(k, r) for k, r, m in bindings if "google_service_account.dataflow" in m}
    assert ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor") in dataflow_data
    assert ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber") in dataflow_data
