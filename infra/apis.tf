# The Google APIs the deployment and the running functions use.

locals {
  services = toset([
    "artifactregistry.googleapis.com",     # images built from the source bundle
    "calendar-json.googleapis.com",        # Google Calendar API, called with each user's grant
    "cloudbuild.googleapis.com",           # builds each function's image
    "cloudfunctions.googleapis.com",       # the functions
    "cloudresourcemanager.googleapis.com", # project IAM bindings
    "cloudscheduler.googleapis.com",       # renew_channels and reconcile_links
    "cloudtasks.googleapis.com",           # the push and pull queues
    "eventarc.googleapis.com",             # the Firestore trigger of on_appointment_written
    "firebaserules.googleapis.com",        # Firestore security rules (firestore.tf)
    "firestore.googleapis.com",            # all state
    "iam.googleapis.com",                  # service accounts
    "iamcredentials.googleapis.com",       # OIDC tokens minted for Tasks and Scheduler
    "logging.googleapis.com",              # structured logs
    "monitoring.googleapis.com",           # alert policies and the dashboard (monitoring.tf)
    "pubsub.googleapis.com",               # Eventarc's transport
    "run.googleapis.com",                  # gen2 functions run as Cloud Run services
    "secretmanager.googleapis.com",        # OAuth client secret and keys
    "storage.googleapis.com",              # source bundles
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.key

  # Other workloads of the clinic's project may rely on these APIs: never turn them off on destroy.
  disable_on_destroy         = false
  disable_dependent_services = false
}
