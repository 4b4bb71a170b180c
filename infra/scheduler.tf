# Cloud Scheduler: the periodic upkeep, called with an OIDC token of the scheduler's own account (iam.tf).

locals {
  scheduled_jobs = {
    # Watch channels expire (7 days by default): replace the ones expiring within the renew margin.
    renew_channels = {
      schedule    = var.renew_channels_schedule
      description = "Renew Google Calendar watch channels before they expire, restart missing ones."
    }
    # Google's push notifications are not guaranteed: pull every two-way link now and then.
    reconcile_links = {
      schedule    = var.reconcile_interval_minutes == 60 ? "0 * * * *" : "*/${var.reconcile_interval_minutes} * * * *"
      description = "Enqueue a pull of every active two-way link, catching missed notifications."
    }
    # Pushes that failed every attempt, events changed or deleted in a one-way calendar, writes whose push
    # never ran: compare and repair. Costs one Calendar call and two Firestore reads per quiet link.
    drift_check = {
      schedule    = var.drift_check_schedule
      description = "Find and repair what differs between the clinic's agendas and the linked calendars."
    }
  }
}

resource "google_cloud_scheduler_job" "job" {
  for_each = local.scheduled_jobs

  project     = var.project_id
  region      = var.region
  name        = replace(each.key, "_", "-")
  description = each.value.description
  schedule    = each.value.schedule
  time_zone   = var.scheduler_time_zone
  # As long as the function may run: a run cut short by Scheduler would be retried while still running.
  attempt_deadline = "${local.functions[each.key].timeout_seconds}s"

  # One retry a few minutes later; the next scheduled run comes soon anyway.
  retry_config {
    retry_count          = 1
    min_backoff_duration = "120s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    body        = base64encode("{}")
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.invoker["scheduler"].email
      audience              = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  depends_on = [google_project_service.enabled]
}
