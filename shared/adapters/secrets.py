"""Secrets: Secret Manager in the cloud; the environment locally (no Secret Manager emulator exists)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping


class EnvSecrets:
    """Secret `token-encryption-key` is read from the variable SECRET_TOKEN_ENCRYPTION_KEY."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env

    def get(self, name: str) -> str:
        variable = "SECRET_" + name.upper().replace("-", "_")
        if variable not in self.env:
            raise KeyError(f"secret {name} is not configured (set {variable})")
        return self.env[variable]


class SecretManagerSecrets:
    """The latest version of each secret, read once per instance."""

    def __init__(self, project_id: str) -> None:
        from google.cloud import secretmanager  # heavy: loaded only where secrets are read

        self.project_id = project_id
        self.client = secretmanager.SecretManagerServiceClient()

    @functools.cache  # noqa: B019 - one adapter per process; secrets change only with a deploy
    def get(self, name: str) -> str:
        from google.api_core.exceptions import NotFound

        path = f"projects/{self.project_id}/secrets/{name}/versions/latest"
        try:
            response = self.client.access_secret_version(name=path)
        except NotFound:
            raise KeyError(f"secret {name} does not exist") from None
        return response.payload.data.decode()
