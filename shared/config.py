"""Settings read once from the environment.

Every knob has a default that is right for Google Cloud; the local stack overrides the addresses
(`GOOGLE_BASE_URL`, `FUNCTIONS_BASE_URL`, the emulator hosts) and takes its secrets from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
GOOGLE_USERINFO_URI = "https://openidconnect.googleapis.com/v1/userinfo"
GOOGLE_API_BASE = "https://www.googleapis.com"

# Names of the secrets, the same in Secret Manager and (upper-cased, prefixed SECRET_) in the environment.
SECRET_OAUTH_CLIENT_SECRET = "oauth-client-secret"
SECRET_TOKEN_KEYS = "token-encryption-key"
SECRET_WEBHOOK_KEY = "webhook-token-key"


@dataclass(frozen=True)
class GoogleEndpoints:
    """Where Google's OAuth and Calendar services answer."""

    auth_uri: str = GOOGLE_AUTH_URI
    token_uri: str = GOOGLE_TOKEN_URI
    revoke_uri: str = GOOGLE_REVOKE_URI
    userinfo_uri: str = GOOGLE_USERINFO_URI
    api_base: str = GOOGLE_API_BASE

    @classmethod
    def under(cls, base: str) -> GoogleEndpoints:
        """Every endpoint under one base URL, laid out as the local fake Google serves them."""
        base = base.rstrip("/")
        return cls(
            auth_uri=f"{base}/o/oauth2/v2/auth",
            token_uri=f"{base}/token",
            revoke_uri=f"{base}/revoke",
            userinfo_uri=f"{base}/oauth2/v3/userinfo",
            api_base=base,
        )

    @property
    def calendar_endpoint(self) -> str:
        return f"{self.api_base}/calendar/v3/"

    @property
    def batch_uri(self) -> str:
        return f"{self.api_base}/batch/calendar/v3"


@dataclass(frozen=True)
class Settings:
    """Everything the functions need to know about where they run."""

    project_id: str = "demo-clinic"
    region: str = "europe-west1"
    functions_base_url: str = "http://127.0.0.1:8080"
    google: GoogleEndpoints = field(default_factory=GoogleEndpoints)
    oauth_client_id: str = "local-client"
    secrets_backend: str = "secretmanager"  # or "env"
    tasks_emulator_host: str | None = None
    tasks_location: str = "europe-west1"
    push_queue: str = "push"
    pull_queue: str = "pull"
    tasks_service_account: str | None = None
    calendar_name: str = "DASI eCLINIC"
    backfill_days: int = 365
    oauth_state_ttl_seconds: int = 600
    channel_ttl_seconds: int = 7 * 24 * 3600
    channel_renew_margin_seconds: int = 24 * 3600
    full_sync_days_back: int = 30
    reconcile_interval_seconds: int = 900
    list_page_size: int = 2500
    console_url: str | None = None
    # Hosts a link's returnUrl may send the user back to (https; plain http only to a loopback host).
    return_url_hosts: tuple[str, ...] = ()
    # How long an instance reuses documents that change rarely (a clinic's settings, a link's sealed
    # refresh token) instead of reading them on every change: one Firestore read less per document.
    cache_seconds: float = 30.0

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.functions_base_url}/oauth_callback"

    @property
    def webhook_url(self) -> str:
        return f"{self.functions_base_url}/calendar_webhook"

    def worker_url(self, queue: str) -> str:
        """The function that a queue's tasks are delivered to."""
        worker = {self.push_queue: "push_worker", self.pull_queue: "pull_worker"}[queue]
        return f"{self.functions_base_url}/{worker}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from environment variables (see README, "Configuration")."""
        env = os.environ if env is None else env
        defaults = cls()
        google_base = env.get("GOOGLE_BASE_URL")
        google = GoogleEndpoints.under(google_base) if google_base else GoogleEndpoints()
        project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or defaults.project_id
        region = env.get("FUNCTION_REGION", defaults.region)
        return cls(
            project_id=project,
            region=region,
            functions_base_url=env.get(
                "FUNCTIONS_BASE_URL", f"https://{region}-{project}.cloudfunctions.net"
            ).rstrip("/"),
            google=google,
            oauth_client_id=env.get("OAUTH_CLIENT_ID", defaults.oauth_client_id),
            secrets_backend=env.get("SECRETS_BACKEND", defaults.secrets_backend),
            tasks_emulator_host=env.get("CLOUD_TASKS_EMULATOR_HOST") or None,
            tasks_location=env.get("TASKS_LOCATION", region),
            push_queue=env.get("PUSH_QUEUE", defaults.push_queue),
            pull_queue=env.get("PULL_QUEUE", defaults.pull_queue),
            tasks_service_account=env.get("TASKS_SERVICE_ACCOUNT") or None,
            calendar_name=env.get("CALENDAR_NAME", defaults.calendar_name),
            backfill_days=int(env.get("BACKFILL_DAYS", defaults.backfill_days)),
            oauth_state_ttl_seconds=int(env.get("OAUTH_STATE_TTL_SECONDS", defaults.oauth_state_ttl_seconds)),
            channel_ttl_seconds=int(env.get("CHANNEL_TTL_SECONDS", defaults.channel_ttl_seconds)),
            channel_renew_margin_seconds=int(
                env.get("CHANNEL_RENEW_MARGIN_SECONDS", defaults.channel_renew_margin_seconds)
            ),
            full_sync_days_back=int(env.get("FULL_SYNC_DAYS_BACK", defaults.full_sync_days_back)),
            reconcile_interval_seconds=int(
                env.get("RECONCILE_INTERVAL_SECONDS", defaults.reconcile_interval_seconds)
            ),
            console_url=env.get("CONSOLE_URL") or None,
            return_url_hosts=tuple(
                host.strip().lower() for host in env.get("RETURN_URL_HOSTS", "").split(",") if host.strip()
            ),
        )
