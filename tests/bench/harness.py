"""What the in-process figures share: the Firestore emulator, fake Google processes, and the real services.

The services run in this process exactly as bootstrap wires them in a function instance (Firestore adapter on
the emulator, Calendar adapter on the fake Google), with the task queue replaced by whatever the figure
needs: a recording queue run by hand, or the Cloud Tasks model of `cloud_tasks_model.py`. The fake Google
runs in a process of its own, as Google would: its work does not compete with ours for this process's GIL.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from google.cloud import firestore

from infra.local.emulators import FirestoreEmulator
from infra.local.environment import HOST, PROJECT_ID, free_port
from infra.local.processes import REPO_ROOT, ChildProcess, port_open
from shared.adapters.firestore_codec import appointment_change
from shared.adapters.secrets import EnvSecrets
from shared.adapters.token_cipher import new_keyring
from shared.bootstrap import Services, build_services
from shared.config import GoogleEndpoints, Settings
from shared.domain.link import SyncLink
from tests.bench.firestore_ops import CountingClient, FirestoreOps
from tests.fakes import RecordingQueue, run_task

KEYRING = new_keyring("bench-1")
# Nothing listens here: watch notifications of two-way links go nowhere during in-process figures.
NOWHERE = f"http://{HOST}:{free_port()}"
DAY0 = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=2)
CALENDAR_ROUTES = "calendar."


class FakeGoogle:
    """A fake Google server in a child process, driven through its admin API."""

    def __init__(self, log_dir: Path, name: str = "fake-google") -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        env = {**os.environ, "FAKE_GOOGLE_REDIRECT_PREFIXES": f"{NOWHERE}/", "PYTHONUNBUFFERED": "1"}
        self.process = ChildProcess(
            name,
            [sys.executable, "-m", "infra.local.fake_google", "--host", HOST, "--port", str(self.port)],
            env=env,
            cwd=REPO_ROOT,
            log_dir=log_dir,
        )
        self.session = requests.Session()

    def start(self) -> None:
        self.process.start()
        self.process.wait_ready(lambda: port_open(HOST, self.port), 30)

    def stop(self) -> None:
        self.session.close()
        self.process.stop()

    def admin(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST (with a body) or GET an admin call under /_fake/."""
        url = f"{self.url}/_fake/{path}"
        answer = self.session.post(url, json=body, timeout=60) if body is not None else self.session.get(url)
        answer.raise_for_status()
        return answer.json()

    def reset(self) -> None:
        self.admin("reset", {})

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.admin("requests")
        return counts

    def calendar_calls(self, since: Mapping[str, int] | None = None, *, skip_list: bool = True) -> int:
        """Calendar API calls (inner batch calls counted one by one, as quotas count them) since `since`."""
        now = self.counts()
        since = since or {}
        return sum(
            n - since.get(route, 0)
            for route, n in now.items()
            if route.startswith(CALENDAR_ROUTES) and not (skip_list and route == "calendar.events.list")
        )

    def ui_token(self, email: str) -> str:
        """An access token acting as the user in Google's own UI (no quota, no faults)."""
        token: str = self.admin("token", {"email": email})["access_token"]
        return token

    def consent(self, authorization_url: str, email: str) -> dict[str, str]:
        """Answer the consent page as the user would; the redirect's query (code, state)."""
        url = authorization_url.replace("https://accounts.google.com/o/oauth2/v2/auth", "")
        extra = urlencode({"login_hint": email, "fake_decision": "allow"})
        answer = self.session.get(f"{url}&{extra}", allow_redirects=False, timeout=30)
        assert answer.status_code in (302, 303), answer.text
        return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


@dataclass
class Environment:
    """The Firestore emulator and a fake Google, with what a figure needs to wire and drive the services."""

    emulator: FirestoreEmulator
    google: FakeGoogle
    log_dir: Path
    ops: FirestoreOps = field(default_factory=FirestoreOps)

    def settings(self, google: FakeGoogle | None = None, **overrides: Any) -> Settings:
        base = Settings(
            project_id=PROJECT_ID,
            functions_base_url=NOWHERE,
            google=GoogleEndpoints.under((google or self.google).url),
            secrets_backend="env",
        )
        return Settings(**{**base.__dict__, **overrides})

    def services(
        self, queue: Any, google: FakeGoogle | None = None, *, counted: bool = True, **settings: Any
    ) -> Services:
        """The real services on the emulator and the fake; Firestore operations counted into `ops`."""
        db = CountingClient(self.ops, project=PROJECT_ID) if counted else self.client()
        secrets = EnvSecrets(
            {
                "SECRET_OAUTH_CLIENT_SECRET": "local-secret",
                "SECRET_TOKEN_ENCRYPTION_KEY": KEYRING,
                "SECRET_WEBHOOK_TOKEN_KEY": "bench-webhook-key",
            }
        )
        return build_services(self.settings(google, **settings), db=db, secrets=secrets, queue=queue)

    def client(self) -> firestore.Client:
        """A plain client: the clinic app's own writes, not counted."""
        return firestore.Client(project=PROJECT_ID)


def start_environment(log_dir: Path) -> Environment:
    emulator = FirestoreEmulator(free_port(), PROJECT_ID, log_dir=log_dir)
    google = FakeGoogle(log_dir)
    emulator.start()
    google.start()
    emulator.wait_ready()
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
    os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT_ID
    return Environment(emulator, google, log_dir)


