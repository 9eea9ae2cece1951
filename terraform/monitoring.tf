# Alerts an SRE needs first: telemetry piling up unread, anything dead-lettered, the
# streaming job falling behind, the bridge VM gone. Each notifies the channels in
# alert_notification_channels (create them in the console or with
# google_monitoring_notification_channel; an empty list still records incidents).

resource "google_monitoring_alert_policy" "telemetry_backlog" {
  display_name          = "${var.prefix}: telemetry waiting unread in Pub/Sub"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "Oldest unacked telemetry message older than ${var.alert_unacked_age_s} s"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dataflow.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_unacked_age_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "The streaming job is not reading ${google_pubsub_subscription.dataflow.name} (stopped, failing, or too few workers). Messages are kept for ${var.telemetry_retention}; past that they are lost."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "${var.prefix}: messages dead-lettered"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  # Dead letters published by the bridge and the streaming job.
  conditions {
    display_name = "Publishes to ${google_pubsub_topic.dead_letter.name}"
    condition_threshold {
      filter          = "resource.type = \"pubsub_topic\" AND resource.labels.topic_id = \"${google_pubsub_topic.dead_letter.name}\" AND metric.type = \"pubsub.googleapis.com/topic/send_request_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  # Messages Pub/Sub itself forwarded after max_delivery_attempts.
  conditions {
    display_name = "Forwarded by the dead-letter policy of ${google_pubsub_subscription.dataflow.name}"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dataflow.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    content   = "Inspect ${google_pubsub_subscription.dead_letter_hold.name} or the dead_letters table: each dead letter keeps the raw payload, its attributes and the reason."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "dataflow_lag" {
  count = local.dataflow_enabled ? 1 : 0

  display_name          = "${var.prefix}: streaming job behind"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  # System lag: how long an element waits; data watermark age: how far the output
  # watermark is behind real time (data freshness). Same threshold for both.
  dynamic "conditions" {
    for_each = {
      "System lag"         = "dataflow.googleapis.com/job/system_lag"
      "Data watermark age" = "dataflow.googleapis.com/job/data_watermark_age"
    }
    content {
      display_name = "${conditions.key} above ${var.alert_dataflow_lag_s} s"
      condition_threshold {
        filter          = "resource.type = \"dataflow_job\" AND resource.labels.job_name = \"${local.dataflow_job_name}\" AND metric.type = \"${conditions.value}\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.alert_dataflow_lag_s
        duration        = "300s"
        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }

  documentation {
    content   = "Check the job's workers and logs in the Dataflow console; a growing lag with a flat input rate means too few workers (max_workers) or a stuck step."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "bridge_down" {
  count = local.bridge_enabled ? 1 : 0

  display_name          = "${var.prefix}: bridge VM not running"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  # The uptime series stops when the VM is gone or stopped.
  conditions {
    display_name = "No uptime reported by the bridge VM for 5 min"
    condition_absent {
      filter   = "resource.type = \"gce_instance\" AND metadata.user_labels.\"dra-role\" = \"bridge\" AND metric.type = \"compute.googleapis.com/instance/uptime\""
      duration = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "The managed instance group ${var.prefix}-bridge should recreate the VM; if it does not, check its errors. Readings wait on the broker meanwhile (persistent session)."
    mime_type = "text/markdown"
  }
}
