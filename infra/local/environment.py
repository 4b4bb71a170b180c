"""Where each part of the local stack listens, and the environment the functions run with there.

The fixed ports are the defaults of `make run`, so that tests, the console and integrators' scripts agree;
each one can be moved with an environment variable. Tests use `LocalPorts.free()` instead, so that they
never collide with a running `make run` or with each other.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, fields

from infra.local.identity import IDENTITY_KEY_VARIABLE
from infra.local.terraform_grants import FunctionGrant, max_attempts_environment, tasks_service_account
from shared.config import SECRET_OAUTH_CLIENT_SECRET, SECRET_TOKEN_KEYS, SECRET_WEBHOOK_KEY

HOST = "127.0.0.1"
PROJECT_ID = "demo-clinic"
TASKS_LOCATION = "europe-west1"
OAUTH_CLIENT_ID = "local-client"
OAUTH_CLIENT_SECRET = "local-secret"

# Development-only keys: they protect nothing but data in a throwaway emulator, and being fixed lets
# tokens stored by one `make run` be read by the next.
LOCAL_TOKEN_KEYS = '{"local-1": "fI2akqfcW_LaQbFjQ6enh7GN3xLS26dZgpfTsLySCVA"}'
LOCAL_WEBHOOK_TOKEN_KEY = "5VrR517OJMU7P6uTZg6RKkmr9hU1scYMCTsso08cHq8"

# Port of each part, and the environment variable that overrides it.
_PORT_VARIABLES = {
    "functions": "FUNCTIONS_PORT",
    "fake_google": "FAKE_GOOGLE_PORT",
    "firestore": "FIRESTORE_PORT",
    "tasks": "TASKS_PORT",
    "console": "CONSOLE_PORT",
}


@dataclass(frozen=True)
class LocalPorts:
    """TCP ports of the local stack's parts, all on 127.0.0.1."""

    functions: int = 8080
    fake_google: int = 8090
    firestore: int = 8081
    tasks: int = 8123
    console: int = 8070

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalPorts:
        """The default ports, each overridden by its variable (FUNCTIONS_PORT, FIRESTORE_PORT, ...)."""
        env = os.environ if env is None else env
        overrides = {name: int(env[var]) for name, var in _PORT_VARIABLES.items() if env.get(var)}
        return cls(**overrides)

    @classmethod
    def free(cls) -> LocalPorts:
        """Ports that are free right now, one per part (for tests)."""
        with ExitStack() as stack:
            # Hold every socket open until all are chosen, so no two parts get the same port.
            sockets = [stack.enter_context(socket.socket()) for _ in fields(cls)]
            for sock in sockets:
                sock.bind((HOST, 0))
            ports = [sock.getsockname()[1] for sock in sockets]
        return cls(*ports)

    @property
    def functions_url(self) -> str:
        return f"http://{HOST}:{self.functions}"

    @property
    def fake_google_url(self) -> str:
        return f"http://{HOST}:{self.fake_google}"

    @property
    def console_url(self) -> str:
        return f"http://{HOST}:{self.console}"

    @property
    def firestore_host(self) -> str:
        return f"{HOST}:{self.firestore}"

    @property
    def tasks_host(self) -> str:
        return f"{HOST}:{self.tasks}"


def free_port() -> int:
    """One TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def secret_variable(name: str) -> str:
    """The environment variable holding a secret when SECRETS_BACKEND=env."""
    return "SECRET_" + name.upper().replace("-", "_")


def functions_environment(ports: LocalPorts, project: str = PROJECT_ID) -> dict[str, str]:
    """Environment variables that point the functions at the local stand-ins of every Google service."""
    return {
        "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_EMULATOR_HOST": ports.firestore_host,
        "CLOUD_TASKS_EMULATOR_HOST": ports.tasks_host,
        "TASKS_LOCATION": TASKS_LOCATION,
        "GOOGLE_BASE_URL": ports.fake_google_url,
        "FUNCTIONS_BASE_URL": ports.functions_url,
        "CONSOLE_URL": ports.console_url,
        "SECRETS_BACKEND": "env",
        "OAUTH_CLIENT_ID": OAUTH_CLIENT_ID,
        # The console and the clinic app played on this machine come back to a loopback address.
        "RETURN_URL_HOSTS": "127.0.0.1,localhost",
        # The identity the tasks' OIDC tokens name, as Terraform sets it (infra/functions.tf).
        "TASKS_SERVICE_ACCOUNT": tasks_service_account(project),
        # Each queue's attempts, as Terraform tells the workers (a task's last attempt makes a dead letter).
        **max_attempts_environment(),
        secret_variable(SECRET_OAUTH_CLIENT_SECRET): OAUTH_CLIENT_SECRET,
        secret_variable(SECRET_TOKEN_KEYS): LOCAL_TOKEN_KEYS,
        secret_variable(SECRET_WEBHOOK_KEY): LOCAL_WEBHOOK_TOKEN_KEY,
    }


def function_environment(stack_env: Mapping[str, str], grant: FunctionGrant) -> dict[str, str]:
    """The environment one function's process runs with: the stack's, holding only its granted secrets.

    In the cloud a function's service account may read only the secrets in its `secrets` (infra/secrets.tf);
    here a secret's variable is left out of the process unless granted, so reading another one fails
    (EnvSecrets raises KeyError) as Secret Manager would refuse it. The callers' identity key is never
    given to a function. THREADS is the function's concurrency, as Terraform sets it.
    """
    granted = {secret_variable(name) for name in grant.secrets}
    env = {
        name: value
        for name, value in stack_env.items()
        if name != IDENTITY_KEY_VARIABLE and (not name.startswith("SECRET_") or name in granted)
    }
    env["THREADS"] = str(grant.concurrency)
    return env
