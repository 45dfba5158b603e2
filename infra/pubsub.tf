# Topics and push subscriptions, from the one definition in shared/core/topology.py.
# The subscriptions push (with an OIDC token) to each function's HTTPS endpoint; they carry
# the ordering, retry and dead-letter policies the code relies on. (An Eventarc trigger would
# create a subscription of its own that Terraform cannot give ordering or a dead-letter topic.)

resource "google_pubsub_topic" "topics" {
  for_each                   = var.topics
  name                       = each.key
  labels                     = { app = "gitops" }
  message_retention_duration = var.message_retention
  kms_key_name               = var.kms_key_name
  depends_on                 = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each     = toset(var.dead_letter_topics)
  name         = each.value
  labels       = { app = "gitops", role = "dead-letter" }
  kms_key_name = var.kms_key_name
  depends_on   = [google_project_service.apis, google_kms_crypto_key_iam_member.agents]
}

# Keeps what reached a dead-letter topic, for an operator to read (and alert on).
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each                   = toset(var.dead_letter_topics)
  name                       = "${each.value}-hold"
  topic                      = google_pubsub_topic.dead_letter[each.value].id
  message_retention_duration = var.message_retention
  ack_deadline_seconds       = 60
}

resource "google_pubsub_subscription" "push" {
  for_each                   = var.subscriptions
  name                       = each.key
  topic                      = google_pubsub_topic.topics[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  enable_message_ordering    = each.value.ordering
  message_retention_duration = var.message_retention

  push_config {
    # the path names the topic, as the local stack's push endpoints do
    push_endpoint = "${local.function_uri[each.value.function]}/projects/${var.project_id}/topics/${each.value.topic}"
    oidc_token {
      service_account_email = google_service_account.pusher.email
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.dead_letter_topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}
