"""Where the console finds the rest of the local stack (the same variables the functions read)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from infra.local.demo_data import CLINIC_ID
from infra.local.environment import HOST, PROJECT_ID, LocalPorts


@dataclass(frozen=True)
class ConsoleSettings:
    """Addresses of the functions, the fake Google and the Firestore emulator, and the console's own."""

    functions_url: str
    google_url: str
    firestore_host: str
    console_url: str
    project: str = PROJECT_ID
    clinic_id: str = CLINIC_ID
    calendar_name: str = "DASI eCLINIC"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, host: str = HOST, port: int | None = None
    ) -> ConsoleSettings:
        """The local stack's addresses from its variables, with the fixed local ports as defaults.

        `host`/`port` are where this console listens: Google's redirect comes back there.
        """
        env = os.environ if env is None else env
        ports = LocalPorts.from_env(env)
        console_port = port if port is not None else ports.console
        return cls(
            functions_url=env.get("FUNCTIONS_BASE_URL", ports.functions_url).rstrip("/"),
            google_url=env.get("GOOGLE_BASE_URL", ports.fake_google_url).rstrip("/"),
            firestore_host=env.get("FIRESTORE_EMULATOR_HOST", ports.firestore_host),
            console_url=f"http://{host}:{console_port}",
            project=env.get("GOOGLE_CLOUD_PROJECT") or PROJECT_ID,
            clinic_id=env.get("CONSOLE_CLINIC_ID", CLINIC_ID),
            calendar_name=env.get("CALENDAR_NAME", "DASI eCLINIC"),
        )
