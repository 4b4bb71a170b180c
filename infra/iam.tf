# Service accounts and the project-level roles they need. Each function runs as its own account, so a
# function holds only its own permissions: Firestore (all of them), its secrets (secrets.tf), its queues
# (tasks.tf). Who may CALL a function is in functions.tf (invokers).

resource "google_service_account" "function" {
  for_each = local.functions

  project = var.project_id
  # account_id: 6-30 characters of [a-z0-9-].
  account_id   = "fn-${replace(each.key, "_", "-")}"
  display_name = "Function ${each.key}"
  description  = each.value.description

  depends_on = [google_project_service.enabled]
}

# Every function reads or writes Firestore. Firestore has no per-collection IAM: the database is the unit.
resource "google_project_iam_member" "function_firestore" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

# The identities of the OIDC tokens the private workers accept: one for Cloud Tasks (push/pull tasks), one
# for Cloud Scheduler (the upkeep jobs), so that each may invoke only the functions it calls (functions.tf:
# invoker `tasks` or `scheduler`). The code names the tasks' one in TASKS_SERVICE_ACCOUNT.
locals {
  invokers = {
    tasks = {
      account_id   = "calendar-sync-tasks"
      display_name = "Cloud Tasks caller of the sync workers"
      description  = "OIDC identity of Cloud Tasks requests to push_worker and pull_worker."
    }
    scheduler = {
      account_id   = "calendar-sync-scheduler"
      display_name = "Cloud Scheduler caller of the upkeep functions"
      description  = "OIDC identity of Cloud Scheduler requests to renew_channels, reconcile_links and drift_check."
    }
  }
}

resource "google_service_account" "invoker" {
  for_each = local.invokers

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = each.value.display_name
  description  = each.value.description

  depends_on = [google_project_service.enabled]
}

# Creating a task whose OIDC token is minted for the tasks account needs iam.serviceAccounts.actAs on it:
# granted on that one account, to the functions that enqueue.
resource "google_service_account_iam_member" "enqueuer_acts_as_invoker" {
  for_each = toset([for binding in values(local.enqueuers) : binding.function])

  service_account_id = google_service_account.invoker["tasks"].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.key].member
}

# Builds the functions' images (Cloud Build), instead of the project's default compute account.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "calendar-sync-build"
  display_name = "Cloud Build of the sync functions"
  description  = "Builds the functions' container images from the source bundle."

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",       # build logs
    "roles/artifactregistry.writer", # the images, in the gcf-artifacts repository Cloud Functions manages
  ])

  project = var.project_id
  role    = each.key
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}
