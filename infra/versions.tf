terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.10, < 7.0" # 6.10: the clusters' DNS-based endpoint (control_plane_endpoints_config)
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
  # State in a GCS bucket you create once: terraform init -backend-config=bucket=BUCKET
  backend "gcs" {
    prefix = "gitops/state"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
