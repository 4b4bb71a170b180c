"""Settings read once from the environment.

Every knob has a default that is right for Google Cloud; the local stack overrides the addresses
(`GOOGLE_BASE_URL`, `FUNCTIONS_BASE_URL`, the emulator hosts) and takes its secrets from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

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


class _Variables(EnvSettingsSource):
    """Environment variables read from a given mapping (the process's own when none is given).

    pydantic-settings reads `os.environ`; the local stack and the tests hand over the environment they
    built, so the one method that loads it is pointed at that mapping.
    """

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str]) -> None:
        self._variables = variables
        super().__init__(settings_cls, case_sensitive=True, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._variables, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _env(*names: str) -> Any:
    """The environment variables a setting is read from, the first one set winning."""
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything the functions need to know about where they run.

    Built directly, only the values given count (the defaults are right for Google Cloud); `from_env`
    reads the environment, and a variable that does not parse is named in the error.
    """

    model_config = SettingsConfigDict(
        frozen=True, validate_by_name=True, validate_by_alias=True, extra="ignore"
    )

    project_id: str = Field("demo-clinic", validation_alias=_env("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT"))
    region: str = Field("europe-west1", validation_alias=_env("FUNCTION_REGION"))
    functions_base_url: str = Field("http://127.0.0.1:8080", validation_alias=_env("FUNCTIONS_BASE_URL"))
    # Where Google sends the user back after consent, when not the functions' own address: a verified app's
    # redirect URI must be on the publisher's own domain, which serves oauth_callback (infra/README.md).
    oauth_redirect_base_url: str | None = Field(None, validation_alias=_env("OAUTH_REDIRECT_BASE_URL"))
    google: GoogleEndpoints = Field(default_factory=GoogleEndpoints)
    oauth_client_id: str = Field("local-client", validation_alias=_env("OAUTH_CLIENT_ID"))
    secrets_backend: Literal["secretmanager", "env"] = Field(
        "secretmanager", validation_alias=_env("SECRETS_BACKEND")
    )
    tasks_emulator_host: str | None = Field(None, validation_alias=_env("CLOUD_TASKS_EMULATOR_HOST"))
    tasks_location: str = Field("europe-west1", validation_alias=_env("TASKS_LOCATION"))
    push_queue: str = Field("push", validation_alias=_env("PUSH_QUEUE"))
    pull_queue: str = Field("pull", validation_alias=_env("PULL_QUEUE"))
    # The queues' max_attempts (infra/tasks.tf): a worker on a task's last attempt records what it loses.
    push_max_attempts: PositiveInt = Field(10, validation_alias=_env("PUSH_MAX_ATTEMPTS"))
    pull_max_attempts: PositiveInt = Field(10, validation_alias=_env("PULL_MAX_ATTEMPTS"))
    tasks_service_account: str | None = Field(None, validation_alias=_env("TASKS_SERVICE_ACCOUNT"))
    calendar_name: str = Field("DASI eCLINIC", validation_alias=_env("CALENDAR_NAME"))
    backfill_days: PositiveInt = Field(365, validation_alias=_env("BACKFILL_DAYS"))
    oauth_state_ttl_seconds: PositiveInt = Field(600, validation_alias=_env("OAUTH_STATE_TTL_SECONDS"))
    # How long the one-time code oauth_callback hands to the browser can be redeemed with complete_link.
    link_code_ttl_seconds: PositiveInt = Field(300, validation_alias=_env("LINK_CODE_TTL_SECONDS"))
    channel_ttl_seconds: PositiveInt = Field(7 * 24 * 3600, validation_alias=_env("CHANNEL_TTL_SECONDS"))
    channel_renew_margin_seconds: NonNegativeInt = Field(
        24 * 3600, validation_alias=_env("CHANNEL_RENEW_MARGIN_SECONDS")
    )
    full_sync_days_back: NonNegativeInt = Field(30, validation_alias=_env("FULL_SYNC_DAYS_BACK"))
    reconcile_interval_seconds: PositiveInt = Field(900, validation_alias=_env("RECONCILE_INTERVAL_SECONDS"))
    list_page_size: PositiveInt = 2500
    # Pages of a full sync one pull task applies before it checkpoints and queues the next task: with
    # Google's pages of 2,500 events, 5,000 events per task, well within pull_worker's timeout.
    full_sync_pages_per_task: PositiveInt = 2
    console_url: str | None = Field(None, validation_alias=_env("CONSOLE_URL"))
    # Hosts a link's returnUrl may send the user back to (https; plain http only to a loopback host),
    # comma-separated in the environment.
    return_url_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("RETURN_URL_HOSTS")
    )
    # How long an instance reuses documents that change rarely (a clinic's settings, a link's sealed
    # refresh token) instead of reading them on every change: one Firestore read less per document.
    cache_seconds: float = 30.0

    @field_validator("return_url_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(host.strip().lower() for host in value.split(",") if host.strip())
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller gives: the environment is read by `from_env`, never behind a test's back.
        return (init_settings,)

    @property
    def oauth_redirect_uri(self) -> str:
        base = (self.oauth_redirect_base_url or self.functions_base_url).rstrip("/")
        return f"{base}/oauth_callback"

    @property
    def webhook_url(self) -> str:
        return f"{self.functions_base_url}/calendar_webhook"

    def worker_url(self, queue: str) -> str:
        """The function that a queue's tasks are delivered to."""
        worker = {self.push_queue: "push_worker", self.pull_queue: "pull_worker"}[queue]
        return f"{self.functions_base_url}/{worker}"

    def max_attempts(self, queue: str) -> int:
        """How many attempts the queue gives a task, the first one included."""
        return {self.push_queue: self.push_max_attempts, self.pull_queue: self.pull_max_attempts}[queue]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from environment variables (see README, "Configuration").

        Raises pydantic's ValidationError naming each variable that does not parse.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = _Variables(cls, env)()
        # Defaults that follow other settings: where Cloud Functions serves this project and region.
        project = env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or "demo-clinic"
        region = env.get("FUNCTION_REGION") or "europe-west1"
        values.setdefault("FUNCTIONS_BASE_URL", f"https://{region}-{project}.cloudfunctions.net")
        values["FUNCTIONS_BASE_URL"] = str(values["FUNCTIONS_BASE_URL"]).rstrip("/")
        values.setdefault("TASKS_LOCATION", region)
        google_base = env.get("GOOGLE_BASE_URL")
        if google_base:
            values["google"] = GoogleEndpoints.under(google_base)
        return cls(**values)
