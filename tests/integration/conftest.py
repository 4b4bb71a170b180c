"""The real services on the Firestore emulator and the fake Google, with an in-process task queue.

Tasks are kept by a RecordingQueue and run by the test, so each scenario is deterministic; the Cloud
Tasks adapter itself is tested against its emulator in test_cloud_tasks_queue.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from google.cloud import firestore as firestore_lib
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build

from infra.local.demo_data import write_demo_data
from infra.local.environment import HOST, free_port
from infra.local.fake_google import RunningServer, serve
from shared.adapters.secrets import EnvSecrets
from shared.adapters.token_cipher import new_keyring
from shared.bootstrap import Services, build_services
from shared.config import GoogleEndpoints, Settings
from shared.services.linking import CallbackResult
from tests.conftest import FirestoreEmulatorHandle
from tests.fakes import RecordingQueue, run_task
from tests.integration.functions_app import Deployed, TaskReceiver, deployed

KEYRING = new_keyring("it-1")
Deliver = Callable[[Callable[[], object]], None]


def _now(delivery: Callable[[], object]) -> None:
    delivery()


# Nothing listens here: the fake's watch notifications go nowhere, whatever else runs on this machine.
FUNCTIONS_URL = f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def google_server() -> Iterator[RunningServer]:
    server = serve(host="127.0.0.1", port=0, redirect_prefixes=[FUNCTIONS_URL + "/"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def google(google_server: RunningServer) -> RunningServer:
    google_server.reset()
    return google_server


@dataclass
class Sync:
    """The services as deployed, plus what a test needs to play the clinic, Google's user and the queues."""

    services: Services
    db: firestore_lib.Client
    google: RunningServer
    queue: RecordingQueue
    ran: list[dict[str, Any]] = field(default_factory=list)

    # --- the clinic user and Google's consent page --------------------------------------------------
    def consent(
        self, authorization_url: str, email: str, decision: str = "allow", scopes: str | None = None
    ) -> dict:
        """Answer Google's consent page as the user would; returns the redirect's query (code/state)."""
        extra = {"login_hint": email, "fake_decision": decision}
        if scopes is not None:
            extra["fake_scopes"] = scopes
        url = authorization_url.replace("https://accounts.google.com/o/oauth2/v2/auth", "")
        answer = requests.get(f"{url}&{urlencode(extra)}", allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text
        return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}

    def link(
        self, user: str, email: str, center: str = "centro-b", bidirectional: bool = True, **consent: Any
    ) -> CallbackResult:
        """oauth_start, Google's consent, oauth_callback, and the clinic app redeeming the callback's code
        for the same user (complete_link): the whole sign-in of one clinic user."""
        link, url = self.services.linking.start("demo", center, user, None, bidirectional, None)
        answer = self.consent(url, email, **consent)
        return self.redeem(
            self.services.linking.complete(answer["state"], answer.get("code"), answer.get("error"))
        )

    def redeem(self, held: CallbackResult) -> CallbackResult:
        """complete_link for the user who started the link, when the callback handed out a code."""
        if held.code is None:
            return held
        link = held.link
        return self.services.linking.redeem(link.clinic_id, link.user_id, link.id, held.code)

    def active_link(self, user: str = "pautrave", email: str = "pau@gmail.com", bidirectional: bool = True):  # type: ignore[no-untyped-def]
        result = self.link(user, email, bidirectional=bidirectional)
        link = self.services.linking.decide(
            "demo", result.link.center_id, "admin", result.link.id, approve=True
        )
        assert link.status.value == "active", link
        self.run_tasks()
        return link

    def appointment(self, appointment_id: str, deliver: Deliver | None = None, **fields: Any) -> None:
        """The clinic app writes an appointment, and the trigger fires as Eventarc would (or as `deliver`
        decides: the soak delays and duplicates deliveries)."""
        ref = self.db.document(f"clinics/demo/appointments/{appointment_id}")
        before = ref.get()
        data = {
            "professionalId": "marina",
            "centerId": "centro-b",
            "status": "scheduled",
            "patientName": "Ana López",
            **fields,
            # The clinic app stamps every write (docs/firestore-contract.md): the drift check reads by it.
            "updatedAt": firestore_lib.SERVER_TIMESTAMP,
        }
        ref.set(data)
        after = ref.get()
        old = before.to_dict() if before.exists else None
        (deliver or _now)(lambda: self.trigger(appointment_id, old, after.to_dict(), after.update_time))

    def delete_appointment(self, appointment_id: str, deliver: Deliver | None = None) -> None:
        ref = self.db.document(f"clinics/demo/appointments/{appointment_id}")
        before = ref.get()
        ref.delete()
        when = datetime.now().astimezone()
        (deliver or _now)(lambda: self.trigger(appointment_id, before.to_dict(), None, when))

    def trigger(self, appointment_id: str, old: Any, new: Any, when: datetime | None) -> int:
        from shared.adapters.firestore_codec import appointment_change

        return self.services.push.fan_out(appointment_change("demo", appointment_id, old, new, when))

    def run_tasks(self) -> None:
        """Run every queued task (and the tasks those create) as Cloud Tasks would."""
        while self.queue.tasks:
            for queue, payload in self.queue.take():
                self.ran.append(payload)
                run_task(self.services, queue, payload)

    # --- Google's side, as the user sees it ---------------------------------------------------------
    def as_user(self, email: str) -> Resource:
        """The Calendar API acting as the Google user in Google's own UI (its edits notify like any other)."""
        token = requests.post(f"{self.google.url}/_fake/token", json={"email": email}, timeout=10).json()
        return build(
            "calendar",
            "v3",
            credentials=Credentials(token["access_token"]),
            static_discovery=True,
            client_options={"api_endpoint": self.google.url + "/calendar/v3/"},
        )

    def events(self, email: str, calendar_id: str) -> list[dict[str, Any]]:
        items = self.as_user(email).events().list(calendarId=calendar_id, maxResults=2500).execute()["items"]
        return [e for e in items if e.get("status") != "cancelled"]

    def requests_count(self) -> dict[str, int]:
        counts: dict[str, int] = requests.get(f"{self.google.url}/_fake/requests", timeout=10).json()
        return counts

    def calendar_calls(self) -> int:
        """Calendar calls a push can make (the test's own listings as the user are not counted)."""
        pushes = ("insert", "patch", "update", "delete", "get")
        return sum(
            n
            for route, n in self.requests_count().items()
            if route.startswith("calendar.events.") and route.rsplit(".", 1)[1] in pushes
        )

    def doc(self, path: str) -> dict[str, Any] | None:
        snapshot = self.db.document(path).get()
        return snapshot.to_dict() if snapshot.exists else None


