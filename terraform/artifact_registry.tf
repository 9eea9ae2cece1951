# Container images (the bridge; the Dataflow launcher/worker image, which is also
# the image the Vertex pipeline components run in) and the compiled pipeline
# templates that Cloud Scheduler starts by URI (a KFP-format repository).

resource "google_artifact_registry_repository" "images" {
  repository_id = "${var.prefix}-images"
  location      = var.region
  format        = "DOCKER"
  description   = "DRA twin container images, tagged with the commit (Cloud Build $SHORT_SHA)."
  labels        = var.labels

  # Untagged layers left behind by re-tagging are deleted after 30 days; tagged
  # images stay (a running job or VM may still use an older tag).
  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "2592000s"
    }
  }
}

# The Vertex AI pipelineJobs.create REST call takes a templateUri only from a
# KFP-format Artifact Registry repository (a gs:// URI is read by the Python SDK,
# not by the API), so the compiled pipeline YAML is pushed here as well.
resource "google_artifact_registry_repository" "pipelines" {
  repository_id = "${var.prefix}-pipelines"
  location      = var.region
  format        = "KFP"
  description   = "DRA twin compiled Vertex AI pipelines (kfp v2 YAML)."
  labels        = var.labels
}
