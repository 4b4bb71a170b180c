"""What people do in their own Google Calendar, against the sync (Firestore emulator and the fake Google).

What they typed in Google stays there (our writes patch only the fields we own), their guests hear of the
clinic's changes, and a calendar they deleted or hid, or an administrator's block, shows on the link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from functions.views import link_view
from shared.domain.event_link import event_id
from shared.ports import CalendarDeleted, RemoteMissing
from shared.services.access import Need, Skipped
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


# --- a calendar deleted by its user ------------------------------------------------------------------
def delete_calendar(sync: Sync, calendar_id: str) -> None:
    requests.delete(f"{sync.google.url}/_fake/calendars/{calendar_id}", timeout=10).raise_for_status()


def link_doc(sync: Sync, link_id: str) -> dict[str, Any]:
    stored = sync.doc(f"clinics/demo/syncLinks/{link_id}")
    assert stored is not None
    return stored


def told(sync: Sync, link_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Who was told in the app that the link needs reconnecting, and the e-mails sent about it."""
    notes = [n.to_dict() or {} for n in sync.db.collection("clinics/demo/notifications").stream()]
    in_app = sorted(
        n["userId"] for n in notes if n["type"] == "link_needs_reconnect" and n["linkId"] == link_id
    )
    sent = [m.to_dict() or {} for m in sync.db.collection("mail").stream()]
    # Every other e-mail of these tests is the master's request to approve the link.
    return in_app, [m for m in sent if not m["message"]["subject"].startswith("Autorización pendiente")]


def test_a_deleted_calendar_is_found_by_the_push_and_told_once(sync: Sync) -> None:
    link = two_way_link(sync)
    sync.appointment("a1", start=at(0), end=at(1), service="Fisioterapia")
    sync.run_tasks()
    delete_calendar(sync, link.calendar_id)
    sync.appointment("a1", start=at(2), end=at(3), service="Fisioterapia")
    sync.run_tasks()  # answers, never raises: nothing is retried
    stored = link_doc(sync, link.id)
    assert stored["status"] == "needs_reconnect" and stored["reason"] == "calendar_deleted"
    assert stored["lastError"]["code"] == "calendar_deleted"
    in_app, sent = told(sync, link.id)
    assert in_app == ["admin", "pautrave"]
    assert [m["message"]["subject"] for m in sent] == [
        "Se ha eliminado el calendario de Google sincronizado"
    ] * 2
    assert "se creará un calendario nuevo" in sent[0]["message"]["text"]
    # Later work finds the link so and does nothing: no task is queued again, nobody is told twice.
    sync.appointment("a1", start=at(4), end=at(5), service="Fisioterapia")
    sync.run_tasks()
    assert sync.services.pull.pull("demo", link.id).skipped
    assert told(sync, link.id)[0] == ["admin", "pautrave"]


def test_a_deleted_calendar_is_found_by_the_pull(sync: Sync) -> None:
    link = two_way_link(sync)
    delete_calendar(sync, link.calendar_id)
    report = sync.services.pull.pull("demo", link.id)
    assert report.skipped == "google access lost"
    assert link_doc(sync, link.id)["reason"] == "calendar_deleted"


def test_one_missing_event_is_not_a_deleted_calendar(sync: Sync) -> None:
    link = two_way_link(sync)
    gateway = sync.services.access.open("demo", link.id, Need.ACTIVE)
    assert not isinstance(gateway, Skipped)
    with pytest.raises(RemoteMissing) as missing:
        gateway.gateway.get_event(link.calendar_id, "nosuchevent00")
    assert not isinstance(missing.value, CalendarDeleted)
    now = datetime.now(UTC)
    with pytest.raises(RemoteMissing) as missing:  # a series gone is no deleted calendar either
        gateway.gateway.list_instances(link.calendar_id, "nosuchseries00", now, now + timedelta(days=1))
    assert not isinstance(missing.value, CalendarDeleted)
    delete_calendar(sync, link.calendar_id)
    with pytest.raises(CalendarDeleted):
        gateway.gateway.get_event(link.calendar_id, "nosuchevent00")
    with pytest.raises(CalendarDeleted):
        gateway.gateway.list_instances(link.calendar_id, "nosuchseries00", now, now + timedelta(days=1))
    assert link_doc(sync, link.id)["status"] == "active"  # the gateway tells; the judge decides


def test_the_channel_s_not_exists_message_marks_the_link(sync: Sync) -> None:
    link = two_way_link(sync)
    stored = sync.services.links.get("demo", link.id)
    assert stored is not None and stored.channel is not None
    channel = stored.channel.id
    delete_calendar(sync, link.calendar_id)
    # The fake sends that last message to the webhook's address; here the service gets it directly.
    token = sync.services.channels.token_for(channel)
    assert sync.services.channels.notification(channel, token, "not_exists").value == "calendar_deleted"
    assert sync.services.channels.notification(channel, token, "not_exists").value == "calendar_deleted"
    stored_doc = link_doc(sync, link.id)
    assert stored_doc["status"] == "needs_reconnect" and stored_doc["reason"] == "calendar_deleted"
    assert told(sync, link.id)[0] == ["admin", "pautrave"]  # once, however often Google repeats it
    assert not sync.queue.tasks  # no pull of a calendar that is gone


