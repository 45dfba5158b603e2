# The render function as a container on Cloud Run, second-generation execution environment.
# Its renderers (Kustomize, Helm, Jsonnet) run in bubblewrap sandboxes with user, mount, PID
# and network namespaces (shared/render/sandbox.py), which the second generation supports and
# the first (gVisor) does not; and they need bwrap, helm and kubectl, which the Python
# buildpack cannot add. The image is functions/render/Dockerfile: Cloud Build prepares its
# context (python -m infra.runtime prepare build/render: the project's wheels, helm and kubectl
# pinned and checksum-verified), builds and pushes it, and passes the pushed digest as
# var.render_image. tests/integration/test_render_runtime.py builds the same Dockerfile and
# renders Directory, Kustomize, Helm and Jsonnet applications through the function it starts.

resource "google_artifact_registry_repository" "images" {
  location      = var.region
  repository_id = "gitops"
  description   = "Images of the gitops functions that run as containers (render)."
  format        = "DOCKER"
  kms_key_name  = var.kms_key_name
  depends_on    = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_cloud_run_v2_service" "render" {
  name                = "gitops-render"
  location            = var.region
  description         = "gitops render (cloudevent, container)"
  deletion_protection = false
  # only Pub/Sub pushes reach it: internal ingress admits push subscriptions of this project
  ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account                  = google_service_account.functions["render"].email
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    timeout                          = "${local.timeouts.render}s"
    max_instance_request_concurrency = 8 # the functions' THREADS: one request per thread
    encryption_key                   = var.kms_key_name
    dynamic "vpc_access" {
      for_each = var.vpc_connector == null ? [] : [var.vpc_connector]
      content {
        connector = vpc_access.value
        egress    = "PRIVATE_RANGES_ONLY"
      }
    }
    scaling {
      max_instance_count = var.max_instances
    }
    containers {
      image = var.render_image
      resources {
        limits = { cpu = "1", memory = var.render_memory }
      }
      dynamic "env" {
        for_each = local.function_env
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.secret_env["render"]
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

locals {
  # each function's Cloud Run service and URL, whichever way it is deployed
  function_service = merge(
    { for name, f in google_cloudfunctions2_function.functions : name => f.name },
    { render = google_cloud_run_v2_service.render.name },
  )
  function_uri = merge(
    { for name, f in google_cloudfunctions2_function.functions : name => f.service_config[0].uri },
    { render = google_cloud_run_v2_service.render.uri },
  )
}
