# Secret Manager: the secrets are created here, their values are added by hand (README, step 4) so that
# they never sit in Terraform state. Each function may read only the secrets listed in its `secrets`.

locals {
  # Names as in shared/config.py (SECRET_*).
  secrets = {
    "oauth-client-secret"  = "Client secret of the OAuth web client whose id is OAUTH_CLIENT_ID."
    "token-encryption-key" = "Keyring sealing refresh tokens (AES-GCM): JSON {key id: base64url 32-byte key}, the last key seals."
    "webhook-token-key"    = "Key the watch channels' tokens are derived from and checked against."
  }

  secret_accessors = merge([
    for name, fn in local.functions : { for secret in fn.secrets : "${secret}/${name}" => { secret = secret, function = name } }
  ]...)
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.key
  labels    = var.labels

  annotations = {
    description = each.value
  }

  # Kept in the functions' region (the keys protect patients' calendars: no copies elsewhere).
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_accessors

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}