def test_a_redo_after_the_calendar_was_deleted_makes_a_new_calendar_and_fills_it(sync: Sync) -> None:
    link = two_way_link(sync)
    sync.appointment("a1", start=at(24), end=at(25), service="Fisioterapia")
    sync.run_tasks()
    old_calendar = link.calendar_id
    delete_calendar(sync, old_calendar)
    assert sync.services.pull.pull("demo", link.id).skipped
    sync.services.linking.disable("demo", "pautrave", link.id)
    redo = sync.active_link()
    assert redo.calendar_id and redo.calendar_id != old_calendar
    [event] = sync.events(EMAIL, redo.calendar_id)
    assert event["id"] == event_id("demo", "a1")
    assert datetime.fromisoformat(event["start"]["dateTime"]) == at(24)


# --- refusals by a Workspace administrator, or of our OAuth client ------------------------------------
@pytest.mark.parametrize(
    ("error", "reason", "subject"),
    [
        ("admin_policy_enforced", "admin_blocked", "El administrador de Google bloquea la sincronización"),
        ("org_internal", "admin_blocked", "El administrador de Google bloquea la sincronización"),
        ("deleted_client", "client_deleted", "Google ha dejado de reconocer la aplicación de sincronización"),
        (
            "unauthorized_client",
            "client_deleted",
            "Google ha dejado de reconocer la aplicación de sincronización",
        ),
    ],
)
def test_a_refused_refresh_needs_reconnecting_with_its_own_reason(
    sync: Sync, error: str, reason: str, subject: str
) -> None:
    link = two_way_link(sync)
    google = sync.google.url
    requests.post(f"{google}/_fake/refresh-failure", json={"email": EMAIL, "error": error}, timeout=10)
    requests.post(f"{google}/_fake/tokens/expire", json={"email": EMAIL}, timeout=10)
    sync.appointment("a1", start=at(0), end=at(1), service="Fisioterapia")
    sync.run_tasks()  # answers: a refusal is never retried as if Google were busy
    stored = link_doc(sync, link.id)
    assert stored["status"] == "needs_reconnect" and stored["reason"] == reason
    assert stored["lastError"]["code"] == reason
    in_app, sent = told(sync, link.id)
    assert in_app == ["admin", "pautrave"]
    assert {m["message"]["subject"] for m in sent} == {subject}
    assert sync.services.pull.pull("demo", link.id).skipped  # and the pull leaves it alone


# --- a calendar hidden or unselected in its user's list -------------------------------------------------
def renew_now(sync: Sync) -> None:
    sync.services.channels.settings = sync.services.settings.model_copy(
        update={"channel_renew_margin_seconds": 8 * 24 * 3600}
    )
    assert sync.services.channels.renew().failed == 0


def list_entry(sync: Sync, calendar_id: str, **entry: bool) -> None:
    url = f"{sync.google.url}/_fake/calendars/{calendar_id}/list-entry"
    requests.post(url, json=entry, timeout=10).raise_for_status()


def test_a_hidden_or_unselected_calendar_shows_in_the_link_s_health_and_its_user_is_told_once(
    sync: Sync,
) -> None:
    link = two_way_link(sync)
    renew_now(sync)
    assert link_doc(sync, link.id)["calendarShown"] == "shown"
    list_entry(sync, link.calendar_id, hidden=True)
    renew_now(sync)
    renew_now(sync)
    assert link_doc(sync, link.id)["calendarShown"] == "hidden"
    [listed] = sync.services.linking.visible_links("demo", "pautrave")
    assert link_view(listed)["calendarShown"] == "hidden"
    list_entry(sync, link.calendar_id, hidden=False, selected=False)
    renew_now(sync)
    assert link_doc(sync, link.id)["calendarShown"] == "unselected"
    notes = [n.to_dict() or {} for n in sync.db.collection("clinics/demo/notifications").stream()]
    hidden = [n for n in notes if n["type"] == "link_calendar_not_shown"]
    assert [n["userId"] for n in hidden] == ["pautrave"]  # its user, once; the link itself still works
    sent = [m.to_dict() or {} for m in sync.db.collection("mail").stream()]
    [mail] = [m for m in sent if m["message"]["subject"] == "Sus citas no se ven en Google Calendar"]
    assert "está oculto" in mail["message"]["text"]
    assert link_doc(sync, link.id)["status"] == "active"
    list_entry(sync, link.calendar_id, selected=True)
    renew_now(sync)
    assert link_doc(sync, link.id)["calendarShown"] == "shown"
