# Firestore: the database, the indexes our queries need, and TTL policies for what expires.

resource "google_firestore_database" "main" {
  count = var.create_firestore_database ? 1 : 0

  project     = var.project_id
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"
  # Server client libraries' transactions lock what they read: link uniqueness (one Google account,
  # one agenda) is checked and written in one transaction.
  concurrency_mode                  = "PESSIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # The clinic's agendas outlive this deployment: `terraform destroy` only forgets the database.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}

locals {
  # The database the indexes, TTL policies and the trigger refer to; the same whether created here or not.
  firestore_database = coalesce(one(google_firestore_database.main[*].name), "(default)")

  # Composite indexes, one per query shape that single-field indexes cannot serve.
  composite_indexes = {
    # Backfill: one professional's appointments from now on (professionalId == X, start >= now, start < until).
    appointments_by_professional_start = {
      collection  = "appointments"
      query_scope = "COLLECTION"
      fields      = [["professionalId", "ASCENDING"], ["start", "ASCENDING"]]
    }
    # Fan-out of an appointment write: the active links of its professional in that clinic.
    sync_links_by_professional_status = {
      collection  = "syncLinks"
      query_scope = "COLLECTION"
      fields      = [["professionalId", "ASCENDING"], ["status", "ASCENDING"]]
    }
    # reconcile_links: every active two-way link, across clinics.
    sync_links_by_status_bidirectional = {
      collection  = "syncLinks"
      query_scope = "COLLECTION_GROUP"
      fields      = [["status", "ASCENDING"], ["bidirectional", "ASCENDING"]]
    }
    # renew_channels: active links whose watch channel expires before a given time, across clinics.
    sync_links_by_status_channel_expiry = {
      collection  = "syncLinks"
      query_scope = "COLLECTION_GROUP"
      fields      = [["status", "ASCENDING"], ["channelExpiresAt", "ASCENDING"]]
    }
  }

  # Single-field settings. Automatic single-field indexes only serve queries on one collection, so the
  # fields queried across clinics (collection group syncLinks) get a collection-group index too. An
  # override replaces the automatic indexes, hence the collection-scope ones are listed again.
  field_indexes = {
    sync_links_status = {
      collection = "syncLinks"
      field      = "status"
      indexes    = [["ASCENDING", "COLLECTION"], ["DESCENDING", "COLLECTION"], ["ASCENDING", "COLLECTION_GROUP"]]
    }
    sync_links_channel_expires_at = {
      collection = "syncLinks"
      field      = "channelExpiresAt"
      indexes    = [["ASCENDING", "COLLECTION"], ["DESCENDING", "COLLECTION"], ["ASCENDING", "COLLECTION_GROUP"]]
    }
    # Sealed refresh tokens are only read by id: keep the ciphertext out of index entries.
    link_secrets_refresh_token = {
      collection = "linkSecrets"
      field      = "refreshToken"
      indexes    = []
    }
  }

  # TTL policies: Firestore deletes a document (within about a day) once the timestamp in this field has
  # passed. Documents without the field are kept. The field is not indexed: a TTL timestamp is written in
  # increasing order, which would make a hot index range for nothing.
  ttl_fields = {
    # Consent round trips: single use, expire after OAUTH_STATE_TTL_SECONDS.
    oauth_states = { collection = "oauthStates", field = "expiresAt" }
    # Watch channels: Google stops notifying after a channel's expiration, so its record is then garbage.
    channels = { collection = "channels", field = "expiresAt" }
  }
}

resource "google_firestore_index" "composite" {
  for_each = local.composite_indexes

  project     = var.project_id
  database    = local.firestore_database
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_field" "index" {
  for_each = local.field_indexes

  project    = var.project_id
  database   = local.firestore_database
  collection = each.value.collection
  field      = each.value.field

  # An empty index_config turns every index of the field off.
  index_config {
    dynamic "indexes" {
      for_each = each.value.indexes
      content {
        order       = indexes.value[0]
        query_scope = indexes.value[1]
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_field" "ttl" {
  for_each = local.ttl_fields

  project    = var.project_id
  database   = local.firestore_database
  collection = each.value.collection
  field      = each.value.field

  ttl_config {}
  index_config {}

  depends_on = [google_project_service.enabled]
}

# Security rules (../firestore.rules): clients never read or write the sync's own documents, nor the
# fields of an appointment only the sync sets. A database has one ruleset: when the clinic app deploys its
# own rules, merge ours into its file and set manage_firestore_rules = false (docs/security-rules.md).
# Our functions use the server client library, which rules do not apply to.
resource "google_firebaserules_ruleset" "firestore" {
  count = var.manage_firestore_rules ? 1 : 0

  project = var.project_id

  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/../firestore.rules")
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_firebaserules_release" "firestore" {
  count = var.manage_firestore_rules ? 1 : 0

  project = var.project_id
  # The release the (default) database's rules are read from.
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project_id}/rulesets/${google_firebaserules_ruleset.firestore[0].name}"

  # A new ruleset is a new resource: the release must point at it, not keep the old one.
  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore[0]]
  }
}
