"""The Calendar gateway contract: what our adapter promises the services, checked against a Google.

The same suite runs against the fake Google always, and against real Google when a grant is configured
(GOOGLE_CONTRACT_REFRESH_TOKEN, GOOGLE_CONTRACT_CLIENT_ID, GOOGLE_CONTRACT_CLIENT_SECRET): that is the one
skip this project accepts. Each run works in a calendar of its own and deletes it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from googleapiclient.errors import HttpError

from infra.local.fake_google import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, RunningServer
from shared.adapters.google_calendar import GoogleCalendarConnector, GoogleCalendarGateway
from shared.config import GoogleEndpoints, Settings
from shared.domain.clinic import Appointment, Center, Clinic
from shared.domain.event import event_content
from shared.domain.event_link import event_id
from shared.domain.planner import Delete, Insert, Patch
from shared.ports import AlreadyExists, CalendarDeleted, PreconditionFailed, RemoteMissing, SyncTokenExpired

APP_CREATED = "https://www.googleapis.com/auth/calendar.app.created"
CENTER = Center("contract", "c", "C", "Europe/Madrid")


@dataclass
class Target:
    gateway: GoogleCalendarGateway
    calendar_id: str
    fake: RunningServer | None

    def content(self, appointment_id: str, hour: int, service: str = "Cita") -> Any:
        start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2, hours=hour)
        appointment = Appointment(
            "contract", appointment_id, "p", "c", start, start + timedelta(minutes=30), service=service
        )
        return event_content(appointment, Clinic("contract"), CENTER)


def _gateway(settings: Settings, client_secret: str, refresh_token: str) -> GoogleCalendarGateway:
    return GoogleCalendarConnector(settings, client_secret).connect(refresh_token)


def _fake_gateway(fake_google: RunningServer, email: str) -> GoogleCalendarGateway:
    answer = requests.post(
        f"{fake_google.url}/_fake/token",
        json={"email": email, "clientId": LOCAL_CLIENT_ID, "scopes": [APP_CREATED], "offline": True},
        timeout=5,
    ).json()
    settings = Settings(google=GoogleEndpoints.under(fake_google.url), oauth_client_id=LOCAL_CLIENT_ID)
    return _gateway(settings, LOCAL_CLIENT_SECRET, answer["refresh_token"])


@pytest.fixture(params=["fake", "google"])
def target(request: pytest.FixtureRequest, fake_google: RunningServer) -> Iterator[Target]:
    if request.param == "fake":
        gateway = _fake_gateway(fake_google, "contract@gmail.com")
        fake: RunningServer | None = fake_google
    else:
        token = os.environ.get("GOOGLE_CONTRACT_REFRESH_TOKEN")
        if not token:
            pytest.skip("real Google: set GOOGLE_CONTRACT_REFRESH_TOKEN/_CLIENT_ID/_CLIENT_SECRET to run")
        settings = Settings(oauth_client_id=os.environ["GOOGLE_CONTRACT_CLIENT_ID"])
        gateway = _gateway(settings, os.environ["GOOGLE_CONTRACT_CLIENT_SECRET"], token)
        fake = None
    calendar_id = gateway.create_calendar(f"contract {uuid.uuid4().hex[:8]}", "Europe/Madrid")
    try:
        yield Target(gateway, calendar_id, fake)
    finally:
        gateway.calendars.delete(calendarId=calendar_id).execute()


def test_calendar_exists_until_deleted(target: Target) -> None:
    assert target.gateway.calendar_exists(target.calendar_id)
    assert not target.gateway.calendar_exists("c_" + "0" * 64 + "@group.calendar.google.com")


def test_insert_with_our_id_then_again_is_already_exists(target: Target) -> None:
    content = target.content(f"a-{uuid.uuid4().hex}", 1)
    eid = event_id("contract", content.appointment_id)
    [first] = target.gateway.apply(target.calendar_id, [Insert(eid, content)])
    assert first.error is None and first.event and first.event["id"] == eid and first.event["etag"]
    [again] = target.gateway.apply(target.calendar_id, [Insert(eid, content)])
    assert isinstance(again.error, AlreadyExists)


def test_stale_etag_is_precondition_failed_and_delete_twice_is_missing(target: Target) -> None:
    content = target.content(f"a-{uuid.uuid4().hex}", 2)
    eid = event_id("contract", content.appointment_id)
    [inserted] = target.gateway.apply(target.calendar_id, [Insert(eid, content)])
    assert inserted.event
    etag = inserted.event["etag"]
    [patched] = target.gateway.apply(
        target.calendar_id, [Patch(eid, target.content(content.appointment_id, 3), etag)]
    )
    assert patched.error is None and patched.event and patched.event["etag"] != etag
    [stale] = target.gateway.apply(target.calendar_id, [Patch(eid, content, etag)])
    assert isinstance(stale.error, PreconditionFailed)
    [deleted] = target.gateway.apply(target.calendar_id, [Delete(eid, None)])
    assert deleted.error is None
    [twice] = target.gateway.apply(target.calendar_id, [Delete(eid, None)])
    assert isinstance(twice.error, RemoteMissing)
    # A cancelled event keeps its id: inserting it again is a conflict; a patch restores it.
    [reinsert] = target.gateway.apply(target.calendar_id, [Insert(eid, content)])
    assert isinstance(reinsert.error, AlreadyExists)
    [restored] = target.gateway.apply(target.calendar_id, [Patch(eid, content, None)])
    assert restored.event and restored.event["status"] == "confirmed"


def test_batches_carry_out_each_action_and_report_each_error(target: Target) -> None:
    contents = [target.content(f"b-{uuid.uuid4().hex}", n) for n in range(60)]
    actions = [Insert(event_id("contract", c.appointment_id), c) for c in contents]
    outcomes = target.gateway.apply(target.calendar_id, actions)
    assert [o.error for o in outcomes] == [None] * 60
    again = target.gateway.apply(target.calendar_id, actions[:3])
    assert all(isinstance(o.error, AlreadyExists) for o in again)


def test_incremental_list_returns_only_changes_and_deletions(target: Target) -> None:
    first = target.content(f"l-{uuid.uuid4().hex}", 4)
    target.gateway.apply(target.calendar_id, [Insert(event_id("contract", first.appointment_id), first)])
    page = target.gateway.list_events(target.calendar_id, sync_token=None, time_min=None, page_token=None)
    while page.next_page_token:
        page = target.gateway.list_events(
            target.calendar_id, sync_token=None, time_min=None, page_token=page.next_page_token
        )
    token = page.next_sync_token
    assert token
    second = target.content(f"l-{uuid.uuid4().hex}", 5)
    target.gateway.apply(
        target.calendar_id,
        [
            Insert(event_id("contract", second.appointment_id), second),
            Delete(event_id("contract", first.appointment_id), None),
        ],
    )
    changes = target.gateway.list_events(target.calendar_id, sync_token=token, time_min=None, page_token=None)
    by_id = {e["id"]: e.get("status") for e in changes.items}
    assert by_id == {
        event_id("contract", second.appointment_id): "confirmed",
        event_id("contract", first.appointment_id): "cancelled",
    }
    if target.fake is not None:  # only the fake can invalidate sync tokens on demand
        requests.post(f"{target.fake.url}/_fake/sync-tokens/invalidate", json={}, timeout=5)
        with pytest.raises(SyncTokenExpired):
            target.gateway.list_events(
                target.calendar_id, sync_token=changes.next_sync_token, time_min=None, page_token=None
            )


def test_watch_and_stop(target: Target) -> None:
    channel_id = str(uuid.uuid4())
    address = os.environ.get("GOOGLE_CONTRACT_WEBHOOK", "https://127.0.0.1:9/calendar_webhook")
    channel = target.gateway.watch(target.calendar_id, channel_id, "t" * 64, address, 3600)
    assert channel.id == channel_id and channel.resource_id
    assert channel.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    target.gateway.stop_channel(channel.id, channel.resource_id)
    target.gateway.stop_channel(channel.id, channel.resource_id)  # stopping twice is harmless


# What users do in Google Calendar, which the sync meets: recurring events, all-day events, the list entry.


def _madrid_morning(days: int) -> datetime:
    local = datetime.now(ZoneInfo("Europe/Madrid")) + timedelta(days=days)
    return local.replace(hour=9, minute=0, second=0, microsecond=0)


def _timed(moment: datetime, minutes: int = 0) -> dict[str, str]:
    return {"dateTime": (moment + timedelta(minutes=minutes)).isoformat(), "timeZone": "Europe/Madrid"}


def test_a_series_expands_into_instances_whose_changes_are_exceptions(target: Target) -> None:
    events = target.gateway.events
    start = _madrid_morning(3)
    props = {"private": {"appointmentId": f"r-{uuid.uuid4().hex}"}}
    series = events.insert(
        calendarId=target.calendar_id,
        body={
            "summary": "Serie",
            "start": _timed(start),
            "end": _timed(start, 30),
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
            "extendedProperties": props,
        },
    ).execute()
    found = events.instances(calendarId=target.calendar_id, eventId=series["id"]).execute()["items"]
    stamps = [(start + timedelta(days=n)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") for n in range(3)]
    assert [item["id"] for item in found] == [f"{series['id']}_{stamp}" for stamp in stamps]
    assert {item["recurringEventId"] for item in found} == {series["id"]}
    assert datetime.fromisoformat(found[1]["originalStartTime"]["dateTime"]) == start + timedelta(days=1)
    assert found[1]["extendedProperties"]["private"] == props["private"]

    page = target.gateway.list_events(target.calendar_id, sync_token=None, time_min=None, page_token=None)
    while page.next_page_token:
        page = target.gateway.list_events(
            target.calendar_id, sync_token=None, time_min=None, page_token=page.next_page_token
        )
    assert page.next_sync_token
    changed = events.patch(calendarId=target.calendar_id, eventId=found[1]["id"], body={"summary": "Movida"})
    exception = changed.execute()
    assert exception["recurringEventId"] == series["id"] and exception["originalStartTime"]
    assert exception["extendedProperties"]["private"] == props["private"]
    events.delete(calendarId=target.calendar_id, eventId=found[2]["id"]).execute()

    changes = target.gateway.list_events(
        target.calendar_id, sync_token=page.next_sync_token, time_min=None, page_token=None
    )
    by_id = {item["id"]: item for item in changes.items}
    assert by_id[found[1]["id"]]["summary"] == "Movida"
    assert by_id[found[2]["id"]]["status"] == "cancelled"
    assert by_id[found[2]["id"]]["recurringEventId"] == series["id"]

    single = events.list(calendarId=target.calendar_id, singleEvents=True, orderBy="startTime").execute()
    mine = [item for item in single["items"] if item.get("recurringEventId") == series["id"]]
    assert [item["summary"] for item in mine] == ["Serie", "Movida"]
    with pytest.raises(HttpError) as unordered:
        events.list(calendarId=target.calendar_id, orderBy="startTime").execute()
    assert unordered.value.resp.status == 400
    # Google allows singleEvents beside a sync token (the other filters it refuses).
    expanded = events.list(calendarId=target.calendar_id, singleEvents=True).execute()
    incremental = events.list(
        calendarId=target.calendar_id, syncToken=expanded["nextSyncToken"], singleEvents=True
    )
    assert incremental.execute()["items"] == []


def test_list_instances_reads_a_series_window_and_a_deleted_series_is_missing(target: Target) -> None:
    events = target.gateway.events
    start = _madrid_morning(3)
    body = {"summary": "Serie", "start": _timed(start), "end": _timed(start, 30)}
    series = events.insert(
        calendarId=target.calendar_id, body={**body, "recurrence": ["RRULE:FREQ=DAILY;COUNT=4"]}
    ).execute()
    window = target.gateway.list_instances(
        target.calendar_id, series["id"], start + timedelta(days=1), start + timedelta(days=3)
    )
    assert [datetime.fromisoformat(i["start"]["dateTime"]) for i in window] == [
        start + timedelta(days=1),
        start + timedelta(days=2),
    ]
    assert {i["recurringEventId"] for i in window} == {series["id"]}
    events.delete(calendarId=target.calendar_id, eventId=series["id"]).execute()
    with pytest.raises(RemoteMissing):
        target.gateway.list_instances(target.calendar_id, series["id"], start, start + timedelta(days=5))


def test_a_timed_series_without_a_time_zone_is_refused(target: Target) -> None:
    start = _madrid_morning(4)
    with pytest.raises(HttpError) as refused:
        target.gateway.events.insert(
            calendarId=target.calendar_id,
            body={
                "summary": "Serie",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
                "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
            },
        ).execute()
    assert refused.value.resp.status == 400


def test_an_all_day_event_ends_on_a_later_date_and_can_be_free(target: Target) -> None:
    events = target.gateway.events
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    created = events.insert(
        calendarId=target.calendar_id,
        body={
            "summary": "Vacaciones",
            "start": {"date": day.isoformat()},
            "end": {"date": (day + timedelta(days=1)).isoformat()},
            "transparency": "transparent",
        },
    ).execute()
    assert created["start"] == {"date": day.isoformat()} and created["transparency"] == "transparent"
    with pytest.raises(HttpError) as empty:
        events.insert(
            calendarId=target.calendar_id,
            body={"summary": "Nada", "start": {"date": day.isoformat()}, "end": {"date": day.isoformat()}},
        ).execute()
    assert empty.value.resp.status == 400


def test_our_calendar_list_entry_can_be_read_and_shown_again(target: Target) -> None:
    entries = target.gateway.calendar_list
    entry = entries.get(calendarId=target.calendar_id).execute()
    assert entry["id"] == target.calendar_id and entry["accessRole"] == "owner"
    hidden = entries.patch(calendarId=target.calendar_id, body={"hidden": True}).execute()
    assert hidden["hidden"] is True
    shown = entries.patch(calendarId=target.calendar_id, body={"hidden": False, "selected": True}).execute()
    assert not shown.get("hidden") and shown["selected"] is True


def test_the_gateways_of_two_accounts_each_call_as_their_own(fake_google: RunningServer) -> None:
    """The Calendar resources are built once per process and shared: each gateway's calls, alone or in a
    batch, still carry its own account."""
    ana, bea = _fake_gateway(fake_google, "ana@gmail.com"), _fake_gateway(fake_google, "bea@gmail.com")
    hers = ana.create_calendar("ana", "Europe/Madrid")
    assert ana.calendar_exists(hers) and not bea.calendar_exists(hers)
    theirs = Target(bea, bea.create_calendar("bea", "Europe/Madrid"), fake_google)
    batch = [Insert(event_id("contract", f"b{i}"), theirs.content(f"b{i}", i)) for i in range(3)]
    assert [o.error for o in bea.apply(theirs.calendar_id, batch)] == [None, None, None]
    refused = ana.apply(
        theirs.calendar_id,
        [Insert(event_id("contract", f"a{i}"), theirs.content(f"a{i}", i)) for i in range(2)],
    )
    assert all(isinstance(o.error, CalendarDeleted) for o in refused), refused  # not one ana can see
    listed = bea.list_events(theirs.calendar_id, sync_token=None, time_min=None, page_token=None)
    assert sorted(e["id"] for e in listed.items) == sorted(a.event_id for a in batch)
