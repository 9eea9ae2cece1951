# The dataset, its tables and its views. Tables come from the JSON schemas generated
# from the pydantic models (schemas/bigquery/*.json); views from bigquery/views/*.sql.
# Nothing here repeats a column: a model change flows in through the JSON files.

locals {
  dataset_id = coalesce(var.dataset_id, "${replace(var.prefix, "-", "_")}_dra_twin")
  # What open_warehouse() takes (warehouse/url.py): the job, the pipelines, an output.
  warehouse_url = "bigquery://${var.project_id}/${google_bigquery_dataset.twin.dataset_id}"

  schema_dir = "${path.module}/../schemas/bigquery"
  table_specs = {
    for f in fileset(local.schema_dir, "*.json") :
    trimsuffix(f, ".json") => jsondecode(file("${local.schema_dir}/${f}"))
  }

  # The view files name tables unqualified, because the local DuckDB warehouse runs the
  # same files. A BigQuery view has no default dataset, so every table after FROM or
  # JOIN is qualified here (views read tables only; CTE names are not table names).
  view_dir      = "${path.module}/../bigquery/views"
  table_pattern = join("|", sort(keys(local.table_specs)))
  views = {
    for f in fileset(local.view_dir, "*.sql") :
    trimsuffix(f, ".sql") => replace(
      file("${local.view_dir}/${f}"),
      "/\\b(FROM|JOIN)(\\s+)(${local.table_pattern})\\b/",
      "$1$2`${var.project_id}.${local.dataset_id}.$3`"
    )
  }
}

resource "google_bigquery_dataset" "twin" {
  dataset_id  = local.dataset_id
  location    = var.bigquery_location
  description = "DRA twin: raw telemetry, time spine, energy, anomalies, alarms, plans."
  labels      = var.labels
}

resource "google_bigquery_table" "tables" {
  for_each = local.table_specs

  dataset_id          = google_bigquery_dataset.twin.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = jsonencode(each.value.schema)
  clustering          = each.value.clustering
  deletion_protection = var.deletion_protection
  labels              = var.labels

  time_partitioning {
    type  = each.value.time_partitioning.type
    field = each.value.time_partitioning.field
  }
}

resource "google_bigquery_table" "views" {
  for_each = local.views

  dataset_id = google_bigquery_dataset.twin.dataset_id
  table_id   = each.key
  # A view holds no data: replacing it on a change of SQL loses nothing.
  deletion_protection = false
  labels              = var.labels

  view {
    query          = each.value
    use_legacy_sql = false
  }

  # The provider cannot see references inside the SQL text.
  depends_on = [google_bigquery_table.tables]
}
