# Vertex AI pipelines: the account they run as, and the hourly forward plan started
# by Cloud Scheduler through the pipelineJobs.create REST endpoint.
#
# Two accounts: `vertex` is what the pipeline steps run as (data access only);
# `scheduler` may start pipeline jobs as `vertex` and nothing else. The Cloud
# Scheduler service agent mints the OAuth token of `scheduler`
# (roles/cloudscheduler.serviceAgent, granted by Google, covers it). Component images
# are pulled by the Vertex AI Custom Code service agent, which reads Artifact
# Registry in its own project by default.

locals {
  pipeline_root = "${google_storage_bucket.buckets["pipeline-root"].url}/runs"
  # KFP-format Artifact Registry package of the compiled pipeline (its pipelineInfo
  # name), tag `latest`: Cloud Build pushes each build with its commit and `latest`.
  forward_plan_template_uri = "https://${var.region}-kfp.pkg.dev/${var.project_id}/${google_artifact_registry_repository.pipelines.repository_id}/dra-twin-forward-plan/latest"
  # Parameters of vertex/pipelines/forward_plan.py (skid_id is added per job); the
  # site config ships in the image the components run in (beam/Dockerfile).
  forward_plan_parameters = {
    config_path   = "/template/${var.site_config}"
    warehouse_url = local.warehouse_url
  }
}

resource "google_service_account" "vertex" {
  account_id   = "${var.prefix}-vertex"
  display_name = "DRA twin Vertex AI pipeline steps"
}

resource "google_bigquery_dataset_iam_member" "vertex_writes_dataset" {
  dataset_id = google_bigquery_dataset.twin.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.vertex.member
}

# Queries run as jobs; job user has no data access itself.
resource "google_project_iam_member" "vertex_bigquery_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.vertex.member
}

# Run artifacts (each step's inputs and outputs) live under the pipeline root.
resource "google_storage_bucket_iam_member" "vertex_uses_pipeline_root" {
  bucket = google_storage_bucket.buckets["pipeline-root"].name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.vertex.member
}

# The forward plan reads fitted models; it writes none.
resource "google_storage_bucket_iam_member" "vertex_reads_models" {
  bucket = google_storage_bucket.buckets["models"].name
  role   = "roles/storage.objectViewer"
  member = google_service_account.vertex.member
}

resource "google_service_account" "scheduler" {
  account_id   = "${var.prefix}-scheduler"
  display_name = "DRA twin Cloud Scheduler: starts Vertex AI pipeline jobs"
}

# pipelineJobs.create has no resource narrower than the project.
resource "google_project_iam_member" "scheduler_creates_pipeline_jobs" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.scheduler.member
}

# Starting a job that runs as `vertex` needs actAs on it.
resource "google_service_account_iam_member" "scheduler_acts_as_vertex" {
  service_account_id = google_service_account.vertex.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.scheduler.member
}

resource "google_artifact_registry_repository_iam_member" "scheduler_reads_pipelines" {
  location   = google_artifact_registry_repository.pipelines.location
  repository = google_artifact_registry_repository.pipelines.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.scheduler.member
}

resource "google_cloud_scheduler_job" "forward_plan" {
  for_each = toset(var.plan_skid_ids)

  name             = "${var.prefix}-forward-plan-${lower(each.key)}"
  description      = "Hourly 7-day forward plan of skid ${each.key} (Vertex AI pipeline)."
  region           = var.region
  schedule         = var.plan_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "30s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://${var.region}-aiplatform.googleapis.com/v1/projects/${var.project_id}/locations/${var.region}/pipelineJobs"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({
      displayName    = "${var.prefix}-forward-plan-${lower(each.key)}"
      templateUri    = local.forward_plan_template_uri
      serviceAccount = google_service_account.vertex.email
      labels         = var.labels
      runtimeConfig = {
        gcsOutputDirectory = local.pipeline_root
        parameterValues    = merge(local.forward_plan_parameters, { skid_id = each.key })
      }
    }))

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [
    google_project_iam_member.scheduler_creates_pipeline_jobs,
    google_service_account_iam_member.scheduler_acts_as_vertex,
  ]
}
