variable "ack_deadline_seconds" {
  description = "Pub/Sub ack deadline of the Dataflow subscription, in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 10 and 600 (Pub/Sub limits)."
  }
}

variable "alert_dataflow_lag_s" {
  description = "Alert when the streaming job's system lag or data watermark age stays above this many seconds for 5 minutes."
  type        = number
  default     = 300

  validation {
    condition     = var.alert_dataflow_lag_s >= 60
    error_message = "alert_dataflow_lag_s must be at least 60 seconds."
  }
}

variable "alert_notification_channels" {
  description = "Monitoring notification channels every alert notifies (projects/P/notificationChannels/ID); empty: incidents only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "alert_notification_channels must be ids of the form projects/P/notificationChannels/ID."
  }
}

variable "alert_unacked_age_s" {
  description = "Alert when the oldest unacknowledged telemetry message is older than this many seconds for 5 minutes."
  type        = number
  default     = 600

  validation {
    condition     = var.alert_unacked_age_s >= 60
    error_message = "alert_unacked_age_s must be at least 60 seconds."
  }
}

variable "bigquery_location" {
  description = "BigQuery location of the dataset (multi-region such as US, or a region)."
  type        = string
  default     = "US"

  validation {
    condition     = can(regex("^[A-Za-z]+(-[a-z]+[0-9])?$", var.bigquery_location))
    error_message = "bigquery_location must be a multi-region (US, EU) or a region (us-east1)."
  }
}

variable "bridge_broker_host" {
  description = "Host name or address of the site's MQTT broker, as the bridge VM reaches it (required with bridge_image)."
  type        = string
  default     = null

  validation {
    condition     = var.bridge_broker_host == null || can(regex("^[A-Za-z0-9.:-]+$", var.bridge_broker_host))
    error_message = "bridge_broker_host must be a host name or an IP address."
  }
}

variable "bridge_broker_port" {
  description = "TCP port of the MQTT broker (8883 for MQTT over TLS, 1883 without)."
  type        = number
  default     = 8883

  validation {
    condition     = var.bridge_broker_port >= 1 && var.bridge_broker_port <= 65535
    error_message = "bridge_broker_port must be between 1 and 65535."
  }
}

variable "bridge_broker_tls" {
  description = "Connect to the broker over TLS, trusting the system CA store."
  type        = bool
  default     = true
}

variable "bridge_external_ip" {
  description = "Give the bridge VM an external address. Off by default: reach the broker and Google APIs through the VPC (VPN, Cloud NAT, Private Google Access)."
  type        = bool
  default     = false
}

variable "bridge_image" {
  description = "Bridge image in Artifact Registry (REGION-docker.pkg.dev/PROJECT/REPO/bridge:TAG), set by Cloud Build; null: no bridge VM yet."
  type        = string
  default     = null

  validation {
    condition     = var.bridge_image == null || can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[^/]+/[^/]+/[^:@]+[:@].+$", var.bridge_image))
    error_message = "bridge_image must be an Artifact Registry image with a tag or digest."
  }
}

variable "bridge_machine_type" {
  description = "Machine type of the bridge VM."
  type        = string
  default     = "e2-small"
}

variable "bridge_mqtt_username" {
  description = "MQTT user name of the bridge; its password is the Secret Manager secret <prefix>-mqtt-password. null: no authentication."
  type        = string
  default     = null
}

variable "bridge_topic_filters" {
  description = "MQTT topic filters the bridge subscribes to."
  type        = list(string)
  default     = ["dra/+/+/telemetry"]

  validation {
    condition     = length(var.bridge_topic_filters) > 0
    error_message = "bridge_topic_filters needs at least one filter."
  }
}

variable "bridge_zone" {
  description = "Zone of the bridge VM; null: <region>-b."
  type        = string
  default     = null
}

variable "cloudbuild_service_account" {
  description = "Email of the service account Cloud Build runs cloudbuild.yaml as; it gets push rights on the two repositories and write rights on the templates and pipeline-root buckets. null: grant nothing (the default Cloud Build account is managed by hand)."
  type        = string
  default     = null

  validation {
    condition     = var.cloudbuild_service_account == null || can(regex("^[a-z0-9-]+@[a-z0-9-]+\\.iam\\.gserviceaccount\\.com$", var.cloudbuild_service_account))
    error_message = "cloudbuild_service_account must be a service account email."
  }
}

variable "dataflow_container_spec_gcs_path" {
  description = "gs:// path of the Flex Template spec that Cloud Build wrote (gcloud dataflow flex-template build); null: no streaming job yet."
  type        = string
  default     = null

  validation {
    condition     = var.dataflow_container_spec_gcs_path == null || can(regex("^gs://[^/]+/.+\\.json$", var.dataflow_container_spec_gcs_path))
    error_message = "dataflow_container_spec_gcs_path must be gs://BUCKET/PATH.json."
  }
}

