# Values are added outside Terraform (so they never enter its state):
#   gcloud secrets versions add gitops-webhook-secret --data-file=-
resource "google_secret_manager_secret" "webhook" {
  secret_id = "gitops-webhook-secret"
  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_secret_manager_secret" "repo_credentials" {
  secret_id = "gitops-repo-credentials"
  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

# A GitHub token that may set commit statuses (repo:status); "none" turns statuses off.
resource "google_secret_manager_secret" "github_token" {
  secret_id = "gitops-github-token"
  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}
