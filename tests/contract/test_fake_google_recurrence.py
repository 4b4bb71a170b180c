"""Recurring events in the fake Google, as Google documents them, through google-api-python-client.

A weekly series in Europe/Madrid from Monday 2 March 2026 09:00, five times: the last instance (30 March)
falls after the switch to summer time, so its UTC id and offset differ from the others.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError

from infra.local.fake_google import RunningServer

from .google_client import END, START, Receiver, event, list_all, reason

WEEKLY = ["RRULE:FREQ=WEEKLY;COUNT=5"]
PROPS = {"private": {"appointmentId": "a-1"}}
IDS = [f"series001_202603{day}T080000Z" for day in ("02", "09", "16", "23")] + ["series001_20260330T070000Z"]


def series(**fields: Any) -> dict[str, Any]:
    return event(id="series001", recurrence=WEEKLY, extendedProperties=PROPS, **fields)


def instances(service: Resource, calendar_id: str, event_id: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page_token = None
    while True:
        page = (
            service.events()
            .instances(calendarId=calendar_id, eventId=event_id, pageToken=page_token, **params)
            .execute()
        )
        items += page["items"]
        page_token = page.get("nextPageToken")
        if not page_token:
            assert "nextSyncToken" not in page
            return items


@pytest.fixture
def weekly(service: Resource, calendar_id: str) -> dict[str, Any]:
    created: dict[str, Any] = service.events().insert(calendarId=calendar_id, body=series()).execute()
    return created


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (event(recurrence=WEEKLY, start={"dateTime": "2026-03-02T09:00:00+01:00"}), "required"),
        (event(recurrence=WEEKLY, end={"dateTime": "2026-03-02T09:30:00+01:00"}), "required"),
        (event(recurrence=["RRULE:FREQ=SOMETIMES"]), "invalid"),
        (event(recurrence=["DTSTART:20260302T090000Z", *WEEKLY]), "invalid"),
        (event(recurrence=["EXDATE:20260309T080000Z"]), "invalid"),
        (event(recurrence=["not a rule"]), "invalid"),
    ],
)
def test_a_bad_recurrence_or_a_timed_series_without_time_zone_is_400(
    service: Resource, calendar_id: str, body: dict[str, Any], why: str
) -> None:
    with pytest.raises(HttpError) as refused:
        service.events().insert(calendarId=calendar_id, body=body).execute()
    assert refused.value.resp.status == 400 and reason(refused.value) == why


def test_instances_carry_google_ids_the_series_and_their_original_start(
    service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    assert weekly["recurrence"] == WEEKLY and weekly["start"] == START
    found = instances(service, calendar_id, "series001", maxResults=2)
    assert [item["id"] for item in found] == IDS
    first, last = found[0], found[-1]
    assert first["recurringEventId"] == "series001" and first["originalStartTime"] == START
    assert first["start"] == START and first["end"] == END
    assert first["summary"] == "Cita" and first["extendedProperties"] == PROPS
    assert "recurrence" not in first
    assert last["start"] == {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Europe/Madrid"}
    assert last["originalStartTime"] == last["start"]

    window = instances(
        service, calendar_id, "series001", timeMin="2026-03-09T08:15:00Z", timeMax="2026-03-23T08:00:00Z"
    )
    assert [item["id"] for item in window] == IDS[1:3]
    got = service.events().get(calendarId=calendar_id, eventId=IDS[2]).execute()
    assert got["recurringEventId"] == "series001" and got["start"]["dateTime"] == "2026-03-16T09:00:00+01:00"
    for missing in ("series001_20260303T080000Z", "series001_20260406T070000Z", "nosuch001_20260302T080000Z"):
        with pytest.raises(HttpError) as unknown:
            service.events().get(calendarId=calendar_id, eventId=missing).execute()
        assert unknown.value.resp.status == 404


def test_exdate_and_rdate_shape_the_instances_and_all_day_ids_are_dates(
    service: Resource, calendar_id: str
) -> None:
    service.events().insert(
        calendarId=calendar_id,
        body=event(
            id="shaped001",
            recurrence=[*WEEKLY, "EXDATE;TZID=Europe/Madrid:20260309T090000", "RDATE:20260311T090000Z"],
        ),
    ).execute()
    assert [item["start"]["dateTime"] for item in instances(service, calendar_id, "shaped001")] == [
        "2026-03-02T09:00:00+01:00",
        "2026-03-11T10:00:00+01:00",
        "2026-03-16T09:00:00+01:00",
        "2026-03-23T09:00:00+01:00",
        "2026-03-30T09:00:00+02:00",
    ]
    service.events().insert(
        calendarId=calendar_id,
        body=event(
            id="dates0001",
            start={"date": "2026-03-02"},
            end={"date": "2026-03-03"},
            recurrence=["RRULE:FREQ=DAILY;UNTIL=20260304"],
        ),
    ).execute()
    days = instances(service, calendar_id, "dates0001")
    assert [item["id"] for item in days] == ["dates0001_20260302", "dates0001_20260303", "dates0001_20260304"]
    assert days[1]["originalStartTime"] == {"date": "2026-03-03"} and days[1]["end"] == {"date": "2026-03-04"}


def test_an_exrule_removes_its_occurrences_even_from_an_endless_series(
    service: Resource, calendar_id: str
) -> None:
    service.events().insert(
        calendarId=calendar_id,
        body=event(id="odd000001", recurrence=["RRULE:FREQ=DAILY;COUNT=6", "EXRULE:FREQ=DAILY;INTERVAL=2"]),
    ).execute()
    days = [item["start"]["dateTime"][:10] for item in instances(service, calendar_id, "odd000001")]
    assert days == ["2026-03-03", "2026-03-05", "2026-03-07"]
    service.events().insert(
        calendarId=calendar_id,
        body=event(id="none00001", recurrence=["RRULE:FREQ=DAILY", "EXRULE:FREQ=DAILY"]),
    ).execute()
    assert instances(service, calendar_id, "none00001") == []


def test_single_events_expands_series_and_orders_by_start_only_then(
    service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    service.events().insert(
        calendarId=calendar_id,
        body=event(
            id="single001",
            start={"dateTime": "2026-03-10T12:00:00Z"},
            end={"dateTime": "2026-03-10T13:00:00Z"},
        ),
    ).execute()

    def ids(**params: Any) -> list[str]:
        return [item["id"] for item in list_all(service, calendar_id, **params)[0]]

    assert ids() == ["series001", "single001"]
    assert ids(singleEvents=True, orderBy="startTime") == [IDS[0], IDS[1], "single001", *IDS[2:]]
    assert ids(singleEvents=True, timeMin="2026-03-20T00:00:00Z") == IDS[3:]
    assert ids(timeMin="2026-03-20T00:00:00Z") == ["series001"]  # a series matches through an instance
    assert ids(timeMin="2026-04-01T00:00:00Z") == []
    with pytest.raises(HttpError) as ordering:
        service.events().list(calendarId=calendar_id, orderBy="startTime").execute()
    assert ordering.value.resp.status == 400


def test_changing_an_instance_makes_an_exception_that_inherits_the_series(
    service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    changed = (
        service.events()
        .patch(
            calendarId=calendar_id,
            eventId=IDS[1],
            body={
                "summary": "Revisión",
                "start": {"dateTime": "2026-03-09T11:00:00+01:00", "timeZone": "Europe/Madrid"},
                "end": {"dateTime": "2026-03-09T11:30:00+01:00", "timeZone": "Europe/Madrid"},
            },
        )
        .execute()
    )
    assert changed["id"] == IDS[1] and changed["recurringEventId"] == "series001"
    assert changed["originalStartTime"] == {
        "dateTime": "2026-03-09T09:00:00+01:00",
        "timeZone": "Europe/Madrid",
    }
    assert changed["extendedProperties"] == PROPS and changed["summary"] == "Revisión"
    assert "recurrence" not in changed
    assert service.events().get(calendarId=calendar_id, eventId=IDS[1]).execute()["summary"] == "Revisión"

    expanded = list_all(service, calendar_id, singleEvents=True, orderBy="startTime")[0]
    assert [item["id"] for item in expanded] == IDS
    assert expanded[1]["summary"] == "Revisión" and expanded[1]["start"]["dateTime"].startswith(
        "2026-03-09T11"
    )
    assert [item["id"] for item in list_all(service, calendar_id)[0]] == ["series001", IDS[1]]
    assert instances(service, calendar_id, "series001")[1]["summary"] == "Revisión"

    # An exception takes no recurrence of its own.
    with pytest.raises(HttpError) as refused:
        service.events().patch(calendarId=calendar_id, eventId=IDS[1], body={"recurrence": WEEKLY}).execute()
    assert refused.value.resp.status == 400


def test_deleting_an_instance_leaves_a_cancelled_exception(
    service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    _, sync_token = list_all(service, calendar_id)
    service.events().delete(calendarId=calendar_id, eventId=IDS[2]).execute()
    with pytest.raises(HttpError) as twice:
        service.events().delete(calendarId=calendar_id, eventId=IDS[2]).execute()
    assert twice.value.resp.status == 410

    def listed(**params: Any) -> dict[str, str]:
        return {item["id"]: item["status"] for item in list_all(service, calendar_id, **params)[0]}

    # As the showDeleted reference says: without singleEvents the cancelled instance comes anyway.
    assert listed() == {"series001": "confirmed", IDS[2]: "cancelled"}
    assert IDS[2] not in listed(singleEvents=True)
    assert listed(singleEvents=True, showDeleted=True)[IDS[2]] == "cancelled"
    assert IDS[2] not in [item["id"] for item in instances(service, calendar_id, "series001")]
    assert IDS[2] in [item["id"] for item in instances(service, calendar_id, "series001", showDeleted=True)]

    [change] = list_all(service, calendar_id, syncToken=sync_token)[0]
    assert change["id"] == IDS[2] and change["status"] == "cancelled"
    assert change["recurringEventId"] == "series001"
    assert change["originalStartTime"] == {
        "dateTime": "2026-03-16T09:00:00+01:00",
        "timeZone": "Europe/Madrid",
    }


def test_incremental_sync_with_single_events_reports_the_affected_instances(
    fake_google: RunningServer, service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    _, token = list_all(service, calendar_id, singleEvents=True, orderBy="startTime")
    service.events().patch(calendarId=calendar_id, eventId=IDS[3], body={"summary": "Una"}).execute()
    changes, token = list_all(service, calendar_id, syncToken=token, singleEvents=True)
    assert [(item["id"], item["summary"]) for item in changes] == [(IDS[3], "Una")]

    service.events().patch(calendarId=calendar_id, eventId="series001", body={"location": "Sala 2"}).execute()
    changes, token = list_all(service, calendar_id, syncToken=token, singleEvents=True)
    assert [item["id"] for item in changes] == [IDS[0], IDS[1], IDS[2], IDS[4]]
    assert {item["location"] for item in changes} == {"Sala 2"}
    changes, _ = list_all(service, calendar_id, syncToken=token)
    assert changes == []

    for refused in (
        {"orderBy": "startTime"},
        {"timeMin": "2026-03-01T00:00:00Z"},
        {"timeMax": "2026-04-01T00:00:00Z"},
    ):
        with pytest.raises(HttpError) as mixed:
            service.events().list(
                calendarId=calendar_id, syncToken=token, singleEvents=True, **refused
            ).execute()
        assert mixed.value.resp.status == 400
    requests.post(f"{fake_google.url}/_fake/sync-tokens/invalidate", json={}, timeout=5)
    with pytest.raises(HttpError) as gone:
        service.events().list(calendarId=calendar_id, syncToken=token, singleEvents=True).execute()
    assert gone.value.resp.status == 410 and reason(gone.value) == "fullSyncRequired"


def test_deleting_a_series_deletes_its_instances(
    service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    service.events().patch(calendarId=calendar_id, eventId=IDS[1], body={"summary": "x"}).execute()
    _, token = list_all(service, calendar_id, singleEvents=True)
    service.events().delete(calendarId=calendar_id, eventId="series001").execute()
    assert list_all(service, calendar_id, singleEvents=True)[0] == []
    assert list_all(service, calendar_id)[0] == []  # no cancelled exception of a deleted series either
    changes, _ = list_all(service, calendar_id, syncToken=token, singleEvents=True)
    assert sorted(item["id"] for item in changes) == sorted(IDS)
    assert {item["status"] for item in changes} == {"cancelled"}
    with pytest.raises(HttpError) as gone:
        service.events().instances(calendarId=calendar_id, eventId="series001").execute()
    assert gone.value.resp.status == 410


def test_this_and_following_ends_the_series_and_starts_a_new_one(
    fake_google: RunningServer, service: Resource, calendar_id: str, weekly: dict[str, Any]
) -> None:
    service.events().patch(calendarId=calendar_id, eventId=IDS[3], body={"summary": "later"}).execute()
    _, token = list_all(service, calendar_id)
    answer = requests.post(
        f"{fake_google.url}/_fake/calendars/{calendar_id}/events/{IDS[2]}/split",
        json={"changes": {"summary": "Nueva serie"}},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    following_id = answer.json()["following"]["id"]

    changes = {item["id"]: item for item in list_all(service, calendar_id, syncToken=token)[0]}
    assert set(changes) == {"series001", following_id, IDS[3]}
    assert changes["series001"]["recurrence"] == ["RRULE:FREQ=WEEKLY;UNTIL=20260316T075959Z"]
    assert changes[IDS[3]]["status"] == "cancelled"
    following = changes[following_id]
    assert following_id != "series001" and following["summary"] == "Nueva serie"
    assert following["start"] == {"dateTime": "2026-03-16T09:00:00+01:00", "timeZone": "Europe/Madrid"}
    assert following["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=3"]
    assert following["extendedProperties"] == PROPS

    expanded = list_all(service, calendar_id, singleEvents=True, orderBy="startTime")[0]
    assert [(item["recurringEventId"], item["summary"]) for item in expanded] == [
        ("series001", "Cita"),
        ("series001", "Cita"),
        (following_id, "Nueva serie"),
        (following_id, "Nueva serie"),
        (following_id, "Nueva serie"),
    ]
    assert expanded[2]["id"] == f"{following_id}_20260316T080000Z"


def test_changes_to_instances_notify_watch_channels(
    fake_google: RunningServer,
    service: Resource,
    calendar_id: str,
    weekly: dict[str, Any],
    receiver: Receiver,
) -> None:
    service.events().watch(
        calendarId=calendar_id, body={"id": "chan-series", "type": "web_hook", "address": receiver.url}
    ).execute()
    assert receiver.take()["X-Goog-Resource-State"] == "sync"
    service.events().patch(calendarId=calendar_id, eventId=IDS[0], body={"summary": "x"}).execute()
    service.events().delete(calendarId=calendar_id, eventId=IDS[1]).execute()
    requests.post(
        f"{fake_google.url}/_fake/calendars/{calendar_id}/events/{IDS[3]}/split", json={}, timeout=5
    )
    states = [receiver.take()["X-Goog-Resource-State"] for _ in range(4)]
    assert states == ["exists"] * 4  # patch, delete, and the split's two changes
    assert fake_google.wait_for_notifications()
    assert receiver.received.empty()


def test_this_and_following_on_an_all_day_series_ends_it_the_day_before(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    service.events().insert(
        calendarId=calendar_id,
        body=event(
            id="dates0002",
            start={"date": "2026-03-02"},
            end={"date": "2026-03-03"},
            recurrence=["RRULE:FREQ=DAILY"],
        ),
    ).execute()
    answer = requests.post(
        f"{fake_google.url}/_fake/calendars/{calendar_id}/events/dates0002_20260305/split", json={}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    following = answer.json()["following"]
    assert following["start"] == {"date": "2026-03-05"} and following["recurrence"] == ["RRULE:FREQ=DAILY"]
    original = service.events().get(calendarId=calendar_id, eventId="dates0002").execute()
    assert original["recurrence"] == ["RRULE:FREQ=DAILY;UNTIL=20260304"]
    assert [item["id"] for item in instances(service, calendar_id, "dates0002")] == [
        "dates0002_20260302",
        "dates0002_20260303",
        "dates0002_20260304",
    ]
    missing = requests.post(
        f"{fake_google.url}/_fake/calendars/{calendar_id}/events/dates0002_20260401/split", json={}, timeout=5
    )
    assert missing.status_code == 404  # the series now ends on 4 March