@pytest.fixture
def sync(firestore: firestore_lib.Client, google: RunningServer) -> Sync:
    settings = Settings(
        project_id="demo-clinic",
        functions_base_url=FUNCTIONS_URL,
        google=GoogleEndpoints.under(google.url),
        secrets_backend="env",
        list_page_size=50,
    )
    secrets = EnvSecrets(
        {
            "SECRET_OAUTH_CLIENT_SECRET": "local-secret",
            "SECRET_TOKEN_ENCRYPTION_KEY": KEYRING,
            "SECRET_WEBHOOK_TOKEN_KEY": "integration-webhook-key",
        }
    )
    queue = RecordingQueue()
    services = build_services(settings, db=firestore, secrets=secrets, queue=queue)
    write_demo_data(firestore)
    return Sync(services, firestore, google, queue)


# --- the deployed HTTP functions (functions_framework apps on the emulators and an in-process fake) -----
@pytest.fixture(scope="module")
def receiver() -> Iterator[TaskReceiver]:
    """Where the Cloud Tasks emulator delivers the tasks of the deployed functions."""
    server = TaskReceiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def google_fake(receiver: TaskReceiver) -> Iterator[RunningServer]:
    server = serve(host=HOST, port=0, redirect_prefixes=[receiver.url + "/"])
    yield server
    server.stop()


@pytest.fixture
def functions(
    monkeypatch: pytest.MonkeyPatch,
    firestore: firestore_lib.Client,
    firestore_emulator: FirestoreEmulatorHandle,
    google_fake: RunningServer,
    tasks_emulator: Any,
    receiver: TaskReceiver,
) -> Iterator[Deployed]:
    """Every entry point served by functions_framework, configured only through the environment."""
    with deployed(
        monkeypatch, firestore, firestore_emulator.host, google_fake, tasks_emulator.host, receiver
    ) as app:
        yield app
