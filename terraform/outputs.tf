output "bridge_service_account_email" {
  description = "Service account the MQTT bridge runs as."
  value       = google_service_account.bridge.email
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

output "table_ids" {
  description = "Fully qualified id of every table, by name."
  value       = { for name, t in google_bigquery_table.tables : name => "${var.project_id}.${t.dataset_id}.${t.table_id}" }
}

output "telemetry_topic" {
  description = "Topic the bridge publishes telemetry to."
  value       = google_pubsub_topic.telemetry.id
}

output "view_ids" {
  description = "Fully qualified id of every view, by name."
  value       = { for name, v in google_bigquery_table.views : name => "${var.project_id}.${v.dataset_id}.${v.table_id}" }
}

output "warehouse_url" {
  description = "What open_warehouse() takes to use this dataset."
  value       = "bigquery://${var.project_id}/${google_bigquery_dataset.twin.dataset_id}"
}
