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

import pytest
import sqlglot
from sqlglot import exp

from schemas.tables import TABLES
from tests.terraform.hcl import TF_DIR, load
from warehouse.sql_files import VIEWS_DIR, referenced_tables, view_names, view_sql


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in TF_DIR.glob("*.tf"):
        for block in load(path.name).get("resource", []):
            for resource_kind, instances in block.items():
                if resource_kind == kind:
                    found.update(instances)
    return found


def _locals() -> dict[str, str]:
    out: dict[str, str] = {}
    for block in load("bigquery.tf")["locals"]:
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
    assert {
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "bigquery.tf",
        "pubsub.tf",
        "iam.tf",
        "storage.tf",
        "artifact_registry.tf",
        "dataflow.tf",
        "bridge_host.tf",
        "monitoring.tf",
        "vertex.tf",
    } <= names
    for name in names:
        assert load(name), name


def test_provider_is_pinned() -> None:
    (terraform,) = load("versions.tf")["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["google"]["source"] == "hashicorp/google"
    assert re.fullmatch(r"~> \d+\.\d+", providers["google"]["version"])
    # The flex template job is a beta resource: same pinned major version.
    assert providers["google-beta"]["source"] == "hashicorp/google-beta"
    assert providers["google-beta"]["version"] == providers["google"]["version"]


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
    variables = [next(iter(v.items())) for v in load("variables.tf")["variable"]]
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
        for block in load(path.name).get("resource", []):
            for kind, instances in block.items():
                if kind.endswith("_iam_member"):
                    out.extend((kind, i["role"], i["member"]) for i in instances.values())
    return out


def _members_grants(account: str) -> set[tuple[str, str]]:
    """(resource kind, role) of every grant to ``google_service_account.<account>``."""
    return {(k, r) for k, r, m in _bindings() if f"google_service_account.{account}." in m}


def test_iam_is_least_privilege() -> None:
    bindings = _bindings()
    assert not [b for b in bindings if b[1] in ("roles/owner", "roles/editor")]
    assert not [
        b for b in bindings if b[1].endswith(".admin") and "storage.objectAdmin" not in b[1]
    ]
    project_level = {
        (role, member) for kind, role, member in bindings if kind == "google_project_iam_member"
    }
    # Project level only where Google offers no narrower scope: Dataflow worker and
    # BigQuery job user (jobs are project resources), the COS logging/monitoring agents
    # of the bridge VM, and creating Vertex AI pipeline jobs (the scheduler).
    assert project_level == {
        ("roles/dataflow.worker", "${google_service_account.dataflow.member}"),
        ("roles/bigquery.jobUser", "${google_service_account.dataflow.member}"),
        ("roles/logging.logWriter", "${google_service_account.bridge.member}"),
        ("roles/monitoring.metricWriter", "${google_service_account.bridge.member}"),
        ("roles/bigquery.jobUser", "${google_service_account.vertex.member}"),
        ("roles/aiplatform.user", "${google_service_account.scheduler.member}"),
        # A build running as its own account writes its logs.
        ("roles/logging.logWriter", "${local.cloudbuild_member}"),
    }
    # The bridge publishes to its two topics, pulls its image, reads its password.
    assert _members_grants("bridge") == {
        ("google_pubsub_topic_iam_member", "roles/pubsub.publisher"),
        ("google_artifact_registry_repository_iam_member", "roles/artifactregistry.reader"),
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"),
        ("google_project_iam_member", "roles/logging.logWriter"),
        ("google_project_iam_member", "roles/monitoring.metricWriter"),
    }
    bridge_topics = {
        i["topic"]
        for block in load("iam.tf")["resource"]
        for i in block.get("google_pubsub_topic_iam_member", {}).values()
        if "google_service_account.bridge" in i["member"]
    }
    # Telemetry, and the dead-letter topic for the payloads it refuses itself (oversize).
    assert bridge_topics == {
        "${google_pubsub_topic.telemetry.name}",
        "${google_pubsub_topic.dead_letter.name}",
    }
    dataflow_data = _members_grants("dataflow")
    assert ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor") in dataflow_data
    assert ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber") in dataflow_data
    # The pipeline steps: the dataset, their run artifacts, reading models; nothing else.
    assert _members_grants("vertex") == {
        ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor"),
        ("google_project_iam_member", "roles/bigquery.jobUser"),
        ("google_storage_bucket_iam_member", "roles/storage.objectAdmin"),
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
    }
    # The scheduler starts pipeline jobs as `vertex` and touches no data.
    assert _members_grants("scheduler") == {
        ("google_project_iam_member", "roles/aiplatform.user"),
        ("google_service_account_iam_member", "roles/iam.serviceAccountUser"),
        ("google_artifact_registry_repository_iam_member", "roles/artifactregistry.reader"),
    }


def test_bucket_grants_name_one_bucket_each() -> None:
    grants = _resources("google_storage_bucket_iam_member")
    assert {name: g["bucket"] for name, g in grants.items()} == {
        "dataflow_uses_temp": '${google_storage_bucket.buckets["dataflow-temp"].name}',
        "dataflow_reads_templates": '${google_storage_bucket.buckets["templates"].name}',
        "vertex_uses_pipeline_root": '${google_storage_bucket.buckets["pipeline-root"].name}',
        "vertex_reads_models": '${google_storage_bucket.buckets["models"].name}',
        "cloudbuild_writes": "${each.value}",
    }
    assert grants["dataflow_reads_templates"]["role"] == "roles/storage.objectViewer"
    assert grants["vertex_uses_pipeline_root"]["role"] == "roles/storage.objectAdmin"
    (cloudbuild,) = [b for b in load("iam.tf")["locals"] if "cloudbuild_buckets" in b]
    # Cloud Build writes templates and compiled pipelines; not data or models.
    assert set(re.findall(r'buckets\["([a-z-]+)"\]', cloudbuild["cloudbuild_buckets"])) == {
        "templates",
        "pipeline-root",
    }


def _bucket_specs() -> dict[str, dict[str, Any]]:
    (block,) = load("storage.tf")["locals"]
    specs: dict[str, dict[str, Any]] = block["buckets"]
    return specs


def test_every_bucket_is_private_with_uniform_access() -> None:
    buckets = _resources("google_storage_bucket")
    assert set(buckets) == {"buckets"}, "every bucket comes from the one for_each"
    bucket = buckets["buckets"]
    assert bucket["for_each"] == "${local.buckets}"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["name"] == "${var.project_id}-${var.prefix}-${each.key}"
    assert set(_bucket_specs()) == {"dataflow-temp", "templates", "pipeline-root", "models"}
    # No ACL resources, which uniform access would refuse anyway.
    for path in TF_DIR.glob("*.tf"):
        assert "_acl" not in path.read_text(), path.name


def test_temp_objects_expire_and_models_are_versioned() -> None:
    specs = _bucket_specs()
    assert specs["dataflow-temp"]["delete_after_days"] == "${var.temp_object_retention_days}"
    assert specs["models"]["delete_after_days"] is None
    assert specs["models"]["versioning"] is True
    assert specs["templates"]["versioning"] is True
    (rule,) = _resources("google_storage_bucket")["buckets"]["dynamic"]
    content = rule["lifecycle_rule"]["content"][0]
    assert content["action"] == [{"type": "Delete"}]
    assert content["condition"] == [{"age": "${lifecycle_rule.value}"}]


_SECRET_WORDS = re.compile(r"(password|passwd|secret_data|private_key|api_key|token)", re.I)


def test_no_secret_value_in_terraform() -> None:
    """Secrets are created empty; their versions are added out of band, so no value is
    in any file, variable or the state."""
    assert not _resources("google_secret_manager_secret_version")
    for path in [*TF_DIR.glob("*.tf"), *TF_DIR.glob("templates/*")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            # An assignment whose name is secret-like and whose value is a literal.
            match = re.match(r"\s*([A-Za-z0-9_-]+)\s*=\s*\"", code)
            if match and _SECRET_WORDS.search(match.group(1)):
                pytest.fail(f"{path.name}:{number}: literal secret-like value: {line.strip()}")
    variables = [next(iter(v)) for v in load("variables.tf")["variable"]]
    assert not [v for v in variables if _SECRET_WORDS.search(v)], "no secret as a variable"
    for path in TF_DIR.glob("*.tf"):
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", path.read_text())


def test_dataflow_job_runs_as_dataflow_sa_and_dead_letters_to_the_dlq() -> None:
    (job,) = _resources("google_dataflow_flex_template_job").values()
    assert job["provider"] == "google-beta"
    assert job["service_account_email"] == "${google_service_account.dataflow.email}"
    assert job["enable_streaming_engine"] is True
    assert job["on_delete"] == "drain"
    assert job["container_spec_gcs_path"] == "${var.dataflow_container_spec_gcs_path}"
    assert job["sdk_container_image"] == "${var.dataflow_image}"
    assert job["temp_location"].startswith('${google_storage_bucket.buckets["dataflow-temp"].url}')
    params = job["parameters"]
    assert params["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert params["subscription"] == "${google_pubsub_subscription.dataflow.id}"
    assert params["warehouse"] == "${local.warehouse_url}"
    assert _locals()["warehouse_url"] == (
        "bigquery://${var.project_id}/${google_bigquery_dataset.twin.dataset_id}"
    )
    # Only template parameters: environment options (service account, temp location,
    # streaming engine) are top-level arguments, never entries of `parameters`.
    metadata = json.loads((TF_DIR.parent / "beam" / "flex_template_metadata.json").read_text())
    declared = {p["name"] for p in metadata["parameters"]}
    required = {p["name"] for p in metadata["parameters"] if not p["isOptional"]}
    assert required <= set(params) <= declared


def _variable(name: str) -> dict[str, Any]:
    for block in load("variables.tf")["variable"]:
        if name in block:
            spec: dict[str, Any] = block[name]
            return spec
    raise KeyError(name)


def test_site_config_default_ships_in_the_image() -> None:
    default = _variable("site_config")["default"]
    assert (TF_DIR.parent / default).is_file()
    dockerfile = (TF_DIR.parent / "beam" / "Dockerfile").read_text()
    assert "COPY config/ config/" in dockerfile
    assert "WORKDIR /template" in dockerfile
    (job,) = _resources("google_dataflow_flex_template_job").values()
    assert job["parameters"]["config"] == "/template/${var.site_config}"


def test_bridge_vm_reads_its_password_from_secret_manager() -> None:
    template = _resources("google_compute_instance_template")["bridge"]
    (account,) = template["service_account"]
    assert account["email"] == "${google_service_account.bridge.email}"
    (nic,) = template["network_interface"]
    (dynamic,) = nic["dynamic"]
    assert dynamic["access_config"]["for_each"] == "${var.bridge_external_ip ? [1] : []}"
    assert _variable("bridge_external_ip")["default"] is False
    assert "cos-cloud" in template["disk"][0]["source_image"]
    user_data = template["metadata"]["user-data"]
    assert "templates/bridge.cloud-init.yaml.tftpl" in user_data
    assert "google_secret_manager_secret.mqtt_password.id" in user_data
    rendered = (TF_DIR / "templates" / "bridge.cloud-init.yaml.tftpl").read_text()
    assert "https://secretmanager.googleapis.com/v1/${secret_version}:access" in rendered
    assert "DRA_BRIDGE_MQTT__PASSWORD" in rendered
    assert "--env-file /run/dra-bridge/secret.env" in rendered  # tmpfs, root only
    assert "umask 077" in rendered
    # Every template variable the file uses is passed by templatefile().
    used = set(re.findall(r"\$\{(?:indent\(\d+, )?([a-z_]+)\)?\}", rendered))
    passed = set(re.findall(r"\b([a-z_]+)\s*=", user_data.split("templatefile(", 1)[1]))
    assert used <= passed, used - passed
    grant = _resources("google_secret_manager_secret_iam_member")["bridge_reads_mqtt_password"]
    assert grant["secret_id"] == "${google_secret_manager_secret.mqtt_password.id}"


def test_bridge_health_port_is_open_to_health_checkers_only() -> None:
    (firewall,) = _resources("google_compute_firewall").values()
    assert set(firewall["source_ranges"]) == {"35.191.0.0/16", "130.211.0.0/22"}
    assert firewall["target_tags"] == ["${local.bridge_network_tag}"]
    (allow,) = firewall["allow"]
    assert allow == {"protocol": "tcp", "ports": ["${tostring(local.bridge_health_port)}"]}
    (check,) = _resources("google_compute_health_check").values()
    (http,) = check["http_health_check"]
    assert http["request_path"] == "/healthz"
    assert http["port"] == "${local.bridge_health_port}"
    (locals_block,) = load("bridge_host.tf")["locals"]
    assert locals_block["bridge_health_port"] == 8080
    assert locals_block["bridge_config"]["health_port"] == "${local.bridge_health_port}"


def _conditions(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's conditions, a ``dynamic "conditions"`` block expanded over its
    ``for_each`` map as Terraform would (``conditions.key``/``.value`` substituted)."""
    expanded = list(policy.get("conditions", []))
    for block in policy.get("dynamic", []):
        spec = block["conditions"]
        (content,) = spec["content"]
        for key, value in spec["for_each"].items():
            text = json.dumps(content)
            text = text.replace("${conditions.key}", key).replace("${conditions.value}", value)
            expanded.append(json.loads(text))
    return expanded


def test_alerts_watch_the_right_resources() -> None:
    policies = _resources("google_monitoring_alert_policy")
    assert set(policies) == {"telemetry_backlog", "dead_letters", "dataflow_lag", "bridge_down"}
    # python-hcl2 keeps the escapes of quotes inside strings.
    filters = {
        name: [
            c.get("condition_threshold", c.get("condition_absent"))[0]["filter"].replace('\\"', '"')
            for c in _conditions(p)
        ]
        for name, p in policies.items()
    }
    (backlog,) = filters["telemetry_backlog"]
    assert "subscription/oldest_unacked_message_age" in backlog
    assert "${google_pubsub_subscription.dataflow.name}" in backlog
    topic, forwarded = filters["dead_letters"]
    assert "${google_pubsub_topic.dead_letter.name}" in topic
    assert "subscription/dead_letter_message_count" in forwarded
    for condition in _conditions(policies["dead_letters"]):
        (threshold,) = condition["condition_threshold"]
        assert threshold["comparison"] == "COMPARISON_GT"
        assert threshold["threshold_value"] == 0
    assert {f.split("metric.type = ")[1] for f in filters["dataflow_lag"]} == {
        '"dataflow.googleapis.com/job/system_lag"',
        '"dataflow.googleapis.com/job/data_watermark_age"',
    }
    assert all("${local.dataflow_job_name}" in f for f in filters["dataflow_lag"])
    (uptime,) = filters["bridge_down"]
    assert "compute.googleapis.com/instance/uptime" in uptime
    for p in policies.values():
        assert p["notification_channels"] == "${var.alert_notification_channels}"


def test_forward_plan_schedule_calls_pipeline_jobs_create_as_the_scheduler() -> None:
    (job,) = _resources("google_cloud_scheduler_job").values()
    (target,) = job["http_target"]
    assert target["http_method"] == "POST"
    assert target["uri"].endswith("/locations/${var.region}/pipelineJobs")
    (token,) = target["oauth_token"]
    assert token["service_account_email"] == "${google_service_account.scheduler.email}"
    body = target["body"]
    assert "templateUri = local.forward_plan_template_uri" in body
    assert "serviceAccount = google_service_account.vertex.email" in body
    assert "merge(local.forward_plan_parameters, {skid_id = each.key})" in body
