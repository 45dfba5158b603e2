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
  description = <<-EOT
    Destination GKE clusters: application destination name -> the cluster. The name in-cluster is
    the default destination. No default: the operator's tfvars file holds it (Cloud Build fetches
    it from the state bucket, infra/README.md), so a deploy cannot empty the destinations.
      name, location  the GKE cluster
      project         its project (default: project_id); infra/README.md lists the roles granted there
      endpoint        how the functions reach its control plane:
                        "public"  the cluster's public IP endpoint (default)
                        "dns"     the DNS-based endpoint (gke-....gke.goog; IAM-checked, works for
                                  private clusters without any VPC egress)
                        "private" the private IP endpoint, through var.vpc_connector
  EOT
  type = map(object({
    name     = string
    location = string
    project  = optional(string)
    endpoint = optional(string, "public")
  }))
  validation {
    condition     = length(var.clusters) > 0
    error_message = "clusters is empty: every apply and audit would fail. Pass the operator's tfvars file (infra/README.md)."
  }
  validation {
    condition     = alltrue([for c in values(var.clusters) : contains(["public", "dns", "private"], c.endpoint)])
    error_message = "a cluster's endpoint is one of public, dns, private."
  }
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector (projects/P/locations/R/connectors/NAME) through which render, apply and audit reach private IP ranges: clusters with endpoint = \"private\". Null: no VPC egress."
  type        = string
  default     = null
}

variable "kms_key_name" {
  description = "Customer-managed key (projects/P/locations/REGION/keyRings/R/cryptoKeys/K, in var.region) for the Pub/Sub topics, secrets, source bucket, image repository and the functions. Null: Google-managed keys. infra/README.md lists the service agents kms.tf grants it to."
  type        = string
  default     = null
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

variable "api_audiences" {
  description = "Token audiences the API accepts besides its own URL: the client id of an OAuth client you own (people's ID tokens, README \"Who may call the API\"). Never gcloud's public client id: every service that accepts gcloud's tokens shares it."
  type        = list(string)
  default     = []
  validation {
    condition     = !contains(var.api_audiences, "32555940559.apps.googleusercontent.com")
    error_message = "api_audiences must not name gcloud's public client id (32555940559.apps.googleusercontent.com): a token any other service receives would be accepted here."
  }
}
