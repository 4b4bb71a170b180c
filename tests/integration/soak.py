"""A seeded convergence soak over the real services, the Firestore emulator and the fake Google.

Random operations on both sides (clinic writes; moves, cancellations and creations in Google on two-way
links; links disabled and redone; grants revoked; access tokens expired; sync tokens invalidated; channels
expired) run while faults are injected everywhere: Google answers 5xx, 429 and 403 rateLimitExceeded, slowly
or not at all, and for a while answers every Calendar call 500, longer than a task's retry budget; CloudEvents
and tasks are duplicated, reordered and delayed; notifications, pull tasks, CloudEvents of clinic writes and
scheduler runs are dropped; push tasks are dropped too, as Cloud Tasks drops a task after its last attempt:
the worker keeps a dead letter. Then the faults stop, the queues drain (reconciliation and the drift check
recovering what was dropped), and the calendars must equal the clinic: one event per live appointment, none
for the rest, no loop, no dead letter left. Before the run, the two-way user's Google account was linked at
a second clinic, which wrote an event with a patient's name there: at the end it is still that clinic's, and
nothing of it reached the demo clinic.

A CloudEvent of a deleted document is never dropped here: a deleted document leaves no `updatedAt` for the
drift check to find, so only a resync heals its loss (README, "Reliability").
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from flask import Flask, request
from werkzeug.serving import WSGIRequestHandler, make_server

from shared.adapters.firestore_codec import appointment_change
from shared.domain.errors import DomainError
from shared.domain.event import PROP_APPOINTMENT
from shared.domain.event_link import appointment_id_for_event
from shared.domain.link import LinkStatus
from shared.services.tasks import RetryLater, pull_work, push_work
from tests.fakes import run_task
from tests.integration.conftest import FUNCTIONS_URL, Sync

# Another clinic (privacy `full`) where the two-way user's Google account was linked before.
OTHER_CLINIC = "norte"
OTHER_PATIENT = "Nuria Norte"
USERS = {"pautrave": ("pau@gmail.com", True), "marina": ("marina@gmail.com", False)}
GOOGLE_FAULTS = [
    {"route": "/calendar/v3/", "rate": 0.08, "status": 503},
    {"route": "/calendar/v3/", "rate": 0.04, "status": 429},
    {"route": "/calendar/v3/", "rate": 0.04, "status": 403},
    {"route": "/batch/", "rate": 0.05, "status": 500},
    {"route": "/calendar/v3/", "rate": 0.02, "status": "timeout", "latencyMs": 50},
    {"route": "POST /token", "rate": 0.03, "status": 503},
]


QUIESCE_SECONDS = 240
# Google's outage: every Calendar call answered 500 for this share of the run (at least OUTAGE_MIN_OPS), from
# a third of the way in; tasks retried meanwhile spend their whole budget and become dead letters.
OUTAGE_SHARE = 0.1
OUTAGE_MIN_OPS = 150
OUTAGE_FAULTS = [
    {"route": "/calendar/v3/", "rate": 1.0, "status": 500},
    {"route": "/batch/", "rate": 1.0, "status": 500},
]
# How many operations a Workspace administrator's block of the app lasts.
ADMIN_BLOCK_OPS = 50
# How often a Google edit that finds the two-way link down comes after the user linked again.
RELINK_BEFORE_EDIT = 0.8
# A progress line every this many operations (SOAK_PROGRESS overrides it).
PROGRESS_EVERY = 500
MADRID = ZoneInfo("Europe/Madrid")


@dataclass
class Figures:
    ops: int = 0
    faults: int = 0
    duplicates: int = 0
    lost: int = 0
    diverged: int = 0
    dead_letters: int = 0  # tasks lost on their last attempt (dropped, or past the retry budget)
    unhealed: int = 0  # dead letters still pending on the links at the end
    # How often each kind of disturbance and of edit made in Google ran: what a run covered.
    kinds: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"ops={self.ops} faults={self.faults} duplicates={self.duplicates} lost={self.lost} "
            f"diverged={self.diverged} dead_letters={self.dead_letters} unhealed={self.unhealed}"
        )


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WebhookReceiver:
    """Google's notifications arrive here (the functions URL of the test settings); some are dropped."""

    def __init__(self, sync: Sync, rng: random.Random, figures: Figures) -> None:
        self.sync, self.rng, self.figures = sync, rng, figures
        self.drop_rate = 0.0
        self.lock = threading.Lock()
        app = Flask("webhook")
        app.add_url_rule("/calendar_webhook", view_func=self.receive, methods=["POST"])
        port = int(FUNCTIONS_URL.rsplit(":", 1)[1])
        self.server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def receive(self) -> tuple[str, int]:
        with self.lock:
            drop = self.rng.random() < self.drop_rate
            if drop:
                self.figures.faults += 1
        if drop:
            return "", 200
        try:
            self.sync.services.channels.notification(
                request.headers.get("X-Goog-Channel-ID", ""),
                request.headers.get("X-Goog-Channel-Token", ""),
                request.headers.get("X-Goog-Resource-State", ""),
            )
        except DomainError:
            return "", 403
        return "", 200

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


