# Intake, apply and audit as Cloud Run functions (2nd gen), built from this repository with
# the Python buildpack. Render runs as a container (render.tf): its renderers need binaries
# and namespaces the buildpack image does not give.

data "google_container_cluster" "destinations" {
  for_each = var.clusters
  name     = each.value.name
  location = each.value.location
}

locals {
  function_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    LOG_EXECUTION_ID     = "true"
    # destination name -> GKE endpoint and CA; the functions authenticate with their own identity
    GITOPS_CLUSTERS = jsonencode({
      for name, c in data.google_container_cluster.destinations : name => {
        endpoint      = "https://${c.endpoint}"
        caCertificate = c.master_auth[0].cluster_ca_certificate
      }
    })
  }
  timeouts = { intake = 60, render = 540, apply = 540, audit = 540 }
  # secrets injected as environment variables, per function (never in Terraform state)
  secret_env = {
    intake = { GITHUB_WEBHOOK_SECRET = google_secret_manager_secret.webhook.secret_id }
    render = {
      GITOPS_REPO_CREDENTIALS = google_secret_manager_secret.repo_credentials.secret_id
      GITOPS_GITHUB_TOKEN     = google_secret_manager_secret.github_token.secret_id
    }
    apply = {
      GITOPS_REPO_CREDENTIALS = google_secret_manager_secret.repo_credentials.secret_id
      GITOPS_GITHUB_TOKEN     = google_secret_manager_secret.github_token.secret_id
    }
    audit = { GITOPS_REPO_CREDENTIALS = google_secret_manager_secret.repo_credentials.secret_id }
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-gitops-source"
  location                    = var.region
  uniform_bucket_level_access = true
  force_destroy               = true
  lifecycle_rule {
    condition { age = 30 }
    action { type = "Delete" }
  }
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.build/source.zip"
  excludes    = [".git", ".venv", ".stack", ".pytest_cache", ".ruff_cache", "tests", "bench", "infra/.build", "infra/.terraform"]
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "functions" {
  for_each    = { for name, f in var.functions : name => f if name != "render" }
  name        = "gitops-${each.key}"
  location    = var.region
  description = "gitops ${each.key} (${each.value.signature})"

  build_config {
    runtime     = var.runtime
    entry_point = each.value.entry_point
    # the function's main.py lives in functions/<name>/; requirements.txt installs shared/
    environment_variables = { GOOGLE_FUNCTION_SOURCE = each.value.source }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.functions[each.key].email
    available_memory               = var.function_memory
    max_instance_count             = var.max_instances
    timeout_seconds                = local.timeouts[each.key]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables          = local.function_env

    dynamic "secret_environment_variables" {
      for_each = local.secret_env[each.key]
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_service.apis]
}
