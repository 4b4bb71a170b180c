"""Source root for Cloud Functions: every entry point, re-exported (each is deployed with its own target)."""

ENTRY_POINTS = {
    "oauth_start": "http",
    "oauth_callback": "http",
    "approve_link": "http",
    "disable_link": "http",
    "list_links": "http",
    "calendar_webhook": "http",
    "push_worker": "http",
    "pull_worker": "http",
    "renew_channels": "http",
    "reconcile_links": "http",
    "on_appointment_written": "cloudevent",
}

__all__ = [*ENTRY_POINTS, "ENTRY_POINTS"]
