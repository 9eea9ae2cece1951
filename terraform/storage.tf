# Buckets, one per purpose, all regional (next to Dataflow and Vertex), uniform
# bucket-level access (IAM only, no object ACLs) and public access prevention
# enforced. Names are <project>-<prefix>-<purpose>: bucket names are global.

locals {
  buckets = {
    # Dataflow staging and temp files (and BigQuery load temp files): short-lived.
    dataflow-temp = {
      delete_after_days = var.temp_object_retention_days
      versioning        = false
    }
    # Flex Template specs written by `gcloud dataflow flex-template build`.
    templates = {
      delete_after_days = null
      versioning        = true
    }
    # Vertex AI pipeline root: run artifacts, and the compiled pipeline YAML.
    pipeline-root = {
      delete_after_days = var.pipeline_artifact_retention_days
      versioning        = false
    }
    # Fitted models (DR curves, pump curves, anomaly baselines), versioned.
    models = {
      delete_after_days = null
      versioning        = true
    }
  }
}

resource "google_storage_bucket" "buckets" {
  for_each = local.buckets

  name     = "${var.project_id}-${var.prefix}-${each.key}"
  location = var.region
  labels   = var.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Keep the data on terraform destroy unless deletion protection is switched off.
  force_destroy = !var.deletion_protection

  versioning {
    enabled = each.value.versioning
  }

  dynamic "lifecycle_rule" {
    for_each = each.value.delete_after_days == null ? [] : [each.value.delete_after_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }
}
