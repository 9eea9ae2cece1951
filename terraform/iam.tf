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
