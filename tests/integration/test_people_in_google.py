"""What people do in their own Google Calendar, against the sync (Firestore emulator and the fake Google).

What they typed in Google stays there (our writes patch only the fields we own), their guests hear of the
clinic's changes, and a calendar they deleted or hid, or an administrator's block, shows on the link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from shared.domain.event_link import event_id
from tests.integration.conftest import Sync

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EMAIL = "pau@gmail.com"
GUEST = "invitada@example.com"


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def two_way_link(sync: Sync) -> Any:
    link = sync.active_link()
    sync.services.pull.pull("demo", link.id)  # the baseline
    return link


def mails(sync: Sync) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = requests.get(f"{sync.google.url}/_fake/mails", timeout=10).json()["mails"]
    return answer


def google_event(sync: Sync, calendar_id: str, eid: str) -> dict[str, Any]:
    event: dict[str, Any] = sync.as_user(EMAIL).events().get(calendarId=calendar_id, eventId=eid).execute()
    return event


def pulled(sync: Sync, link_id: str, calendar_id: str) -> tuple[dict[str, Any], str]:
    body = {
        "summary": "Revisión con proveedor",
        "description": "Traer factura 123",
        "location": "Sala 2",
        "colorId": "5",
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]},
        "attendees": [{"email": GUEST}],
        "start": {"dateTime": at(26).isoformat()},
        "end": {"dateTime": at(27).isoformat()},
    }
    created: dict[str, Any] = (
        sync.as_user(EMAIL).events().insert(calendarId=calendar_id, body=body, sendUpdates="all").execute()
    )
    report = sync.services.pull.pull("demo", link_id)
    assert report.applied == 1
    [appointment_id] = [
        d.id
        for d in sync.db.collection("clinics/demo/appointments").stream()
        if ((d.to_dict() or {}).get("origin") or {}).get("eventId") == created["id"]
    ]
    return created, appointment_id


def people_typed(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": event.get("description"),
        "location": event.get("location"),
        "colorId": event.get("colorId"),
        "reminders": event.get("reminders"),
        "attendees": [a["email"] for a in event.get("attendees") or []],
        "summary": event.get("summary"),
    }


def clinic_moves(sync: Sync, appointment_id: str, start: datetime, end: datetime) -> None:
    """The clinic app reschedules an appointment (keeping the rest of its document) and the trigger fires."""
    ref = sync.db.document(f"clinics/demo/appointments/{appointment_id}")
    before = ref.get()
    ref.update({"start": start, "end": end, "syncSource": None})
    after = ref.get()
    sync.trigger(appointment_id, before.to_dict(), after.to_dict(), after.update_time)
    sync.run_tasks()


def test_what_people_typed_in_an_event_made_in_google_survives_the_clinic_s_writes(sync: Sync) -> None:
    link = two_way_link(sync)
    created, appointment_id = pulled(sync, link.id, link.calendar_id)
    sync.run_tasks()  # the push that marks the event as its appointment's
    marked = google_event(sync, link.calendar_id, created["id"])
    assert marked["extendedProperties"]["private"]["appointmentId"] == appointment_id
    assert people_typed(marked) == people_typed(created)
    invited = mails(sync)
    assert [(m["to"], m["kind"]) for m in invited] == [(GUEST, "invitation")]  # the person's own insert

    clinic_moves(sync, appointment_id, at(30), at(31))
    moved = google_event(sync, link.calendar_id, created["id"])
    assert datetime.fromisoformat(moved["start"]["dateTime"]) == at(30)
    assert people_typed(moved) == people_typed(created)
    # The echo of our patch is ours: nothing comes back, nothing is pushed again.
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 0 and report.pushed_back == 0 and report.conflicts == 0


def test_guests_of_an_event_made_in_google_hear_of_the_clinic_s_changes(sync: Sync) -> None:
    link = two_way_link(sync)
    created, appointment_id = pulled(sync, link.id, link.calendar_id)
    sync.run_tasks()
    clinic_moves(sync, appointment_id, at(30), at(31))
    update = [m for m in mails(sync) if m["kind"] == "update"]
    assert [(m["to"], m["eventId"], m["sendUpdates"]) for m in update] == [(GUEST, created["id"], "all")]

    ref = sync.db.document(f"clinics/demo/appointments/{appointment_id}")
    before = ref.get()
    ref.update({"status": "cancelled", "syncSource": None})
    after = ref.get()
    sync.trigger(appointment_id, before.to_dict(), after.to_dict(), after.update_time)
    sync.run_tasks()
    cancelled = [m for m in mails(sync) if m["kind"] == "cancellation"]
    assert [(m["to"], m["eventId"]) for m in cancelled] == [(GUEST, created["id"])]


def test_our_own_events_keep_what_people_added_and_send_no_mail(sync: Sync) -> None:
    link = two_way_link(sync)
    sync.appointment("a1", start=at(0), end=at(1), service="Fisioterapia")
    sync.run_tasks()
    eid = event_id("demo", "a1")
    added = {
        "description": "Llevar radiografías",
        "location": "Consulta 3",
        "colorId": "11",
        "attendees": [{"email": GUEST}],
    }
    sync.as_user(EMAIL).events().patch(calendarId=link.calendar_id, eventId=eid, body=added).execute()
    # What the person added is no change of the clinic's: the pull leaves it, and writes nothing back.
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 0 and report.pushed_back == 0 and report.conflicts == 0

    sync.appointment("a1", start=at(2), end=at(3), service="Fisioterapia")  # the clinic moves and retitles
    sync.run_tasks()
    event = google_event(sync, link.calendar_id, eid)
    assert datetime.fromisoformat(event["start"]["dateTime"]) == at(2)
    assert event["description"] == "Llevar radiografías" and event["location"] == "Consulta 3"
    assert event["colorId"] == "11" and [a["email"] for a in event["attendees"]] == [GUEST]
    assert mails(sync) == []  # our writes to our own events tell nobody
