"""Source root for Cloud Functions: every entry point, re-exported (each is deployed with its own target)."""

from functions.channels import calendar_webhook, reconcile_links, renew_channels
from functions.linking import (
    approve_link,
    complete_link,
    disable_link,
    list_links,
    oauth_callback,
    oauth_start,
)
from functions.repair import drift_check, resync_link
from functions.sync import on_appointment_written, pull_worker, push_worker

# Entry point -> signature type (Terraform and the local functions server both read this).
ENTRY_POINTS = {
    "oauth_start": "http",
    "oauth_callback": "http",
    "complete_link": "http",
    "approve_link": "http",
    "disable_link": "http",
    "list_links": "http",
    "resync_link": "http",
    "calendar_webhook": "http",
    "push_worker": "http",
    "pull_worker": "http",
    "renew_channels": "http",
    "reconcile_links": "http",
    "drift_check": "http",
    "on_appointment_written": "cloudevent",
}

__all__ = [
    "ENTRY_POINTS",
    "approve_link",
    "calendar_webhook",
    "complete_link",
    "disable_link",
    "drift_check",
    "list_links",
    "oauth_callback",
    "oauth_start",
    "on_appointment_written",
    "pull_worker",
    "push_worker",
    "reconcile_links",
    "renew_channels",
    "resync_link",
]
