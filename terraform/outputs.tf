output "artifact_registry_images" {
  description = "Docker repository for the images (Cloud Build substitution _ARTIFACT_REPO is its name)."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "artifact_registry_pipelines" {
  description = "KFP repository the compiled pipelines are pushed to (the scheduler starts them from here)."
  value       = "https://${google_artifact_registry_repository.pipelines.location}-kfp.pkg.dev/${var.project_id}/${google_artifact_registry_repository.pipelines.repository_id}"
}

output "bridge_instance_group" {
  description = "Managed instance group running the bridge VM (null until bridge_image is set)."
  value       = one(google_compute_instance_group_manager.bridge[*].instance_group)
}

output "bridge_service_account_email" {
  description = "Service account the MQTT bridge runs as."
  value       = google_service_account.bridge.email
}

output "buckets" {
  description = "Bucket name by purpose (dataflow-temp, templates, pipeline-root, models)."
  value       = { for purpose, b in google_storage_bucket.buckets : purpose => b.name }
}

output "dataflow_job_id" {
  description = "Id of the streaming Dataflow job (null until dataflow_container_spec_gcs_path is set)."
  value       = one(google_dataflow_flex_template_job.stream[*].job_id)
}

output "dataflow_service_account_email" {
  description = "Service account of the streaming job's workers (--service_account_email)."
  value       = google_service_account.dataflow.email
}

output "dataflow_subscription" {
  description = "Subscription the streaming job reads (--subscription)."
  value       = google_pubsub_subscription.dataflow.id
}

output "dataset_id" {
  description = "BigQuery dataset of the twin."
  value       = google_bigquery_dataset.twin.dataset_id
}

output "dead_letter_subscription" {
  description = "Subscription that holds dead letters for inspection and replay."
  value       = google_pubsub_subscription.dead_letter_hold.id
}

output "dead_letter_topic" {
  description = "Topic of dead letters (--dead_letter_topic of the streaming job)."
  value       = google_pubsub_topic.dead_letter.id
}

output "forward_plan_schedules" {
  description = "Cloud Scheduler job that starts the forward plan, by skid id."
  value       = { for skid, j in google_cloud_scheduler_job.forward_plan : skid => j.id }
}

output "mqtt_password_secret" {
  description = "Secret Manager secret the bridge reads its MQTT password from; add a version out of band."
  value       = google_secret_manager_secret.mqtt_password.id
}

output "scheduler_service_account_email" {
  description = "Service account Cloud Scheduler starts pipeline jobs as."
  value       = google_service_account.scheduler.email
}

output "table_ids" {
  description = "Fully qualified id of every table, by name."
  value       = { for name, t in google_bigquery_table.tables : name => "${var.project_id}.${t.dataset_id}.${t.table_id}" }
}

output "telemetry_topic" {
  description = "Topic the bridge publishes telemetry to."
  value       = google_pubsub_topic.telemetry.id
}

output "vertex_service_account_email" {
  description = "Service account the Vertex AI pipeline steps run as (PipelineJob service_account)."
  value       = google_service_account.vertex.email
}

output "view_ids" {
  description = "Fully qualified id of every view, by name."
  value       = { for name, v in google_bigquery_table.views : name => "${var.project_id}.${v.dataset_id}.${v.table_id}" }
}

output "warehouse_url" {
  description = "What open_warehouse() takes to use this dataset."
  value       = local.warehouse_url
}
