# The customer-managed key (var.kms_key_name), when the operator offers one: each Google service
# agent that encrypts this deployment's data with it may use it, and nothing else may.
# Firestore is not among them: its key is chosen when the database is created and cannot change
# (a new key would replace the database; infra/plancheck.py refuses such a plan).

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

locals {
  kms_agents = var.kms_key_name == null ? {} : {
    pubsub           = local.pubsub_agent
    secretmanager    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-secretmanager.iam.gserviceaccount.com"
    storage          = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
    artifactregistry = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
    cloudrun         = "serviceAccount:service-${data.google_project.this.number}@serverless-robot-prod.iam.gserviceaccount.com"
    cloudfunctions   = "serviceAccount:service-${data.google_project.this.number}@gcf-admin-robot.iam.gserviceaccount.com"
  }
}

resource "google_kms_crypto_key_iam_member" "agents" {
  for_each      = local.kms_agents
  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
