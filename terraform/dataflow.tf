# The streaming job, started from the Flex Template that Cloud Build writes
# (beam/Dockerfile, beam/flex_template_metadata.json). Created once Cloud Build has
# built the template: until dataflow_container_spec_gcs_path is set, there is no job.

locals {
  dataflow_job_name = "${var.prefix}-stream"
  dataflow_enabled  = var.dataflow_container_spec_gcs_path != null
}

resource "google_dataflow_flex_template_job" "stream" {
  count    = local.dataflow_enabled ? 1 : 0
  provider = google-beta

  name                    = local.dataflow_job_name
  region                  = var.region
  container_spec_gcs_path = var.dataflow_container_spec_gcs_path
  labels                  = var.labels

  # Runtime environment: top-level arguments, not entries of `parameters` (the
  # provider reports a diff on every plan for environment options passed there).
  service_account_email   = google_service_account.dataflow.email
  temp_location           = "${google_storage_bucket.buckets["dataflow-temp"].url}/temp"
  staging_location        = "${google_storage_bucket.buckets["dataflow-temp"].url}/staging"
  sdk_container_image     = var.dataflow_image
  enable_streaming_engine = true
  machine_type            = var.dataflow_machine_type
  max_workers             = var.dataflow_max_workers
  network                 = var.network
  subnetwork              = var.subnetwork
  ip_configuration        = "WORKER_IP_PRIVATE"

  # Stopping the job (terraform destroy, or a replacement that cannot be an update)
  # drains it: what was read from Pub/Sub is processed and written, nothing is lost.
  on_delete = "drain"

  # The template's own parameters (beam/flex_template_metadata.json): flags of
  # StreamOptions. The launcher adds --streaming.
  parameters = {
    config            = "/template/${var.site_config}"
    subscription      = google_pubsub_subscription.dataflow.id
    dead_letter_topic = google_pubsub_topic.dead_letter.id
    warehouse         = local.warehouse_url
    spine_interval_s  = tostring(var.spine_interval_s)
  }

  lifecycle {
    precondition {
      condition     = var.dataflow_image != null
      error_message = "dataflow_image (the image the template was built from) must be set with dataflow_container_spec_gcs_path: the workers run the same image."
    }
  }

  # The workers need their grants before the first bundle; the tables must exist
  # (the job writes with CREATE_NEVER).
  depends_on = [
    google_project_iam_member.dataflow_worker,
    google_pubsub_subscription_iam_member.dataflow_reads_telemetry,
    google_pubsub_subscription_iam_member.dataflow_views_subscription,
    google_pubsub_topic_iam_member.dataflow_publishes_dead_letters,
    google_bigquery_dataset_iam_member.dataflow_writes_dataset,
    google_storage_bucket_iam_member.dataflow_uses_temp,
    google_storage_bucket_iam_member.dataflow_reads_templates,
    google_artifact_registry_repository_iam_member.dataflow_pulls_images,
    google_bigquery_table.tables,
  ]
}
