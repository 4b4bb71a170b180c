# Inputs. Only project_id, clinic_app_service_account and oauth_client_id have no default.

variable "project_id" {
  type        = string
  description = "Google Cloud project that holds the clinic app's Firestore database; everything is deployed there (Firestore triggers only fire in their own project)."
}

variable "region" {
  type        = string
  default     = "europe-west1"
  description = "Region of the functions, the Cloud Tasks queues and the Cloud Scheduler jobs."
}

variable "firestore_location" {
  type        = string
  default     = "eur3"
  description = "Location of the Firestore database (multi-region eur3/nam5 or a region). The appointment trigger listens there."
}

variable "create_firestore_database" {
  type        = bool
  default     = true
  description = "Create the (default) Firestore database. Set false when the clinic app already created it (or import it: see README)."
}

variable "clinic_app_service_account" {
  type        = string
  description = "E-mail of the service account the clinic app's backend calls oauth_start, complete_link, approve_link, disable_link and list_links with (an OIDC identity token of it)."

  validation {
    condition     = can(regex("^[a-z0-9-]+@[a-z0-9.-]+\\.gserviceaccount\\.com$", var.clinic_app_service_account))
    error_message = "clinic_app_service_account must be a service account e-mail (...@....gserviceaccount.com)."
  }
}

variable "oauth_client_id" {
  type        = string
  description = "Client id of the OAuth web client (Google Auth Platform > Clients). Its secret goes into the secret oauth-client-secret."
}

variable "oauth_redirect_base_url" {
  type        = string
  default     = null
  description = "https base URL of your own verified domain that serves oauth_callback (e.g. \"https://sync.clinic.example\"), for a verified app. Default: the functions' own address."

  validation {
    condition     = var.oauth_redirect_base_url == null || startswith(coalesce(var.oauth_redirect_base_url, "-"), "https://")
    error_message = "oauth_redirect_base_url must be an https URL."
  }
}

variable "return_url_hosts" {
  type        = list(string)
  default     = []
  description = "Hosts of the clinic app that oauth_start's returnUrl may send the user back to, over https (e.g. [\"app.clinic.example\"]). Empty: no returnUrl is accepted and oauth_callback shows its own page."
}

variable "calendar_name" {
  type        = string
  default     = "DASI eCLINIC"
  description = "Name of the calendar created in each linked Google account."
}

variable "backfill_days" {
  type        = number
  default     = 365
  description = "How many days of future appointments are copied to Google when a link becomes active."

  validation {
    condition     = var.backfill_days >= 0 && var.backfill_days <= 3650
    error_message = "backfill_days must be between 0 and 3650."
  }
}

variable "oauth_state_ttl_seconds" {
  type        = number
  default     = 600
  description = "How long a consent round trip (the OAuth state) stays valid."
}

variable "link_code_ttl_seconds" {
  type        = number
  default     = 300
  description = "How long the one-time code oauth_callback hands to the clinic app stays redeemable by complete_link."
}

variable "channel_ttl_seconds" {
  type        = number
  default     = 604800
  description = "Lifetime asked of Google for each watch channel (Google's maximum and default is 7 days)."
}

variable "channel_renew_margin_seconds" {
  type        = number
  default     = 86400
  description = "renew_channels replaces a channel this long before it expires."

  validation {
    # The hourly renewal must get at least one chance inside the margin.
    condition     = var.channel_renew_margin_seconds >= 7200
    error_message = "channel_renew_margin_seconds must be at least two renewal periods (7200 s)."
  }
}

variable "full_sync_days_back" {
  type        = number
  default     = 30
  description = "When Google forgets a sync token, the full re-read of a calendar starts this many days back."
}

variable "reconcile_interval_minutes" {
  type        = number
  default     = 15
  description = "How often reconcile_links pulls every two-way link, catching push notifications Google did not deliver."

  validation {
    # Divisors of 60, so that the cron step */N runs at an even rhythm.
    condition     = contains([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60], var.reconcile_interval_minutes)
    error_message = "reconcile_interval_minutes must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)."
  }
}

variable "renew_channels_schedule" {
  type        = string
  default     = "7 * * * *"
  description = "Cron schedule of renew_channels (hourly by default, off the hour to spread load)."
}

variable "drift_check_schedule" {
  type        = string
  default     = "*/30 * * * *"
  description = "Cron schedule of drift_check (every 30 minutes by default): how long a lost push may stay lost."
}

variable "scheduler_time_zone" {
  type        = string
  default     = "Etc/UTC"
  description = "Time zone the Cloud Scheduler cron expressions are read in."
}

variable "push_dispatches_per_second" {
  type        = number
  default     = 40
  description = "Cloud Tasks rate limit of the push queue (see tasks.tf for how it fits Google Calendar's quota)."

  validation {
    # With pull's cap of 20 this keeps both queues at 100 tasks/s at most, under Calendar's ~166 requests/s.
    condition     = var.push_dispatches_per_second > 0 && var.push_dispatches_per_second <= 80
    error_message = "push_dispatches_per_second must be in (0, 80]: Calendar allows ~166 requests/s per project in all."
  }
}

variable "pull_dispatches_per_second" {
  type        = number
  default     = 5
  description = "Cloud Tasks rate limit of the pull queue."

  validation {
    condition     = var.pull_dispatches_per_second > 0 && var.pull_dispatches_per_second <= 20
    error_message = "pull_dispatches_per_second must be in (0, 20]: a pull makes several Calendar requests."
  }
}

variable "source_bucket_name" {
  type        = string
  default     = null
  description = "Bucket for the function source bundles; default \"<project_id>-calendar-sync-source\"."
}

variable "labels" {
  type        = map(string)
  default     = { app = "clinic-calendar-sync" }
  description = "Labels put on every resource that takes labels."
}

variable "manage_firestore_rules" {
  type        = bool
  default     = true
  description = "Deploy ../firestore.rules as the database's security rules. Set false when the clinic app deploys the rules (with ours merged in: docs/security-rules.md)."
}

variable "alert_email" {
  type        = string
  default     = null
  description = "E-mail address the alert policies (monitoring.tf) notify; without it the alerts show only in the console."
}