class Soak:
    def __init__(self, sync: Sync, seed: int) -> None:
        self.sync = sync
        self.rng = random.Random(seed)
        self.figures = Figures()
        self.now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.pending_events: list[Callable[[], object]] = []  # CloudEvents not delivered yet
        self.delayed_tasks: list[tuple[str, dict[str, Any]]] = []
        self.faulty = True
        self.counter = 0
        self.attempts: dict[str, int] = {}  # by task: how often it was tried (Cloud Tasks' retry count + 1)
        # The clinic's appointments as last written, by the soak or by a pull: a write picks its
        # appointment here instead of reading the whole collection, so each operation costs the same
        # however many appointments there are.
        self.model: dict[str, dict[str, Any]] = {}
        self.newest_link: dict[str, str | None] = {}  # by user: the last link the run made
        # The share of Google edits on the two-way link that are series, all-day events and copies (none
        # unless a run asks for them, so that a seed replays the same operations as before).
        self.made_in_google = 0.0
        # The notifications' drops draw from a generator of their own: they arrive on another thread, at
        # times the run does not control, and must not shift the operations a seed replays.
        self.receiver = WebhookReceiver(sync, random.Random(f"webhook-{seed}"), self.figures)
        self.other_calendar: str | None = None  # the calendar another clinic made in a shared account
        self.blocked_until: dict[str, int] = {}  # by user: the operation at which an admin's block ends
        self._fire_on_pull_writes()

    def _fire_on_pull_writes(self) -> None:
        """Every write fires the trigger, the pull's too, as Eventarc does."""
        directory = self.sync.services.directory
        write_appointments = directory.write_appointments

        def written(appointment: Any, source_link_id: str) -> None:
            ref = self.sync.db.document(f"clinics/demo/appointments/{appointment.id}")
            before = ref.get()
            write_appointments([appointment], source_link_id)
            after = ref.get()
            old = before.to_dict() if before.exists else None
            self.model[appointment.id] = after.to_dict() or {}
            self.deliver(
                lambda: self.sync.trigger(appointment.id, old, after.to_dict(), after.update_time),
                droppable=True,
            )

        def written_all(appointments: Any, source_link_id: str) -> None:
            for appointment in appointments:
                written(appointment, source_link_id)

        directory.write_appointments = written_all  # type: ignore[method-assign]

    # --- the world ----------------------------------------------------------------------------------
    def link_of(self, user: str) -> Any:
        """The user's link that holds keys, if any. Only the newest link can: a redo disables the link it
        replaces, and an ended or unfinished link never holds keys again. So one document is read, not
        every link the run has made."""
        if user not in self.newest_link:
            links = self.sync.services.links.links_of_user("demo", user)
            self.newest_link[user] = links[-1].id if links else None
        link_id = self.newest_link[user]
        link = self.sync.services.links.get("demo", link_id) if link_id is not None else None
        return link if link is not None and link.holds_keys else None

    def ensure_linked(self, user: str) -> None:
        """Link (again) a user whose link is missing, disabled or lost its grant."""
        current = self.link_of(user)
        if current is not None and current.status is LinkStatus.ACTIVE:
            return
        if current is not None:
            self.sync.services.linking.disable("demo", user, current.id)
        email, two_way = USERS[user]
        result = self.sync.link(user, email, bidirectional=two_way)
        self.newest_link[user] = result.link.id
        if result.link.status is LinkStatus.PENDING_APPROVAL:
            self.sync.services.linking.decide("demo", "centro-b", "admin", result.link.id, approve=True)

    def appointments(self) -> dict[str, dict[str, Any]]:
        return {
            d.id: d.to_dict() or {} for d in self.sync.db.collection("clinics/demo/appointments").stream()
        }

    def user_api(self, email: str) -> Any:
        return self.sync.as_user(email)

    # --- operations ---------------------------------------------------------------------------------
    def clinic_write(self) -> None:
        existing = self.model
        choice = self.rng.random()
        if not existing or choice < 0.35:
            self.counter += 1
            appointment_id = f"s{self.counter}"
            start = self.now + timedelta(days=self.rng.randint(1, 20), hours=self.rng.randint(0, 10))
            data = {
                "start": start,
                "end": start + timedelta(minutes=self.rng.choice([15, 30, 60])),
                "service": self.rng.choice(["Fisioterapia", "Revisión", None]),
            }
        else:
            appointment_id = self.rng.choice(sorted(existing))
            data = dict(existing[appointment_id])
            data.pop("syncSource", None)
            if choice < 0.6:
                start = self.now + timedelta(days=self.rng.randint(1, 20), hours=self.rng.randint(0, 10))
                data.update(start=start, end=start + timedelta(minutes=self.rng.choice([15, 30, 60])))
                data.pop("allDay", None)  # moved to an hour of a day: no longer an all-day block
            elif choice < 0.75:
                data["status"] = "cancelled"
            elif choice < 0.85:
                self.write_deleted(appointment_id)
                return
            else:
                data["status"] = "scheduled"
        self.write(appointment_id, data)

    def write(self, appointment_id: str, data: dict[str, Any]) -> None:
        data.pop("updatedAt", None)  # stamped anew by the write
        self.sync.appointment(
            appointment_id,
            lambda event: self.deliver(event, droppable=True),
            **{k: v for k, v in data.items() if v is not None},
        )
        self.model[appointment_id] = self.sync.doc(f"clinics/demo/appointments/{appointment_id}") or {}

    def write_deleted(self, appointment_id: str) -> None:
        self.sync.delete_appointment(appointment_id, self.deliver)
        self.model.pop(appointment_id, None)

    def deliver(self, event: Callable[[], object], *, droppable: bool = False) -> None:
        """A CloudEvent: delivered now, later (reordered), twice, or (a write's, `droppable`) never."""
        if not self.faulty:
            event()
            return
        roll = self.rng.random()
        if droppable and roll < 0.05:
            self.figures.faults += 1  # Eventarc gave up on it: the drift check must find the write
            return
        if roll < 0.2:
            self.pending_events.append(event)
            self.figures.faults += 1
            return
        event()
        if roll > 0.9:
            self.pending_events.append(event)
            self.figures.faults += 1

    def google_edit(self) -> None:
        link = self.link_of("pautrave")
        # People keep using Google Calendar while the link is down, but an edit that meets no link tests
        # the adoption of a redo only: most of them come after the user linked again (as staff would, told
        # by the console), so that the run's edits meet a live link most of the time.
        down = link is None or link.status is not LinkStatus.ACTIVE
        if down and "pautrave" not in self.blocked_until and self.rng.random() < RELINK_BEFORE_EDIT:
            self.ensure_linked("pautrave")
            link = self.link_of("pautrave")
        if link is None or link.status is not LinkStatus.ACTIVE:
            self.figures.kinds[f"google_edit_without_link:{link.status.value if link else None}"] += 1
            return
        api = self.user_api(USERS["pautrave"][0])
        # One day of the calendar (events are made within a day, 1 to 20 days ahead): listing the whole
        # calendar on every edit would make the run quadratic in its length.
        day = self.now + timedelta(days=self.rng.randint(1, 20))
        listed = api.events().list(
            calendarId=link.calendar_id,
            timeMin=day.isoformat(),
            timeMax=(day + timedelta(days=1)).isoformat(),
            maxResults=2500,
        )
        events = [e for e in listed.execute()["items"] if e.get("status") != "cancelled"]
        if self.made_in_google and self.rng.random() < self.made_in_google:
            MadeInGoogle(self, api, link.calendar_id, events).one()
            return
        roll = self.rng.random()
        if not events or roll < 0.3:
            start = self.now + timedelta(days=self.rng.randint(1, 20), hours=self.rng.randint(0, 10))
            api.events().insert(
                calendarId=link.calendar_id,
                body={
                    "summary": self.rng.choice(["Reunión", "Bloqueo", "Formación"]),
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(minutes=45)).isoformat()},
                },
            ).execute()
        elif roll < 0.8:
            event = self.rng.choice(events)
            start = self.now + timedelta(days=self.rng.randint(1, 20), hours=self.rng.randint(0, 10))
            api.events().patch(
                calendarId=link.calendar_id,
                eventId=event["id"],
                body={
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(minutes=self.rng.choice([30, 90]))).isoformat()},
                },
            ).execute()
        else:
            event = self.rng.choice(events)
            api.events().delete(calendarId=link.calendar_id, eventId=event["id"]).execute()

    def admin(self, path: str, body: dict[str, Any]) -> None:
        requests.post(f"{self.sync.google.url}/_fake/{path}", json=body, timeout=10).raise_for_status()

    def disturb(self) -> None:
        roll = self.rng.random()
        user = self.rng.choice(sorted(USERS))
        if roll < 0.25:
            kind = "disable"
            link = self.link_of(user)
            if link is not None:
                self.sync.services.linking.disable("demo", user, link.id)
        elif roll < 0.4:
            kind = "revoke"
            self.admin("revoke", {"email": USERS[user][0]})
        elif roll < 0.6:
            kind = "expire_tokens"
            self.admin("tokens/expire", {"email": USERS[user][0]})
        elif roll < 0.8:
            kind = "invalidate_sync_tokens"
            self.admin("sync-tokens/invalidate", {})
        elif roll < 0.9:
            kind = "expire_channels"
            self.admin("channels/expire", {})
        elif roll < 0.95:
            kind = "delete_calendar"
            self.delete_calendar(user)
        else:
            # A Workspace administrator blocks the app for this account, and allows it again some
            # operations later (or when the soak quiesces): meanwhile every redo of the link is refused.
            kind = "admin_block"
            self.admin("refresh-failure", {"email": USERS[user][0], "error": "admin_policy_enforced"})
            self.admin("tokens/expire", {"email": USERS[user][0]})
            self.blocked_until[user] = self.figures.ops + ADMIN_BLOCK_OPS
        self.figures.kinds[kind] += 1
        self.figures.faults += 1

    def lift_blocks(self) -> None:
        """The administrators who blocked the app allow it again once their block has lasted."""
        for user, until in list(self.blocked_until.items()):
            if self.figures.ops >= until:
                self.admin("refresh-failure", {"email": USERS[user][0], "error": None})
                del self.blocked_until[user]

    def delete_calendar(self, user: str) -> None:
        """The user deletes the link's calendar in Google Calendar: a later redo makes a new one."""
        link = self.link_of(user)
        if link is not None and link.calendar_id:
            url = f"{self.sync.google.url}/_fake/calendars/{link.calendar_id}"
            requests.delete(url, timeout=10)  # 404 when it is gone already

    # --- the queues ---------------------------------------------------------------------------------
    def run_some_tasks(self, drain: bool = False) -> None:
        tasks = self.sync.queue.take() + self.delayed_tasks
        self.delayed_tasks = []
        if self.faulty:
            self.rng.shuffle(tasks)
        for queue, payload in tasks:
            if self.faulty:
                roll = self.rng.random()
                if roll < 0.1:
                    self.delayed_tasks.append((queue, payload))
                    self.figures.faults += 1
                    continue
                if queue == "pull" and roll < 0.15:
                    self.figures.faults += 1  # a dropped pull: reconciliation must make up for it
                    continue
                if queue == "push" and roll < 0.15:
                    self.figures.faults += 1  # dropped after its last attempt: a dead letter
                    self.lose(queue, payload)
                    continue
                if roll > 0.92:
                    self.run_task(queue, payload)
                    self.figures.faults += 1
            self.run_task(queue, payload)

    def run_task(self, queue: str, payload: dict[str, Any]) -> None:
        key = f"{queue}:{sorted(payload.items())}"
        self.attempts[key] = self.attempts.get(key, 0) + 1
        try:
            run_task(self.sync.services, queue, payload)
        except RetryLater:
            if self.attempts[key] >= self.sync.services.settings.max_attempts(queue):
                self.lose(queue, payload)  # its last attempt failed: the worker keeps a dead letter
                return
            self.delayed_tasks.append((queue, payload))  # Cloud Tasks retries it, later
        self.attempts.pop(key, None)

    def lose(self, queue: str, payload: dict[str, Any]) -> None:
        """What push_worker and pull_worker do on a task's last attempt: a dead letter on its link."""
        work: Any = pull_work(payload) if queue == "pull" else push_work(payload)
        attempts = self.attempts.pop(f"{queue}:{sorted(payload.items())}", 0)
        tried = max(attempts, self.sync.services.settings.max_attempts(queue))
        if self.sync.services.repair.dead_letter(work, "retry_later", tried):
            self.figures.dead_letters += 1

    def scheduled(self) -> None:
        """A Cloud Scheduler run: the drift check, the reconciliation or the upkeep; some never run."""
        if self.rng.random() < 0.3:
            self.figures.faults += 1
            return
        job = self.rng.choice(["drift", "reconcile", "renew"])
        if job == "drift":
            self.sync.services.repair.drift_check()
        elif job == "reconcile":
            self.sync.services.channels.reconcile(1e-6)
        else:
            self.sync.services.upkeep.run()

    def outage(self, starting: bool) -> None:
        """Google answers every Calendar call 500 (starting), or goes back to the run's usual faults."""
        self.admin("faults", {})
        for rule in OUTAGE_FAULTS if starting else GOOGLE_FAULTS:
            self.admin("faults", rule)

    def quiesce(self) -> None:
        """Faults off; every CloudEvent delivered; upkeep and reconciliation; queues drained."""
        self.faulty = False
        self.receiver.drop_rate = 0.0
        self.admin("faults", {})
        # Quota refusals are faults too: lifted, so that a long run drains in minutes, not hours.
        self.admin("quotas", {"perUserPerMinute": 1_000_000, "perProjectPerMinute": 10_000_000})
        for email, _two_way in USERS.values():
            self.admin("refresh-failure", {"email": email, "error": None})  # the administrators relent
        for event in self.pending_events:
            event()
        self.pending_events = []
        # Google's per-user quota (a rolling minute) may still refuse calls: keep going, as the scheduled
        # upkeep and Cloud Tasks' retries would, until every link is active and the queues are empty.
        deadline = time.monotonic() + QUIESCE_SECONDS
        while True:
            for user in USERS:
                self.ensure_linked(user)
            self.sync.services.upkeep.run()
            self.sync.services.channels.reconcile(1e-6)
            self.sync.services.repair.drift_check()
            self.drain(deadline)
            if all(
                self.link_of(u) is not None and self.link_of(u).status is LinkStatus.ACTIVE for u in USERS
            ):
                break
            assert time.monotonic() < deadline, "links did not become active"
            time.sleep(2)
        self.sync.services.channels.reconcile(1e-6)
        self.sync.services.repair.drift_check()
        self.drain(deadline)

    def drain(self, deadline: float | None = None) -> None:
        deadline = deadline or time.monotonic() + QUIESCE_SECONDS
        while time.monotonic() < deadline:
            self.admin("deliveries/wait", {"timeout": 5})
            if not self.sync.queue.tasks and not self.delayed_tasks:
                return
            retried = len(self.delayed_tasks)
            self.run_some_tasks()
            if retried and len(self.delayed_tasks) >= retried:
                time.sleep(1)  # Google still refuses: back off, as Cloud Tasks does
        raise AssertionError("the queues did not drain")

    # --- a second clinic sharing a Google account ------------------------------------------------------
    def other_clinic_first(self) -> None:
        """Before the run, the two-way user's Google account is linked at another clinic (privacy `full`),
        which pushes an appointment with its patient's name, and the link is disabled: the demo clinic
        links the same account next, and must never import nor adopt what the other clinic wrote."""
        email = USERS["pautrave"][0]
        services = self.sync.services
        _, url = services.linking.start(OTHER_CLINIC, "centro-norte", "marina", None, True, None)
        answer = self.sync.consent(url, email)
        link = self.sync.redeem(
            services.linking.complete(answer["state"], answer.get("code"), answer.get("error"))
        ).link
        assert link.status is LinkStatus.ACTIVE and link.calendar_id, link
        start = self.now + timedelta(days=3, hours=2)
        ref = self.sync.db.document(f"clinics/{OTHER_CLINIC}/appointments/n1")
        ref.set(
            {
                "professionalId": "marina",
                "centerId": "centro-norte",
                "start": start,
                "end": start + timedelta(hours=1),
                "status": "scheduled",
                "patientName": OTHER_PATIENT,
            }
        )
        after = ref.get()
        services.push.fan_out(
            appointment_change(OTHER_CLINIC, "n1", None, after.to_dict(), after.update_time)
        )
        self.sync.run_tasks()
        services.linking.disable(OTHER_CLINIC, "marina", link.id)
        self.other_calendar = link.calendar_id

    def check_other_clinic(self) -> None:
        """The other clinic's event is still its own, and nothing of it reached the demo clinic."""
        if self.other_calendar is None:
            return
        api = self.user_api(USERS["pautrave"][0])
        items = api.events().list(calendarId=self.other_calendar, maxResults=2500).execute()["items"]
        marks = [((e.get("extendedProperties") or {}).get("private") or {}).get("clinicId") for e in items]
        if marks != [OTHER_CLINIC] or OTHER_PATIENT not in items[0].get("summary", ""):
            self.figures.diverged += 1
            self.figures.details.append(f"the other clinic's calendar changed: {marks}")
        for appointment_id, doc in self.appointments().items():
            if (
                OTHER_PATIENT in repr(doc)
                or (doc.get("origin") or {}).get("calendarId") == self.other_calendar
            ):
                self.figures.diverged += 1
                self.figures.details.append(f"demo imported the other clinic's event as {appointment_id}")
        link = self.link_of("pautrave")
        if link is not None and link.calendar_id == self.other_calendar:
            self.figures.diverged += 1
            self.figures.details.append("demo adopted the other clinic's calendar")

    # --- the run ------------------------------------------------------------------------------------
    def run(self, operations: int) -> Figures:
        self.other_clinic_first()
        for user in USERS:
            self.ensure_linked(user)
        self.drain()
        self.receiver.drop_rate = 0.2
        for rule in GOOGLE_FAULTS:
            self.admin("faults", rule)
        self.model = self.appointments()  # the demo clinic's own, and what the first pulls wrote
        every = int(os.environ.get("SOAK_PROGRESS", PROGRESS_EVERY))
        started = time.monotonic()
        outage_from = operations // 3
        outage_until = outage_from + max(OUTAGE_MIN_OPS, int(operations * OUTAGE_SHARE))
        for _ in range(operations):
            self.figures.ops += 1
            if self.figures.ops % every == 0:
                self.progress(operations, started)
            if self.figures.ops in (outage_from, outage_until):
                self.outage(starting=self.figures.ops == outage_from)
            self.lift_blocks()
            roll = self.rng.random()
            try:
                if roll < 0.55:
                    self.clinic_write()
                elif roll < 0.8:
                    self.google_edit()
                elif roll < 0.85:
                    self.disturb()
                elif roll < 0.9:
                    self.ensure_linked(self.rng.choice(sorted(USERS)))
                elif roll < 0.92:
                    self.scheduled()
                else:
                    self.run_some_tasks()
            except (
                DomainError
            ) as exc:  # a refusal under faults (e.g. a transient activation): the world goes on
                self.figures.details.append(f"refused: {exc.code}")
            except Exception as exc:
                if "HttpError" not in type(exc).__name__:
                    raise
                self.figures.kinds["google_refused_the_user"] += 1  # e.g. the calendar they deleted
        self.progress(operations, started, "quiescing")
        self.quiesce()
        self.progress(operations, started, "checking")
        self.check()
        self.check_other_clinic()
        return self.figures

    def progress(self, operations: int, started: float, stage: str = "running") -> None:
        """One line on how far the run is, flushed at once (a long run is watched as it goes)."""
        print(
            f"soak {stage}: ops={self.figures.ops}/{operations} faults={self.figures.faults} "
            f"appointments={len(self.model)} elapsed={time.monotonic() - started:.0f}s",
            file=sys.stderr,
            flush=True,
        )

    # --- the verdict --------------------------------------------------------------------------------
    def check(self) -> None:
        appointments = self.appointments()
        live = {k: v for k, v in appointments.items() if v.get("status") == "scheduled"}
        for user, (email, _two_way) in USERS.items():
            link = self.link_of(user)
            assert link is not None and link.status is LinkStatus.ACTIVE, (user, link)
            events = [e for e in self.every_event(email, link.calendar_id) if e.get("status") != "cancelled"]
            diverged_series: set[str] = set()
            shown: dict[str, list[dict[str, Any]]] = {}
            for event in events:
                appointment_id = ((event.get("extendedProperties") or {}).get("private") or {}).get(
                    PROP_APPOINTMENT
                )
                if appointment_id is None:
                    appointment_id = next(
                        (
                            k
                            for k, v in appointments.items()
                            if (v.get("origin") or {}).get("eventId") == event["id"]
                        ),
                        None,
                    )
                if event.get("transparency") == "transparent" and (
                    appointment_id is None
                    or ((appointments.get(appointment_id) or {}).get("origin") or {}).get("eventId")
                    == event["id"]
                ):
                    # Made in Google and free: it blocks nothing, and has no live appointment to compare
                    # with. One of ours marked free still shows its appointment (transparency is no field
                    # of ours).
                    continue
                if appointment_id is None:
                    self.figures.lost += 1  # made in Google, never became an appointment
                    self.figures.details.append(self.why_no_appointment(user, link, event))
                    continue
                shown.setdefault(appointment_id, []).append(event)
            for appointment_id, copies in shown.items():
                if len(copies) > 1:
                    self.figures.duplicates += len(copies) - 1
                    self.figures.details.append(f"{user}: {appointment_id} shown {len(copies)} times")
                doc = live.get(appointment_id)
                if doc is None:
                    self.figures.diverged += 1
                    self.figures.details.append(
                        self.why_not_live(user, link, appointment_id, copies[0], appointments)
                    )
                    continue
                start, end = event_span(copies[0])
                if (start, end) != (doc["start"], doc["end"]):
                    # A series counts as diverged once, whichever of its instances' appointments differ.
                    series = copies[0].get("recurringEventId")
                    if series is None or series not in diverged_series:
                        self.figures.diverged += 1
                    if series is not None:
                        diverged_series.add(series)
                    recorded = self.sync.services.records.event_link(link, appointment_id)
                    self.figures.details.append(
                        f"{user}: {appointment_id} at {start} != {doc['start']}; event {copies[0]['id']} "
                        f"updated {copies[0].get('updated')}; appointment updated {doc.get('updatedAt')} "
                        f"allDay {doc.get('allDay')} by {doc.get('syncSource')}; {recorded}; "
                        f"link error {link.last_error} pending {link.pending_failures}"
                    )
            for appointment_id in sorted(live.keys() - shown.keys()):
                self.figures.lost += 1
                self.figures.details.append(
                    self.why_not_shown(user, link, appointment_id, live[appointment_id])
                )
            if link.pending_failures:
                self.figures.unhealed += link.pending_failures
                letters = self.sync.services.repairs.dead_letters(link)
                self.figures.details.append(f"{user}: unhealed dead letters {[d.key for d in letters]}")

    def every_event(self, email: str, calendar_id: str) -> list[dict[str, Any]]:
        """The calendar's events as its user sees them, instances one by one, every page (a long run's
        calendar holds more than a page of 2,500)."""
        found: list[dict[str, Any]] = []
        page_token = None
        while True:
            listing = (
                self.user_api(email)
                .events()
                .list(calendarId=calendar_id, maxResults=2500, singleEvents=True, pageToken=page_token)
            )
            answer = listing.execute()
            found.extend(answer["items"])
            page_token = answer.get("nextPageToken")
            if not page_token:
                return found

    def why_not_shown(self, user: str, link: Any, appointment_id: str, doc: dict[str, Any]) -> str:
        """What a live appointment missing from the calendar is, and what Google holds at its event."""
        recorded = self.sync.services.records.event_link(link, appointment_id)
        event_id = recorded.event_id if recorded is not None else None
        event: Any = None
        if event_id is not None:
            try:
                got = (
                    self.user_api(USERS[user][0]).events().get(calendarId=link.calendar_id, eventId=event_id)
                )
                event = {
                    k: v
                    for k, v in got.execute().items()
                    if k in ("status", "transparency", "recurringEventId", "start", "end", "recurrence")
                }
            except Exception as exc:  # what Google answers is the detail
                event = f"{type(exc).__name__} {getattr(getattr(exc, 'resp', None), 'status', '')}"
        fields = {k: doc.get(k) for k in ("start", "end", "allDay", "origin", "title")}
        return (
            f"{user}: live {appointment_id} not in the calendar {link.calendar_id}; {fields}; {recorded}; "
            f"Google: {event}; its series: {self.series_record(link.calendar_id, event_id)}"
        )

    def why_not_live(
        self,
        user: str,
        link: Any,
        appointment_id: str,
        event: dict[str, Any],
        appointments: dict[str, dict[str, Any]],
    ) -> str:
        """What an event whose appointment is not live shows, and what the clinic and we recorded of it."""
        doc = appointments.get(appointment_id)
        fields = (
            {k: doc.get(k) for k in ("status", "start", "origin", "updatedAt", "syncSource", "allDay")}
            if doc is not None
            else None
        )
        keys = ("id", "status", "recurringEventId", "start", "created", "updated", "transparency")
        shown = {k: event.get(k) for k in keys}
        recorded = self.sync.services.records.event_link(link, appointment_id)
        return (
            f"{user}: {appointment_id} shown but not live; event {shown}; appointment {fields}; "
            f"recorded {recorded}; link {link.id} last pull {link.last_pull_at}; its series: "
            f"{self.series_record(link.calendar_id, str(event['id']))}"
        )

    def why_no_appointment(self, user: str, link: Any, event: dict[str, Any]) -> str:
        """What an event made in Google that has no appointment is, and what we know of it."""
        event_id = str(event["id"])
        recorded = self.sync.services.records.event_links_by_events(link, [event_id]).get(event_id)
        own = appointment_id_for_event(link.calendar_id, event_id)
        shown = {k: event.get(k) for k in ("created", "updated", "transparency", "start", "end")}
        return (
            f"{user}: event {event_id} has no appointment; {shown}; recorded {recorded}; its own id {own}: "
            f"{self.sync.doc(f'clinics/demo/appointments/{own}')}; link {link.id} last pull "
            f"{link.last_pull_at} adopt since {link.adopt_since} activated {link.activated_at}"
        )

    def series_record(self, calendar_id: str, event_id: str | None) -> Any:
        """What the fake holds of an instance's series and its exceptions (tombstones too)."""
        if event_id is None or "_" not in event_id:
            return None
        series = event_id.split("_", 1)[0]
        state = requests.get(f"{self.sync.google.url}/_fake/state", timeout=30).json()
        return [
            {k: event.get(k) for k in ("id", "status", "start", "recurrence")}
            for event in state["events"]
            if event["calendarId"] == calendar_id and str(event["id"]).startswith(series)
        ]

    def no_loop(self) -> tuple[int, int]:
        """After convergence, one more round of notifications and pulls writes nothing anywhere."""
        writes_before = self.sync.calendar_calls()
        docs_before = {
            d.id: d.update_time for d in self.sync.db.collection("clinics/demo/appointments").stream()
        }
        self.sync.services.channels.reconcile(1e-6)
        self.drain()
        docs_after = {
            d.id: d.update_time for d in self.sync.db.collection("clinics/demo/appointments").stream()
        }
        changed = sum(docs_before.get(k) != v for k, v in docs_after.items())
        return self.sync.calendar_calls() - writes_before, changed