variable "dataflow_image" {
  description = "Image the template was built from (beam/Dockerfile); the workers run it too (sdk_container_image). Set by Cloud Build with dataflow_container_spec_gcs_path."
  type        = string
  default     = null

  validation {
    condition     = var.dataflow_image == null || can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[^/]+/[^/]+/[^:@]+[:@].+$", var.dataflow_image))
    error_message = "dataflow_image must be an Artifact Registry image with a tag or digest."
  }
}

variable "dataflow_machine_type" {
  description = "Machine type of the streaming job's workers."
  type        = string
  default     = "n2-standard-2"
}

variable "dataflow_max_workers" {
  description = "Most workers the streaming job autoscales to."
  type        = number
  default     = 3

  validation {
    condition     = var.dataflow_max_workers >= 1 && var.dataflow_max_workers <= 100
    error_message = "dataflow_max_workers must be between 1 and 100."
  }
}

variable "dataset_id" {
  description = "BigQuery dataset id; null derives it from prefix (<prefix>_dra_twin)."
  type        = string
  default     = null

  validation {
    condition     = var.dataset_id == null || can(regex("^[A-Za-z0-9_]{1,1024}$", var.dataset_id))
    error_message = "dataset_id may hold letters, digits and underscores only."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the tables (and their data) on terraform destroy."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels put on every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "max_delivery_attempts" {
  description = "Deliveries of one telemetry message before Pub/Sub moves it to the dead-letter topic."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub limits)."
  }
}

variable "network" {
  description = "VPC network of the Dataflow workers and the bridge VM."
  type        = string
  default     = "default"
}

variable "pipeline_artifact_retention_days" {
  description = "Days Vertex pipeline run artifacts are kept in the pipeline-root bucket."
  type        = number
  default     = 30

  validation {
    condition     = var.pipeline_artifact_retention_days >= 1
    error_message = "pipeline_artifact_retention_days must be at least 1."
  }
}

variable "plan_schedule" {
  description = "Cron schedule (UTC) of the forward plan, default hourly at minute 5."
  type        = string
  default     = "5 * * * *"

  validation {
    condition     = length(split(" ", var.plan_schedule)) == 5
    error_message = "plan_schedule must be a five-field cron expression."
  }
}

variable "plan_skid_ids" {
  description = "Skids (ids of the site config) that get an hourly forward plan; empty: no schedule."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.plan_skid_ids : can(regex("^[A-Za-z0-9-]+$", s))])
    error_message = "plan_skid_ids must be skid ids (letters, digits, hyphens)."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (topics, subscriptions, service accounts), e.g. dra-prod."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-16 lowercase letters, digits or hyphens, starting with a letter (service account ids allow 30 characters in all)."
  }
}

variable "project_id" {
  description = "Google Cloud project that holds everything."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of regional resources (Dataflow, functions)."
  type        = string
  default     = "us-east1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as us-east1."
  }
}

variable "site_config" {
  description = "Site config file, relative to the repository root; it ships in the Dataflow/pipeline image under /template."
  type        = string
  default     = "config/atlanta-pilot.yaml"

  validation {
    condition     = can(regex("^config/[A-Za-z0-9_.-]+\\.ya?ml$", var.site_config))
    error_message = "site_config must be a YAML file under config/."
  }
}

variable "spine_interval_s" {
  description = "Time-spine grid of the streaming job, in seconds; 0: the site config's spine.interval_s."
  type        = number
  default     = 0

  validation {
    condition     = var.spine_interval_s >= 0 && var.spine_interval_s <= 3600
    error_message = "spine_interval_s must be between 0 and 3600."
  }
}

variable "subnetwork" {
  description = "Subnetwork self link (regions/REGION/subnetworks/NAME) of the Dataflow workers and the bridge VM; it needs Private Google Access (no external IPs). null: the network's subnetwork in region."
  type        = string
  default     = null
}

variable "telemetry_retention" {
  description = "How long the telemetry subscription keeps unacknowledged messages, as a duration in seconds (e.g. 604800s = 7 days), so the streaming job can be stopped and resumed without loss."
  type        = string
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.telemetry_retention)) && tonumber(trimsuffix(var.telemetry_retention, "s")) >= 600 && tonumber(trimsuffix(var.telemetry_retention, "s")) <= 604800
    error_message = "telemetry_retention must be between 600s and 604800s."
  }
}

variable "temp_object_retention_days" {
  description = "Days Dataflow temp and staging files are kept."
  type        = number
  default     = 7

  validation {
    condition     = var.temp_object_retention_days >= 1
    error_message = "temp_object_retention_days must be at least 1."
  }
}
