# Telemetry from the MQTT bridge to the streaming job, and the dead letters.
#
# One dead-letter topic holds both kinds: messages Pub/Sub could not deliver after
# max_delivery_attempts (Pub/Sub adds CloudPubSubDeadLetter* attributes) and the
# pipeline's own DeadLetter records (bad payloads, too-late readings). The hold
# subscription keeps them for inspection and replay; they are also in BigQuery.

resource "google_pubsub_topic" "telemetry" {
  name   = "${var.prefix}-telemetry"
  labels = var.labels
}

resource "google_pubsub_topic" "dead_letter" {
  name   = "${var.prefix}-dead-letter"
  labels = var.labels
}

resource "google_pubsub_subscription" "dataflow" {
  name   = "${var.prefix}-telemetry-dataflow"
  topic  = google_pubsub_topic.telemetry.id
  labels = var.labels

  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.telemetry_retention

  # An empty ttl means never expire: a stopped job must not lose its subscription.
  expiration_policy {
    ttl = ""
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

resource "google_pubsub_subscription" "dead_letter_hold" {
  name   = "${var.prefix}-dead-letter-hold"
  topic  = google_pubsub_topic.dead_letter.id
  labels = var.labels

  message_retention_duration = "604800s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}
