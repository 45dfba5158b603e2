# The periodic drift sweep: a message to the sweep topic, in the functions' message schema.
resource "google_cloud_scheduler_job" "sweep" {
  name      = "gitops-sweep"
  region    = var.region
  schedule  = var.sweep_schedule
  time_zone = var.sweep_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topics[var.sweep_topic].id
    data       = base64encode(jsonencode({ schema = 1, kind = "sweep", apps = [], operation = "" }))
  }

  depends_on = [google_project_service.apis]
}
