# The source bundle: one zip of what runs in the cloud, uploaded under its own hash, shared by every function.

locals {
  repo_root = "${path.module}/.."

  # The same allowlist as /.gcloudignore: the root module, the dependency list, and the two packages.
  bundle_include = ["main.py", "requirements.txt", "functions/**", "shared/**"]
  # Bytecode left by local runs and tests never ships.
  bundle_exclude = "(^|/)__pycache__/|\\.py[cod]$"

  bundle_files = sort([
    for file in distinct(flatten([for pattern in local.bundle_include : tolist(fileset(local.repo_root, pattern))])) :
    file if !can(regex(local.bundle_exclude, file))
  ])
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.module}/.build/source.zip"

  dynamic "source" {
    for_each = local.bundle_files
    content {
      filename = source.value
      content  = file("${local.repo_root}/${source.value}")
    }
  }
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:holds only build inputs regenerated from the repository; reads are covered by Cloud Audit Logs
  project                     = var.project_id
  name                        = coalesce(var.source_bucket_name, "${var.project_id}-calendar-sync-source")
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Only rebuildable bundles live here.
  force_destroy = true
  labels        = var.labels

  versioning {
    enabled = true
  }

  # Bundles stay while they may be rebuilt from (Cloud Functions rebuilds on runtime updates); overwritten
  # versions go after a month.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = "bundles/${data.archive_file.source.output_sha256}.zip"
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}
