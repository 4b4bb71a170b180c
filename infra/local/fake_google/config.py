"""Settings of the fake Google server: constructor arguments, with environment variables as defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090

LOCAL_CLIENT_ID = "local-client"
LOCAL_CLIENT_SECRET = "local-secret"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name, "").strip()
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else list(default)


@dataclass
class FakeGoogleConfig:
    """Everything that can be tuned when the fake starts; the admin API changes quotas and latency live."""

    token_ttl_seconds: int = field(default_factory=lambda: _env_int("FAKE_GOOGLE_TOKEN_TTL", 3600))
    redirect_prefixes: list[str] = field(
        default_factory=lambda: _env_list("FAKE_GOOGLE_REDIRECT_PREFIXES", ["http://127.0.0.1:8080/"])
    )
    clients: dict[str, str] = field(default_factory=lambda: {LOCAL_CLIENT_ID: LOCAL_CLIENT_SECRET})
    per_user_per_minute: int = field(default_factory=lambda: _env_int("FAKE_GOOGLE_QUOTA_PER_USER", 600))
    per_project_per_minute: int = field(
        default_factory=lambda: _env_int("FAKE_GOOGLE_QUOTA_PER_PROJECT", 10000)
    )
    latency_ms: int = field(default_factory=lambda: _env_int("FAKE_GOOGLE_LATENCY_MS", 0))
    # Google's authorization codes live about ten minutes; a minute is enough locally and finds slow flows.
    code_ttl_seconds: int = 60
    # Default and maximum life of a watch channel (Calendar's default is one week).
    channel_ttl_seconds: int = 604800
    channel_max_ttl_seconds: int = 30 * 24 * 3600
    # Google gives a webhook a few seconds; a short timeout keeps one dead receiver from stalling others.
    notification_timeout_seconds: float = 3.0
    default_time_zone: str = "UTC"

    @classmethod
    def build(cls, **overrides: object) -> FakeGoogleConfig:
        """A config from the environment, with keyword overrides (unknown keys raise TypeError)."""
        config = cls()
        for key, value in overrides.items():
            if not hasattr(config, key):
                raise TypeError(f"unknown fake Google setting: {key}")
            setattr(config, key, value)
        return config
