# The MQTT -> Pub/Sub bridge on a Container-Optimized OS VM, kept alive by a
# managed instance group of one (recreated when /healthz stops answering).
#
# Why cloud-init and not the gce-container-declaration metadata: the container
# declaration can only hold literal environment values, so the MQTT password would
# sit in the instance metadata and in the Terraform state. Instead a systemd unit
# (rendered from templates/bridge.cloud-init.yaml.tftpl) reads the password from
# Secret Manager at every start, as the bridge service account, into a tmpfs file
# that `docker run --env-file` passes as DRA_BRIDGE_MQTT__PASSWORD. Terraform only
# creates the secret; its value is added out of band:
#   printf %s "$PASSWORD" | gcloud secrets versions add <prefix>-mqtt-password --data-file=-
# Until bridge_image is set (Cloud Build pushes it), no VM is created.

locals {
  bridge_enabled     = var.bridge_image != null
  bridge_zone        = coalesce(var.bridge_zone, "${var.region}-b")
  bridge_network_tag = "${var.prefix}-bridge"
  bridge_health_port = 8080

  # The bridge's YAML config (bridge/config.py), without the password.
  bridge_config = {
    mqtt = merge(
      {
        host          = var.bridge_broker_host
        port          = var.bridge_broker_port
        protocol      = "5"
        client_id     = "${var.prefix}-bridge-0"
        topic_filters = var.bridge_topic_filters
      },
      var.bridge_mqtt_username == null ? {} : { username = var.bridge_mqtt_username },
      # An empty tls section means TLS with the system trust store.
      var.bridge_broker_tls ? { tls = {} } : {},
    )
    pubsub = {
      project           = var.project_id
      topic             = google_pubsub_topic.telemetry.name
      dead_letter_topic = google_pubsub_topic.dead_letter.name
    }
    health_port = local.bridge_health_port
    log_level   = "INFO"
  }
}

resource "google_secret_manager_secret" "mqtt_password" {
  secret_id = "${var.prefix}-mqtt-password"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_compute_instance_template" "bridge" {
  count = local.bridge_enabled ? 1 : 0

  name_prefix  = "${var.prefix}-bridge-"
  machine_type = var.bridge_machine_type
  tags         = [local.bridge_network_tag]
  labels       = merge(var.labels, { dra-role = "bridge" })

  disk {
    source_image = "projects/cos-cloud/global/images/family/cos-stable"
    disk_size_gb = 10
    boot         = true
    auto_delete  = true
  }

  network_interface {
    network    = var.network
    subnetwork = var.subnetwork

    # No external address unless asked: the broker link and Google APIs are reached
    # through the VPC (Cloud NAT / VPN / Private Google Access).
    dynamic "access_config" {
      for_each = var.bridge_external_ip ? [1] : []
      content {}
    }
  }

  service_account {
    email  = google_service_account.bridge.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    user-data = templatefile("${path.module}/templates/bridge.cloud-init.yaml.tftpl", {
      image          = var.bridge_image
      registry       = "${var.region}-docker.pkg.dev"
      config_yaml    = yamlencode(local.bridge_config)
      secret_version = "${google_secret_manager_secret.mqtt_password.id}/versions/latest"
    })
    google-logging-enabled    = "true"
    google-monitoring-enabled = "true"
    enable-oslogin            = "TRUE"
    block-project-ssh-keys    = "true"
  }

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = var.bridge_broker_host != null
      error_message = "bridge_broker_host must be set with bridge_image."
    }
  }
}

resource "google_compute_health_check" "bridge" {
  count = local.bridge_enabled ? 1 : 0

  name                = "${var.prefix}-bridge-healthz"
  check_interval_sec  = 15
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 4

  # Liveness, not readiness: a broker outage makes /readyz fail, and recreating the
  # VM would not bring the broker back.
  http_health_check {
    port         = local.bridge_health_port
    request_path = "/healthz"
  }
}

resource "google_compute_instance_group_manager" "bridge" {
  count = local.bridge_enabled ? 1 : 0

  name               = "${var.prefix}-bridge"
  base_instance_name = "${var.prefix}-bridge"
  zone               = local.bridge_zone
  # One replica: client_id is fixed, and two bridges with the same client id would
  # take each other's MQTT session. Scale out with shared_group and distinct ids.
  target_size = 1

  version {
    instance_template = google_compute_instance_template.bridge[0].self_link_unique
  }

  auto_healing_policies {
    health_check = google_compute_health_check.bridge[0].id
    # Image pull, secret fetch and broker connect take well under this.
    initial_delay_sec = 180
  }

  # RECREATE keeps the instance name; never two bridges at once (same client id).
  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    replacement_method    = "RECREATE"
    max_surge_fixed       = 0
    max_unavailable_fixed = 1
  }
}

# Google's health checkers probe the health port from these ranges.
resource "google_compute_firewall" "bridge_health_checks" {
  name      = "${var.prefix}-bridge-health-checks"
  network   = var.network
  direction = "INGRESS"
  source_ranges = [
    "35.191.0.0/16",
    "130.211.0.0/22",
  ]
  target_tags = [local.bridge_network_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.bridge_health_port)]
  }
}
