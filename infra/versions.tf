# Terraform and provider versions, the state backend, and the provider's defaults.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
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
