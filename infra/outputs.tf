output "webhook_url" {
  description = "Paste into GitHub: Settings > Webhooks > Payload URL (content type application/json)."
  value       = google_cloudfunctions2_function.intake.service_config[0].uri
}

output "function_service_accounts" {
  description = "Identities to bind in each cluster's RBAC (infra/kubernetes/rbac.yaml)."
  value       = { for name, account in google_service_account.functions : name => account.email }
}

output "api_url" {
  description = "The API: gitops login --api-url <this> (GITOPS_API_URL)."
  value       = google_cloudfunctions2_function.api.service_config[0].uri
}
