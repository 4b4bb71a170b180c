"""The mechanisms behind the benchmark figures, on the Firestore emulator and the fake Google.

Firestore operations are counted at the client's gRPC channel (tests/bench/firestore_ops.py), Calendar calls
by the fake; nothing here times anything.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore as firestore_lib
from google.oauth2.credentials import Credentials

from infra.local.demo_data import write_demo_data
from infra.local.fake_google import RunningServer
from shared.adapters.google_calendar import BATCH_CONCURRENCY, BATCH_SIZE, GoogleCalendarGateway
from shared.adapters.secrets import EnvSecrets
from shared.bootstrap import build_services
from shared.config import GoogleEndpoints, Settings
from shared.domain.event import event_content
from shared.domain.event_link import event_id
from shared.domain.planner import Insert, PushAction
from shared.ports import PushOutcome
from tests.bench.firestore_ops import CountingClient, FirestoreOps
from tests.fakes import RecordingQueue
from tests.integration.conftest import FUNCTIONS_URL, KEYRING, Sync

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


@pytest.fixture
def counted(firestore: firestore_lib.Client, google: RunningServer) -> tuple[Sync, FirestoreOps]:
    """The `sync` world, with the services' Firestore operations counted."""
    ops = FirestoreOps()
    settings = Settings(
        project_id="demo-clinic",
        functions_base_url=FUNCTIONS_URL,
        google=GoogleEndpoints.under(google.url),
        secrets_backend="env",
    )
    secrets = EnvSecrets(
        {
            "SECRET_OAUTH_CLIENT_SECRET": "local-secret",
            "SECRET_TOKEN_ENCRYPTION_KEY": KEYRING,
            "SECRET_WEBHOOK_TOKEN_KEY": "integration-webhook-key",
        }
    )
    queue = RecordingQueue()
    db = CountingClient(ops, project="demo-clinic")
    services = build_services(settings, db=db, secrets=secrets, queue=queue)
    write_demo_data(firestore)
    return Sync(services, firestore, google, queue), ops


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def test_a_change_on_a_warm_instance_costs_five_reads_and_one_write(
    counted: tuple[Sync, FirestoreOps],
) -> None:
    sync, ops = counted
    sync.active_link(bidirectional=False)
    sync.appointment("a0", start=at(0), end=at(1))  # the instance's first change fills its caches
    sync.run_tasks()

    ops.reset()
    sync.appointment("a1", start=at(2), end=at(3))
    sync.run_tasks()
    counts = ops.snapshot()
    assert counts["reads"] == {
        "query clinics/{}/syncLinks": 1,  # the trigger: active links of the professional
        "clinics/{}/syncLinks/{}": 1,  # the worker: the link, still active?
        "clinics/{}/appointments/{}": 1,  # its current state
        "clinics/{}/centers/{}": 1,  # its centre's time zone
        "clinics/{}/calendars/{}/eventLinks/{}": 1,  # what we last wrote
    }  # not the clinic's document nor the sealed token: kept by the instance
    assert counts["writes"] == {"clinics/{}/calendars/{}/eventLinks/{}": 1}


def test_a_backfill_reads_in_bulk_and_writes_in_batch_requests(
    counted: tuple[Sync, FirestoreOps], firestore: firestore_lib.Client
) -> None:
    sync, ops = counted
    appointments = 2 * BATCH_SIZE + 20
    batch = firestore.batch()
    for n in range(appointments):
        batch.set(
            firestore.document(f"clinics/demo/appointments/b{n}"),
            {
                "professionalId": "marina",
                "centerId": "centro-b",
                "start": at(n),
                "end": at(n + 0.5),
                "status": "scheduled",
            },
        )
    batch.commit()
    link = sync.services.linking.decide(
        "demo", "centro-b", "admin", sync.link("pautrave", "pau@gmail.com", bidirectional=False).link.id, True
    )
    before = sync.requests_count()
    ops.reset()
    sync.run_tasks()  # the backfill
    after = sync.requests_count()

    def delta(route: str) -> int:
        return after.get(route, 0) - before.get(route, 0)

    assert delta("calendar.events.insert") == appointments
    assert delta("POST /batch/calendar/v3") == 3  # 50 + 50 + 20, never one request per event
    assert len(sync.events("pau@gmail.com", link.calendar_id or "")) == appointments
    counts = ops.snapshot()
    # One query for the agenda, one batch get for the event links (however many): nothing per appointment.
    assert counts["reads"].get("clinics/{}/appointments/{}", 0) == 0
    assert counts["rpcs"]["BatchGetDocuments"] <= 6
    assert counts["reads"]["clinics/{}/calendars/{}/eventLinks/{}"] == appointments  # read together


