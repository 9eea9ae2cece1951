variable "ack_deadline_seconds" {
  description = "Pub/Sub ack deadline of the Dataflow subscription, in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "ack_deadline_seconds must be between 10 and 600 (Pub/Sub limits)."
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

variable "telemetry_retention" {
  description = "How long the telemetry subscription keeps unacknowledged messages, as a duration in seconds (e.g. 604800s = 7 days), so the streaming job can be stopped and resumed without loss."
  type        = string
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.telemetry_retention)) && tonumber(trimsuffix(var.telemetry_retention, "s")) >= 600 && tonumber(trimsuffix(var.telemetry_retention, "s")) <= 604800
    error_message = "telemetry_retention must be between 600s and 604800s."
  }
}