def event_span(event: dict[str, Any]) -> tuple[datetime, datetime]:
    """An event's start and end as its appointment holds them: an all-day one's are Madrid midnights (the
    calendars of the soak are in the centre's zone), its end the day after its last."""
    if "date" in event["start"]:
        return tuple(  # type: ignore[return-value]
            datetime.combine(date.fromisoformat(event[edge]["date"]), datetime.min.time(), MADRID)
            for edge in ("start", "end")
        )
    return datetime.fromisoformat(event["start"]["dateTime"]), datetime.fromisoformat(
        event["end"]["dateTime"]
    )


@dataclass
class MadeInGoogle:
    """What people do in Google Calendar beyond single events: series, their instances, "this and following",
    all-day events (busy or free) and copies of our events."""

    soak: Soak
    api: Any
    calendar_id: str
    events: list[dict[str, Any]]

    def one(self) -> None:
        rng = self.soak.rng
        series = [e for e in self.events if e.get("recurrence")]
        all_day = [e for e in self.events if "date" in e.get("start", {})]
        ours = [e for e in self.events if (e.get("extendedProperties") or {}).get("private")]
        roll = rng.random()
        if roll < 0.25 or not series:
            kind = "new_series"
            self.new_series()
        elif roll < 0.45:
            kind = "instance_edit"
            self.instance_edit(rng.choice(series))
        elif roll < 0.55:
            kind = "this_and_following"
            self.this_and_following(rng.choice(series))
        elif roll < 0.65:
            kind = "whole_series"
            self.whole_series(rng.choice(series))
        elif roll < 0.85 or not ours:
            kind = "all_day"
            self.all_day(rng.choice(all_day) if all_day and rng.random() < 0.4 else None)
        else:
            kind = "copy"
            self.copy(rng.choice(ours))
        self.soak.figures.kinds[kind] += 1

    def _start(self) -> datetime:
        rng = self.soak.rng
        return self.soak.now.astimezone(MADRID) + timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 10))

    def new_series(self) -> None:
        rng, start = self.soak.rng, self._start()
        zone = "Europe/Madrid"
        body = {
            "summary": rng.choice(["Pilates", "Guardia", "Docencia"]),
            "start": {"dateTime": start.isoformat(), "timeZone": zone},
            "end": {"dateTime": (start + timedelta(minutes=45)).isoformat(), "timeZone": zone},
            "recurrence": [f"RRULE:FREQ={rng.choice(['DAILY', 'WEEKLY'])};COUNT={rng.randint(2, 5)}"],
        }
        self.api.events().insert(calendarId=self.calendar_id, body=body).execute()

    def _instances(self, series: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.api.events().instances(calendarId=self.calendar_id, eventId=series["id"]).execute()
        return list(found["items"])

    def instance_edit(self, series: dict[str, Any]) -> None:
        instances = self._instances(series)
        if not instances:
            return
        instance = self.soak.rng.choice(instances)
        events = self.api.events()
        if self.soak.rng.random() < 0.6:
            start = self._start()
            zone = "Europe/Madrid"
            body = {
                "start": {"dateTime": start.isoformat(), "timeZone": zone},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": zone},
            }
            events.patch(calendarId=self.calendar_id, eventId=instance["id"], body=body).execute()
        else:
            events.delete(calendarId=self.calendar_id, eventId=instance["id"]).execute()

    def this_and_following(self, series: dict[str, Any]) -> None:
        instances = self._instances(series)
        if len(instances) < 2:
            return
        instance = self.soak.rng.choice(instances[1:])
        self.soak.admin(
            f"calendars/{self.calendar_id}/events/{instance['id']}/split",
            {"changes": {"summary": "Nueva serie"}},
        )

    def whole_series(self, series: dict[str, Any]) -> None:
        events = self.api.events()
        if self.soak.rng.random() < 0.5:
            events.delete(calendarId=self.calendar_id, eventId=series["id"]).execute()
            return
        start = datetime.fromisoformat(series["start"]["dateTime"]) + timedelta(hours=1)
        zone = series["start"].get("timeZone") or "Europe/Madrid"
        body = {
            "summary": f"{series.get('summary', '')} (cambiada)",
            "start": {"dateTime": start.isoformat(), "timeZone": zone},
            "end": {"dateTime": (start + timedelta(minutes=45)).isoformat(), "timeZone": zone},
        }
        events.patch(calendarId=self.calendar_id, eventId=series["id"], body=body).execute()

    def all_day(self, existing: dict[str, Any] | None) -> None:
        rng, events = self.soak.rng, self.api.events()
        if existing is not None:  # busy becomes free, or free busy
            free = "opaque" if existing.get("transparency") == "transparent" else "transparent"
            body = {"transparency": free}
            events.patch(calendarId=self.calendar_id, eventId=existing["id"], body=body).execute()
            return
        first = self._start().date()
        body = {
            "summary": rng.choice(["Vacaciones", "Congreso", "Festivo"]),
            "start": {"date": first.isoformat()},
            "end": {"date": (first + timedelta(days=rng.randint(1, 3))).isoformat()},
            "transparency": rng.choice(["opaque", "opaque", "transparent"]),
        }
        events.insert(calendarId=self.calendar_id, body=body).execute()

    def copy(self, original: dict[str, Any]) -> None:
        """The user copies one of our events to another day: the copy carries its private properties."""
        if "dateTime" not in original.get("start", {}):
            return
        start = self._start()
        body = {
            "summary": original.get("summary", ""),
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
            "extendedProperties": original["extendedProperties"],
        }
        self.api.events().insert(calendarId=self.calendar_id, body=body).execute()
