variable "project_id" {
  description = "The GCP project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, Firestore database and Scheduler job."
  type        = string
  default     = "europe-west1"
}

variable "clusters" {
  description = "Destination GKE clusters: application destination name -> {name, location} of the cluster. The name in-cluster is the default destination."
  type = map(object({
    name     = string
    location = string
  }))
  default = {}
}

variable "sweep_schedule" {
  description = "Cron schedule (Cloud Scheduler) of the drift sweep."
  type        = string
  default     = "*/5 * * * *"
}

variable "sweep_time_zone" {
  description = "Time zone of the sweep schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "runtime" {
  description = "Cloud Run functions Python runtime."
  type        = string
  default     = "python311"
}

variable "render_image" {
  description = "The render function's image (functions/render/Dockerfile), by digest: Cloud Build passes the one it pushed."
  type        = string
}

variable "render_memory" {
  description = "Memory per render instance: the function, plus up to 256 MiB per sandboxed renderer run."
  type        = string
  default     = "2Gi"
}

variable "function_memory" {
  description = "Memory per function instance."
  type        = string
  default     = "512Mi"
}

variable "max_instances" {
  description = "Upper bound on instances per function."
  type        = number
  default     = 100
}

variable "message_retention" {
  description = "How long unacknowledged messages are kept on the subscriptions."
  type        = string
  default     = "604800s"
}

# ---- generated from shared/core/topology.py into topology.auto.tfvars.json (python -m infra.generate)

variable "topics" {
  description = "Pub/Sub topics: name -> purpose."
  type        = map(string)
}

variable "dead_letter_topics" {
  description = "Dead-letter topics of the subscriptions."
  type        = list(string)
}

variable "subscriptions" {
  description = "Push subscriptions: name -> settings, each pushing to one function."
  type = map(object({
    topic                 = string
    function              = string
    ordering              = bool
    ack_deadline_seconds  = number
    max_delivery_attempts = number
    minimum_backoff       = string
    maximum_backoff       = string
    dead_letter_topic     = string
  }))
}

variable "functions" {
  description = "The four functions: name -> source file, entry point, signature."
  type = map(object({
    source      = string
    entry_point = string
    signature   = string
  }))
}

variable "function_publishes" {
  description = "Topics each function publishes to (its only Pub/Sub publisher grants)."
  type        = map(list(string))
}

variable "sweep_topic" {
  description = "The topic Cloud Scheduler publishes the sweep to."
  type        = string
}
