# Intake, apply and audit as Cloud Run functions (2nd gen), built from this repository with
# the Python buildpack. Render runs as a container (render.tf): its renderers need binaries
# and namespaces the buildpack image does not give.

data "google_container_cluster" "destinations" {
  for_each = var.clusters
  name     = each.value.name
  location = each.value.location
  project  = coalesce(each.value.project, var.project_id)
}

locals {
  function_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    LOG_EXECUTION_ID     = "true"
    # destination name -> GKE endpoint and CA; the functions authenticate with their own identity
    GITOPS_CLUSTERS = jsonencode({
      for name, c in data.google_container_cluster.destinations : name => merge(
        { endpoint = "https://${local.cluster_endpoint[name]}" },
        # where its Cloud Audit Logs are (the audit function names who wrote a drifted object)
        { gke = { project = coalesce(var.clusters[name].project, var.project_id), location = c.location, name = c.name } },
        # the DNS-based endpoint serves a publicly trusted certificate, not the cluster's CA
        { for k, v in { caCertificate = c.master_auth[0].cluster_ca_certificate } : k => v if var.clusters[name].endpoint != "dns" },
      )
    })
  }
  cluster_endpoint = {
    for name, c in data.google_container_cluster.destinations : name => (
      var.clusters[name].endpoint == "dns" ? c.control_plane_endpoints_config[0].dns_endpoint_config[0].endpoint :
      var.clusters[name].endpoint == "private" ? c.private_cluster_config[0].private_endpoint : c.endpoint
    )
  }
  # the buildpack functions Pub/Sub pushes to (intake, render and api have resources of their own)
  internal_functions = { for name, f in var.functions : name => f if !contains(["intake", "render", "api"], name) }
  timeouts           = { intake = 60, render = 540, apply = 540, audit = 540, api = 300 }
  # Cloud Run's deterministic URL of the API: the audience of the tokens it accepts (plus
  # var.api_audiences: the client id of an OAuth client the operator owns, never gcloud's)
  api_url = "https://gitops-api-${data.google_project.this.number}.${var.region}.run.app"
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
    api = { GITOPS_REPO_CREDENTIALS = google_secret_manager_secret.repo_credentials.secret_id }
  }
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-gitops-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  #checkov:skip=CKV_GCP_62:holds only the source zips Terraform uploads; Cloud Audit Logs record who wrote and read them
  versioning {
    enabled = true # objects are named by their checksum and never overwritten: no extra versions kept
  }
  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
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

# Apply and audit: only Pub/Sub pushes of this project reach them (internal ingress admits those).
resource "google_cloudfunctions2_function" "functions" {
  for_each     = local.internal_functions
  name         = "gitops-${each.key}"
  location     = var.region
  description  = "gitops ${each.key} (${each.value.signature})"
  kms_key_name = var.kms_key_name

  build_config {
    runtime     = var.runtime
    entry_point = each.value.entry_point
    # a function encrypted with a customer-managed key keeps its image in a repository with that key
    docker_repository = var.kms_key_name == null ? null : google_artifact_registry_repository.images.id
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
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    # audit: drift attribution from GKE's Cloud Audit Logs (shared/adapters/audittrail.py)
    environment_variables = merge(local.function_env, each.key == "audit" ? { GITOPS_KUBE_AUDIT_SOURCE = "cloud-logging" } : {})
    # private clusters' endpoints (and other private ranges) through the connector
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"

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

  lifecycle {
    precondition {
      condition     = var.vpc_connector != null || alltrue([for c in values(var.clusters) : c.endpoint != "private"])
      error_message = "a cluster with endpoint = \"private\" is reached through var.vpc_connector: set it."
    }
  }

  depends_on = [google_project_service.apis]
}

# Intake: GitHub calls it from the internet.
resource "google_cloudfunctions2_function" "intake" {
  #checkov:skip=CKV_GCP_124:GitHub delivers webhooks from the internet; every request is HMAC-checked (shared/core/webhook.py)
  name         = "gitops-intake"
  location     = var.region
  description  = "gitops intake (${var.functions.intake.signature})"
  kms_key_name = var.kms_key_name

  build_config {
    runtime               = var.runtime
    entry_point           = var.functions.intake.entry_point
    docker_repository     = var.kms_key_name == null ? null : google_artifact_registry_repository.images.id
    environment_variables = { GOOGLE_FUNCTION_SOURCE = var.functions.intake.source }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.functions["intake"].email
    available_memory               = var.function_memory
    max_instance_count             = var.max_instances
    timeout_seconds                = local.timeouts.intake
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables          = local.function_env

    dynamic "secret_environment_variables" {
      for_each = local.secret_env["intake"]
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

# The API: people (CLI, browser) call it from outside; it is public at the network layer
# (iam.tf api_public: a browser's cookie cannot pass Cloud Run IAM) and the function verifies
# the ID token itself (signature, audience, expiry, issuer) and authorizes each call by its
# RBAC policy.
resource "google_cloudfunctions2_function" "api" {
  #checkov:skip=CKV_GCP_124:people reach the API from their machines and browsers; the function verifies every token and authorizes every call
  name         = "gitops-api"
  location     = var.region
  description  = "gitops api (${var.functions.api.signature})"
  kms_key_name = var.kms_key_name

  build_config {
    runtime               = var.runtime
    entry_point           = var.functions.api.entry_point
    docker_repository     = var.kms_key_name == null ? null : google_artifact_registry_repository.images.id
    environment_variables = { GOOGLE_FUNCTION_SOURCE = var.functions.api.source }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.functions["api"].email
    available_memory               = var.function_memory
    max_instance_count             = var.max_instances
    timeout_seconds                = local.timeouts.api
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables = merge(local.function_env, {
      GITOPS_API_AUDIENCE = join(",", concat([local.api_url], var.api_audiences))
    })
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"

    dynamic "secret_environment_variables" {
      for_each = local.secret_env["api"]
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

# intake was one of google_cloudfunctions2_function.functions until it was given its own ingress
moved {
  from = google_cloudfunctions2_function.functions["intake"]
  to   = google_cloudfunctions2_function.intake
}
