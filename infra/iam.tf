# One service account per function, each with only what it needs.

resource "google_service_account" "functions" {
  for_each     = var.functions
  account_id   = "gitops-${each.key}"
  display_name = "gitops ${each.key} function"
}

# Pub/Sub pushes to render/apply/audit with an OIDC token of this account; nothing else may.
resource "google_service_account" "pusher" {
  account_id   = "gitops-pusher"
  display_name = "gitops Pub/Sub push identity"
}

locals {
  pubsub_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  scheduler_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
  sa              = { for name, account in google_service_account.functions : name => "serviceAccount:${account.email}" }

  publish_grants = merge([
    for fn, topics in var.function_publishes : { for t in topics : "${fn}/${t}" => { function = fn, topic = t } }
  ]...)
}

# Firestore: every function reads and writes application state (intake: delivery dedupe; api:
# what people ask for, after its own RBAC). People get no Firestore role: they go through the API.
resource "google_project_iam_member" "firestore_user" {
  for_each = var.functions
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = local.sa[each.key]
}

resource "google_pubsub_topic_iam_member" "publish" {
  for_each = local.publish_grants
  topic    = google_pubsub_topic.topics[each.value.topic].id
  role     = "roles/pubsub.publisher"
  member   = local.sa[each.value.function]
}

# Poison messages go straight to the dead-letter topic of the subscription that delivered them.
resource "google_pubsub_topic_iam_member" "publish_dead_letters" {
  for_each = var.subscriptions
  topic    = google_pubsub_topic.dead_letter[each.value.dead_letter_topic].id
  role     = "roles/pubsub.publisher"
  member   = local.sa[each.value.function]
}

# Repository credentials: render fetches commits; apply and audit read Secret values back
# from the commit (they are never stored in Firestore).
resource "google_secret_manager_secret_iam_member" "repo_credentials" {
  for_each  = toset(["render", "apply", "audit", "api"])
  secret_id = google_secret_manager_secret.repo_credentials.id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa[each.value]
}

resource "google_secret_manager_secret_iam_member" "github_token" {
  for_each  = toset(["render", "apply"])
  secret_id = google_secret_manager_secret.github_token.id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa[each.value]
}

resource "google_secret_manager_secret_iam_member" "webhook_secret" {
  secret_id = google_secret_manager_secret.webhook.id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa["intake"]
}

# GKE: enough IAM to reach the clusters' API servers; what they may do inside is Kubernetes
# RBAC (infra/kubernetes/rbac.yaml binds these identities).
# render reads each destination's /version (the gate and helm --kube-version judge against it).
resource "google_project_iam_member" "gke_access" {
  for_each = toset(["render", "apply", "audit", "api"])
  project  = var.project_id
  role     = "roles/container.clusterViewer"
  member   = local.sa[each.value]
}

# The same in each other project that holds a destination cluster (var.clusters[*].project).
locals {
  other_cluster_projects = setsubtract([for c in values(var.clusters) : coalesce(c.project, var.project_id)], [var.project_id])
  gke_access_elsewhere = {
    for pair in setproduct(["render", "apply", "audit", "api"], local.other_cluster_projects) : "${pair[0]}/${pair[1]}" => {
      function = pair[0]
      project  = pair[1]
    }
  }
}

resource "google_project_iam_member" "gke_access_elsewhere" {
  for_each = local.gke_access_elsewhere
  project  = each.value.project
  role     = "roles/container.clusterViewer"
  member   = local.sa[each.value.function]
}

# Drift attribution: the audit function reads the Kubernetes writes in GKE's Cloud Audit Logs,
# which are Admin Activity entries, stored in the cluster's project. roles/logging.viewer reads
# Admin Activity (and System Event) audit logs; roles/logging.privateLogViewer is needed only
# for Data Access logs, which hold reads, not writes: not granted.
resource "google_project_iam_member" "audit_reads_audit_logs" {
  for_each = toset(concat([var.project_id], tolist(local.other_cluster_projects)))
  project  = each.value
  role     = "roles/logging.viewer"
  member   = local.sa["audit"]
}

# Invocation: GitHub calls intake (HMAC-verified in code); only the pusher calls the others.
resource "google_cloud_run_service_iam_member" "intake_public" {
  #checkov:skip=CKV_GCP_102:GitHub calls the intake from the internet; every request is HMAC-checked (shared/core/webhook.py)
  location = var.region
  service  = google_cloudfunctions2_function.intake.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The API is public at the network layer, like the intake: a browser's cookie-only request
# carries no Authorization header Cloud Run IAM could check, so IAM invoker grants would make
# the web UI unreachable. The function's own check is the gate: every request (pages and
# /api) needs a Google-signed ID token for its own audience (shared/adapters/idtoken.py),
# unauthenticated ones answer 401 and are audited, and RBAC decides each call.
resource "google_cloud_run_service_iam_member" "api_public" {
  #checkov:skip=CKV_GCP_102:the API verifies every ID token itself (signature, audience, issuer, expiry) and authorizes each call (shared/api/server.py); a browser's cookie cannot pass Cloud Run IAM
  location = var.region
  service  = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "pusher_invokes" {
  for_each = toset(["render", "apply", "audit"])
  location = var.region
  service  = local.function_service[each.value]
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pusher.email}"
}

# The Pub/Sub service agent mints the pusher's OIDC tokens and moves dead letters.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.pusher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = toset(var.dead_letter_topics)
  topic    = google_pubsub_topic.dead_letter[each.value].id
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = var.subscriptions
  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Cloud Scheduler publishes the sweep.
resource "google_pubsub_topic_iam_member" "scheduler_publishes_sweep" {
  topic  = google_pubsub_topic.topics[var.sweep_topic].id
  role   = "roles/pubsub.publisher"
  member = local.scheduler_agent
}
