# Firestore in native mode: applications, their revisions, history and drift, webhook deliveries.
resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"
  depends_on  = [google_project_service.apis]
}

# Webhook delivery records (dedupe of GitHub redeliveries) expire by their expireAt field.
resource "google_firestore_field" "webhook_delivery_ttl" {
  database   = google_firestore_database.default.name
  collection = "webhookDeliveries"
  field      = "expireAt"
  ttl_config {}
  # no single-field index needed on a TTL timestamp
  index_config {}
}

# Render-once records (shared/render/cache.py) expire by their expireAt field (30 days on).
resource "google_firestore_field" "render_ttl" {
  database   = google_firestore_database.default.name
  collection = "renders"
  field      = "expireAt"
  ttl_config {}
  index_config {}
}

# Every query the code makes is listed in shared/adapters/store/common.py QUERIES. Single-field queries
# (order by history.sequence, order by drift.detectedAt; pushes read one repositories/{hash}
# document, no query)
# use Firestore's automatic single-field indexes; a composite index goes here as soon as a
# query needs one, and tests/unit/test_infra.py fails until it does.

# Lists kept in parts (shared/adapters/store/parts.py): each part holds one JSON text of up to 512 KiB,
# never queried; not indexing it keeps a part far from the 40,000 index entries and the
# index writes off every sync's bill.
resource "google_firestore_field" "parts_unindexed" {
  for_each   = toset(["inventory", "results", "parts"])
  database   = google_firestore_database.default.name
  collection = each.key
  field      = "entries"
  index_config {}
}