class RecordingGateway(GoogleCalendarGateway):
    """The real gateway, noting how many batch requests are in flight at once, and on which threads."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.sizes: list[int] = []
        self.https: set[int] = set()
        self.first_alone = True

    def _batch(self, calendar_id: str, actions: Sequence[PushAction], http: Any) -> list[PushOutcome]:
        with self.lock:
            if len(self.sizes) == 1 and self.in_flight:
                self.first_alone = False  # the second batch started while the first was in flight
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.sizes.append(len(actions))
            self.https.add(id(http))
        try:
            threading.Event().wait(0.05)  # hold the slot, so that overlapping batches overlap visibly
            return super()._batch(calendar_id, actions, http)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_batches_of_one_account_go_a_few_at_a_time_each_on_its_own_connection(sync: Sync) -> None:
    link = sync.active_link(bidirectional=False)
    services = sync.services
    refresh = services.cipher.decrypt(services.grants.encrypted_token(link.id) or {}, context=link.id)
    credentials = Credentials(
        token=None,
        refresh_token=refresh,
        token_uri=services.settings.google.token_uri,
        client_id=services.settings.oauth_client_id,
        client_secret="local-secret",
    )
    gateway = RecordingGateway(services.settings, credentials, lambda c: None)
    clinic = services.directory.clinic("demo")
    center = services.directory.center("demo", "centro-b")
    assert clinic and center and link.calendar_id
    sync.appointment("template", start=at(0), end=at(1))
    appointment = services.directory.appointment("demo", "template")
    assert appointment
    content = event_content(appointment, clinic, center)
    actions: list[PushAction] = [
        Insert(event_id("demo", f"c{n}"), content) for n in range(5 * BATCH_SIZE + 10)
    ]

    outcomes = gateway.apply(link.calendar_id, actions)

    assert [o.action for o in outcomes] == actions and all(o.error is None for o in outcomes)
    assert sorted(gateway.sizes, reverse=True) == [BATCH_SIZE] * 5 + [10]
    assert gateway.first_alone  # it refreshes the access token for the others
    assert 2 <= gateway.peak <= BATCH_CONCURRENCY
    assert len(gateway.https) >= 2  # httplib2 connections are not shared between threads


def test_a_channel_owner_is_read_once_per_instance_until_the_channel_changes(
    counted: tuple[Sync, FirestoreOps],
) -> None:
    sync, ops = counted
    link = sync.active_link()
    assert link.channel
    index = sync.services.channel_index
    ops.reset()
    assert index.channel_owner(link.channel.id) == ("demo", link.id)
    assert index.channel_owner(link.channel.id) == ("demo", link.id)
    assert ops.snapshot()["reads"] == {"channels/{}": 1}
    sync.services.linking.disable("demo", "pautrave", link.id)  # stops the channel
    assert index.channel_owner(link.channel.id) is None


def test_a_pull_pushing_back_reads_its_link_once(counted: tuple[Sync, FirestoreOps]) -> None:
    sync, ops = counted
    link = sync.active_link()
    assert link.calendar_id
    sync.services.pull.pull("demo", link.id)  # the first pull takes the calendar's baseline
    sync.as_user("pau@gmail.com").events().insert(
        calendarId=link.calendar_id,
        body={
            "summary": "Made in Google",
            "start": {"dateTime": at(5).isoformat()},
            "end": {"dateTime": at(6).isoformat()},
        },
    ).execute()
    before = sync.calendar_calls()
    ops.reset()
    report = sync.services.pull.pull("demo", link.id)
    assert (report.applied, report.pushed_back) == (1, 1)  # a new appointment; its event marked as ours
    assert sync.calendar_calls() - before == 1
    assert ops.snapshot()["reads"]["clinics/{}/syncLinks/{}"] == 1  # the push-back reuses the pull's link


def test_a_full_sync_reads_a_pages_event_links_together(counted: tuple[Sync, FirestoreOps]) -> None:
    sync, ops = counted
    link = sync.active_link()
    assert link.calendar_id
    for index in range(2):  # pushed by the clinic: their events carry their appointment id
        sync.appointment(f"a{index}", start=at(index), end=at(index + 0.5))
    sync.run_tasks()
    google = sync.as_user("pau@gmail.com")
    for index in range(60):  # made in Google: they carry nothing
        body = {
            "summary": f"Made in Google {index}",
            "start": {"dateTime": at(10 + index).isoformat()},
            "end": {"dateTime": at(10.5 + index).isoformat()},
        }
        google.events().insert(calendarId=link.calendar_id, body=body).execute()
    current = sync.services.links.get("demo", link.id)
    assert current is not None
    sync.services.status.save_pull(current, None, datetime.now(UTC), 0)  # the token lost: a full sync
    ops.reset()
    report = sync.services.pull.pull("demo", link.id)
    assert report.events == 62 and not report.continued
    reads = ops.snapshot()["reads"]
    # The two recorded event links in one batch get; the 60 others looked up by event id, 30 to a query
    # (a query that finds nothing is billed one read); never one event link at a time. After the last
    # page, the series of the calendar are read from the event links of instances only: none here, one read.
    assert reads["clinics/{}/calendars/{}/eventLinks/{}"] == 2
    assert reads["query clinics/{}/calendars/{}/eventLinks"] == 2 + 1
    assert reads["clinics/{}/appointments/{}"] == 62  # what the pull planner reads, one per event...
    # ...in one batch get with the page's, not one round trip each: the link, the event links, the
    # appointments, the centre.
    assert ops.snapshot()["rpcs"]["BatchGetDocuments"] == 4


def test_the_first_pull_of_a_day_reads_its_series_again_without_reading_their_appointments(
    counted: tuple[Sync, FirestoreOps],
) -> None:
    """Every series brought in is read again on a link's first pull of a day: its instances, and what we
    recorded of them. An instance the series still has needs no look at its appointment."""
    sync, ops = counted
    link = sync.active_link()
    assert link.calendar_id
    sync.services.pull.pull("demo", link.id)  # the baseline
    body = {
        "summary": "Pilates",
        "start": {"dateTime": at(3).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": at(4).isoformat(), "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
    }
    sync.as_user("pau@gmail.com").events().insert(calendarId=link.calendar_id, body=body).execute()
    assert sync.services.pull.pull("demo", link.id).applied == 5
    current = sync.services.links.get("demo", link.id)
    assert current is not None and current.sync_token
    yesterday = datetime.now(UTC) - timedelta(days=1)
    sync.services.status.save_pull(current, current.sync_token, yesterday, 0)
    before = sync.requests_count()
    ops.reset()
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 0
    after = sync.requests_count()
    calls = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    reads = ops.snapshot()["reads"]
    assert reads.get("clinics/{}/appointments/{}", 0) == 0
    # One query brings every series of the calendar with its records, billed one read per record.
    assert reads["query clinics/{}/calendars/{}/eventLinks"] == 5
    assert ops.snapshot()["rpcs"]["RunQuery"] == 1
    # The listing since the sync token, what entered the horizon since yesterday, the series' instances.
    assert {k: v for k, v in calls.items() if k.startswith("calendar.")} == {
        "calendar.events.list": 2,
        "calendar.events.instances": 1,
    }


def test_a_full_sync_reads_each_series_once_after_its_last_page(sync: Sync) -> None:
    """A full sync's pages list every instance of its window: the series are read again once, at the end,
    not once per page they span and again at the end (pages of 50 events here)."""
    link = sync.active_link()
    assert link.calendar_id
    google = sync.as_user("pau@gmail.com")
    for index, name in enumerate(["Pilates", "Yoga", "Guardia"]):  # 60 instances: two pages of 50
        body = {
            "summary": name,
            "start": {"dateTime": at(index).isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": at(index + 0.5).isoformat(), "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=20"],
        }
        google.events().insert(calendarId=link.calendar_id, body=body).execute()
    sync.services.pull.pull("demo", link.id)  # the baseline: the 60 instances are brought in
    current = sync.services.links.get("demo", link.id)
    assert current is not None
    sync.services.status.save_pull(current, None, datetime.now(UTC), 0)  # the token lost: a full sync
    before = sync.requests_count()
    report = sync.services.pull.pull("demo", link.id)
    assert report.events >= 60 and not report.continued
    after = sync.requests_count()
    assert after["calendar.events.list"] - before["calendar.events.list"] == 2  # two pages
    assert after["calendar.events.instances"] - before.get("calendar.events.instances", 0) == 3