# --- a clinic of the bench's own ------------------------------------------------------------------------
@dataclass
class Clinic:
    """A clinic written for one figure: `professionals` agendas, each with a user linked to it."""

    db: firestore.Client
    id: str
    professionals: int = 1
    centers: tuple[str, ...] = ("centro-a",)

    def professional(self, index: int) -> str:
        return f"p{index:03d}"

    def user(self, index: int) -> str:
        return f"u{index:03d}"

    def write(self) -> None:
        """The clinic, its centres, a master `admin`, and professional pNNN with user uNNN for each agenda."""
        docs: dict[str, dict[str, Any]] = {
            f"clinics/{self.id}": {"name": f"Bench {self.id}", "privacy": "none"},
            f"clinics/{self.id}/users/admin": {
                "name": "Admin",
                "email": f"admin@{self.id}.test",
                "isMaster": True,
                "professionalIds": [],
            },
        }
        for center in self.centers:
            docs[f"clinics/{self.id}/centers/{center}"] = {"name": center, "timeZone": "Europe/Madrid"}
        for index in range(self.professionals):
            professional, user = self.professional(index), self.user(index)
            docs[f"clinics/{self.id}/professionals/{professional}"] = {"name": f"Pro {index}"}
            docs[f"clinics/{self.id}/users/{user}"] = {
                "name": f"User {index}",
                "email": f"{user}@{self.id}.test",
                "isMaster": False,
                "professionalIds": [professional],
            }
        write_many(self.db, docs.items())

    def appointment_path(self, appointment_id: str) -> str:
        return f"clinics/{self.id}/appointments/{appointment_id}"

    def appointment_fields(self, index: int, professional: int = 0, minutes: int = 0) -> dict[str, Any]:
        start = DAY0 + timedelta(minutes=30 * (index % 400), days=index // 400)
        return {
            "professionalId": self.professional(professional),
            "centerId": self.centers[index % len(self.centers)],
            "start": start,
            "end": start + timedelta(minutes=30 + minutes),
            "status": "scheduled",
            "patientName": "Ana López",
            "service": "Fisioterapia",
        }


def write_many(db: firestore.Client, documents: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
    """Write documents in batches of 500 (the batch limit)."""
    written = 0
    batch = db.batch()
    pending = 0
    for path, data in documents:
        batch.set(db.document(path), dict(data))
        pending += 1
        if pending == 500:
            batch.commit()
            written += pending
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
        written += pending
    return written


def link_agenda(
    services: Services,
    google: FakeGoogle,
    clinic: Clinic,
    index: int,
    email: str,
    *,
    bidirectional: bool = False,
    center: str = "centro-a",
) -> SyncLink:
    """oauth_start, consent, oauth_callback and the master's approval: the link of user uNNN is active."""
    link, url = services.linking.start(clinic.id, center, clinic.user(index), None, bidirectional, None)
    answer = google.consent(url, email)
    held = services.linking.complete(answer["state"], answer.get("code"), answer.get("error"))
    assert held.code, held
    services.linking.redeem(clinic.id, clinic.user(index), link.id, held.code)
    active = services.linking.decide(clinic.id, center, "admin", link.id, approve=True)
    assert active.status.value == "active", active
    return active


def trigger(services: Services, clinic: Clinic, db: firestore.Client, appointment_id: str, data: Any) -> int:
    """The clinic writes an appointment and the trigger fires, as Eventarc would deliver it."""
    ref = db.document(clinic.appointment_path(appointment_id))
    before = ref.get()
    ref.set(data)
    after = ref.get()
    change = appointment_change(
        clinic.id,
        appointment_id,
        before.to_dict() if before.exists else None,
        after.to_dict(),
        after.update_time,
    )
    return services.push.fan_out(change)


def run_tasks(services: Services, queue: Any) -> int:
    """Run every task of a RecordingQueue (and those they add) as the workers would; how many ran."""
    ran = 0
    while queue.tasks:
        for queue_name, payload in queue.take():
            ran += 1
            run_task(services, queue_name, payload)
    return ran


@dataclass(frozen=True)
class Linked:
    """One agenda linked on a fresh fake Google: the services, their task queue, the clinic and its link."""

    services: Services
    queue: RecordingQueue
    clinic: Clinic
    link: SyncLink
    calendar_id: str
    email: str


def link_fresh_clinic(
    env: Environment, clinic_id: str, email: str, *, bidirectional: bool = True, counted: bool = True
) -> Linked:
    """The fake Google reset, clinic `clinic_id` written with one agenda, its user's link active (consented as
    `email`) and the tasks its activation queued run (the empty backfill): where a figure of one link starts."""
    env.google.reset()
    queue = RecordingQueue()
    services = env.services(queue, counted=counted)
    clinic = Clinic(env.client(), clinic_id)
    clinic.write()
    link = link_agenda(services, env.google, clinic, 0, email, bidirectional=bidirectional)
    run_tasks(services, queue)
    assert link.calendar_id
    return Linked(services, queue, clinic, link, link.calendar_id, email)


class Stopwatch:
    """Wall-clock seconds since creation (monotonic)."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.began
