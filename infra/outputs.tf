# What the clinic app and the operators need to know after an apply.

output "functions_base_url" {
  description = "Base URL of every function (FUNCTIONS_BASE_URL)."
  value       = local.functions_base_url
}

output "oauth_redirect_uri" {
  description = "Authorized redirect URI to register on the OAuth web client."
  value       = "${local.oauth_redirect_base_url}/oauth_callback"
}

output "webhook_url" {
  description = "Address Google's watch channels notify."
  value       = "${local.functions_base_url}/calendar_webhook"
}

output "function_urls" {
  description = "URL of each function, by entry point."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.url }
}

output "function_service_accounts" {
  description = "Service account each function runs as, by entry point."
  value       = { for name, account in google_service_account.function : name => account.email }
}

output "tasks_invoker_service_account" {
  description = "Identity of Cloud Tasks calls to push_worker and pull_worker (TASKS_SERVICE_ACCOUNT)."
  value       = google_service_account.invoker["tasks"].email
}

output "scheduler_invoker_service_account" {
  description = "Identity of Cloud Scheduler calls to renew_channels and reconcile_links."
  value       = google_service_account.invoker["scheduler"].email
}

output "queues" {
  description = "Cloud Tasks queues, by name."
  value       = { for name, queue in local.queues : name => queue.id }
}

output "secrets" {
  description = "Secret Manager secrets to fill in (README, step 4)."
  value       = { for name, secret in google_secret_manager_secret.secret : name => secret.id }
}

output "source_object" {
  description = "The deployed source bundle (gs://bucket/object)."
  value       = "gs://${google_storage_bucket_object.source.bucket}/${google_storage_bucket_object.source.name}"
}

output "scheduler_jobs" {
  description = "Cloud Scheduler jobs, by function."
  value       = { for name, job in google_cloud_scheduler_job.job : name => job.id }
}
