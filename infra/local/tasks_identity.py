"""Runs the Cloud Tasks emulator so that its deliveries carry the identity Cloud Tasks would present.

Cloud Tasks calls an `http_request` task's URL with an OIDC token minted for the task's
`oidc_token.service_account_email`, addressed to `oidc_token.audience` (or the URL). The emulator
(gcloud-tasks-emulator 0.6.2) accepts `oidc_token` and ignores it: it sends no Authorization header. This
launcher wraps the emulator's one delivery function so that each attempt carries a local identity token
(infra/local/identity.py) for that same account, and the functions' front door checks it against the
Terraform grants as Cloud Run checks `roles/run.invoker`. A task without `oidc_token` goes out without a
token, and is refused like in the cloud.

Why not trust the emulator's `X-CloudTasks-*` headers instead: any curl can send them. The token is
signed with LOCAL_IDENTITY_KEY, which only the stack's callers and its front door hold.

Runs in the emulator's own virtualenv (it pins protobuf<5); it imports only the standard library, the
emulator and infra/local/identity.py:

    .venv-tasks/bin/python -m infra.local.tasks_identity start --port 8123 ...
"""

from __future__ import annotations

import sys
from typing import Any

from infra.local.identity import IDENTITY_KEY_VARIABLE, key_from_env, mint


def install(key: str) -> None:
    """Make the emulator's deliveries carry a token for the account each task names."""
    from gcloud_tasks_emulator import server

    deliver = server._make_task_request

    def deliver_with_identity(queue_name: str, task: Any, host: str, port: int) -> Any:
        http_request = task.http_request
        account = http_request.oidc_token.service_account_email if http_request.url else ""
        if account:
            audience = http_request.oidc_token.audience or http_request.url
            # Minted again at each attempt, as Cloud Tasks does; the emulator copies these headers.
            http_request.headers["Authorization"] = f"Bearer {mint(key, account, audience)}"
        return deliver(queue_name, task, host, port)

    server._make_task_request = deliver_with_identity


def main() -> None:
    key = key_from_env()
    if not key:
        sys.exit(f"{IDENTITY_KEY_VARIABLE} is not set: the tasks could not carry an identity")
    install(key)
    from gcloud_tasks_emulator.__main__ import main as emulator_main

    sys.argv[0] = "gcloud-tasks-emulator"
    emulator_main()


if __name__ == "__main__":
    main()
