# Values are added outside Terraform (so they never enter its state):
#   gcloud secrets versions add gitops-webhook-secret --data-file=-
resource "google_secret_manager_secret" "webhook" {
  secret_id = "gitops-webhook-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "repo_credentials" {
  secret_id = "gitops-repo-credentials"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# A GitHub token that may set commit statuses (repo:status); "none" turns statuses off.
resource "google_secret_manager_secret" "github_token" {
  secret_id = "gitops-github-token"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}
