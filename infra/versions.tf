# Terraform and provider versions, the state backend, and the provider's defaults.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    # One major version: a new major removes or renames fields, so moving to it is a deliberate change
    # (read its upgrade guide, then edit here), never something `terraform init -upgrade` does alone.
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    # Builds the source bundle from the repository (source.tf).
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }

  # State is kept in a Cloud Storage bucket made once by hand (README, step 2); its name is given at init:
  #   terraform init -backend-config="bucket=STATE_BUCKET"
  backend "gcs" {
    prefix = "clinic-calendar-sync"
  }
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = var.labels
}
