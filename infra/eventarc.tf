# Eventarc: appointment writes in Firestore fire on_appointment_written (the trigger itself is the
# event_trigger block of that function, in functions.tf).
#
# Cloud Functions' Firestore triggers deliver the event as `application/protobuf`
# (google.events.cloud.firestore.v1.DocumentEventData), which is what shared/adapters/document_events.py
# decodes; that content type is fixed by Cloud Functions and not a setting of the trigger.

locals {
  # Functions fired by Firestore document events, by function name.
  firestore_triggers = {
    on_appointment_written = {
      event_type = "google.cloud.firestore.document.v1.written"
      document   = "clinics/{clinicId}/appointments/{apptId}"
    }
  }
}

# The identity Eventarc calls the function with (its only invoker, functions.tf).
resource "google_service_account" "eventarc" {
  project      = var.project_id
  account_id   = "calendar-sync-eventarc"
  display_name = "Eventarc caller of on_appointment_written"
  description  = "Identity of the Firestore trigger's deliveries to on_appointment_written."

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "eventarc_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.eventarc.member
}

data "google_project" "this" {
  project_id = var.project_id
}

# Eventarc delivers through a Pub/Sub push subscription; Pub/Sub's service agent mints the OIDC token of
# the trigger's account. Projects created before April 2021 lack this grant by default: given on that one
# account only.
resource "google_service_account_iam_member" "pubsub_mints_eventarc_tokens" {
  service_account_id = google_service_account.eventarc.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  depends_on = [google_project_service.enabled]
}
