# Service accounts with least privilege: roles are granted on the one topic,
# subscription or dataset a component uses, at project level only where Google offers
# no narrower scope (Dataflow worker, BigQuery job user).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# --- Streaming job (Dataflow) ---

resource "google_service_account" "dataflow" {
  account_id   = "${var.prefix}-dataflow"
  display_name = "DRA twin streaming job (Dataflow workers)"
}

resource "google_project_iam_member" "dataflow_worker" {
  project = var.project_id
  role    = "roles/dataflow.worker"
  member  = google_service_account.dataflow.member
}

# Backfill from BigQuery and file loads run jobs; job user has no data access itself.
resource "google_project_iam_member" "dataflow_bigquery_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.dataflow.member
}

resource "google_pubsub_subscription_iam_member" "dataflow_reads_telemetry" {
  subscription = google_pubsub_subscription.dataflow.name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.dataflow.member
}

# ReadFromPubSub looks the subscription up before it pulls.
resource "google_pubsub_subscription_iam_member" "dataflow_views_subscription" {
  subscription = google_pubsub_subscription.dataflow.name
  role         = "roles/pubsub.viewer"
  member       = google_service_account.dataflow.member
}

resource "google_pubsub_topic_iam_member" "dataflow_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = google_service_account.dataflow.member
}

resource "google_bigquery_dataset_iam_member" "dataflow_writes_dataset" {
  dataset_id = google_bigquery_dataset.twin.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.dataflow.member
}

# Staging, temp files and BigQuery load files of the job; the launcher VM of the
# Flex Template runs as this account too and reads the template spec.
resource "google_storage_bucket_iam_member" "dataflow_uses_temp" {
  bucket = google_storage_bucket.buckets["dataflow-temp"].name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.dataflow.member
}

resource "google_storage_bucket_iam_member" "dataflow_reads_templates" {
  bucket = google_storage_bucket.buckets["templates"].name
  role   = "roles/storage.objectViewer"
  member = google_service_account.dataflow.member
}

# The launcher and the workers run the image built from beam/Dockerfile.
resource "google_artifact_registry_repository_iam_member" "dataflow_pulls_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.dataflow.member
}

# --- MQTT to Pub/Sub bridge ---

resource "google_service_account" "bridge" {
  account_id   = "${var.prefix}-bridge"
  display_name = "DRA twin MQTT to Pub/Sub bridge"
}

resource "google_pubsub_topic_iam_member" "bridge_publishes_telemetry" {
  topic  = google_pubsub_topic.telemetry.name
  role   = "roles/pubsub.publisher"
  member = google_service_account.bridge.member
}

# The bridge dead-letters oversize payloads itself; without this grant they would be
# retried forever and hold their MQTT acknowledgements.
resource "google_pubsub_topic_iam_member" "bridge_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = google_service_account.bridge.member
}

# The bridge VM pulls its image and reads the MQTT password as this account.
resource "google_artifact_registry_repository_iam_member" "bridge_pulls_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.bridge.member
}

resource "google_secret_manager_secret_iam_member" "bridge_reads_mqtt_password" {
  secret_id = google_secret_manager_secret.mqtt_password.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.bridge.member
}

# The logging and monitoring agents of Container-Optimized OS write as the VM's
# account; Cloud Logging and Monitoring offer no scope narrower than the project.
resource "google_project_iam_member" "bridge_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.bridge.member
}

resource "google_project_iam_member" "bridge_writes_metrics" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.bridge.member
}

# --- Pub/Sub service agent: needed for the subscription's dead-letter policy ---

resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_forwarded" {
  subscription = google_pubsub_subscription.dataflow.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# --- Cloud Build (cloudbuild.yaml), when it runs as a user-managed account ---

locals {
  cloudbuild_member = var.cloudbuild_service_account == null ? null : "serviceAccount:${var.cloudbuild_service_account}"
  cloudbuild_repositories = var.cloudbuild_service_account == null ? {} : {
    images    = google_artifact_registry_repository.images.name
    pipelines = google_artifact_registry_repository.pipelines.name
  }
  # Templates and release variables; compiled pipelines under the pipeline root.
  cloudbuild_buckets = var.cloudbuild_service_account == null ? {} : {
    templates     = google_storage_bucket.buckets["templates"].name
    pipeline-root = google_storage_bucket.buckets["pipeline-root"].name
  }
}

resource "google_artifact_registry_repository_iam_member" "cloudbuild_pushes" {
  for_each = local.cloudbuild_repositories

  location   = var.region
  repository = each.value
  role       = "roles/artifactregistry.writer"
  member     = local.cloudbuild_member
}

resource "google_storage_bucket_iam_member" "cloudbuild_writes" {
  for_each = local.cloudbuild_buckets

  bucket = each.value
  role   = "roles/storage.objectAdmin"
  member = local.cloudbuild_member
}

# A build running as a user-managed account must write its own logs
# (options.logging CLOUD_LOGGING_ONLY); Cloud Logging has no narrower scope.
resource "google_project_iam_member" "cloudbuild_writes_logs" {
  count = var.cloudbuild_service_account == null ? 0 : 1

  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = local.cloudbuild_member
}
