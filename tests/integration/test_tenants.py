"""Two clinics, one Google account: each clinic's events stay its own (Firestore emulator, fake Google).

A physiotherapist works at `norte` (privacy `full`) and at `demo`, and links the same Gmail at both, one
after the other (one Google account holds one link at a time). Each clinic gets its own calendar in that
account, and neither reads, imports or adopts an event the other wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local.demo_data import OTHER_CLINIC_ID
from shared.adapters.firestore_codec import appointment_change
from shared.domain.link import LinkStatus, SyncLink
from tests.integration.conftest import Sync

GMAIL = "marina.fisio@gmail.com"
PATIENT = "Ana López"


def link_at_norte(sync: Sync, bidirectional: bool = False) -> SyncLink:
    """Marina, master at norte, links her own agenda: active without approval."""
    _, url = sync.services.linking.start(OTHER_CLINIC_ID, "centro-norte", "marina", None, bidirectional, None)
    answer = sync.consent(url, GMAIL)
    held = sync.services.linking.complete(answer["state"], answer.get("code"), answer.get("error"))
    result = sync.redeem(held)
    assert result.link.status is LinkStatus.ACTIVE, result
    sync.run_tasks()
    return result.link


def norte_appointment(sync: Sync, appointment_id: str, start: datetime) -> None:
    ref = sync.db.document(f"clinics/{OTHER_CLINIC_ID}/appointments/{appointment_id}")
    data = {
        "professionalId": "marina",
        "centerId": "centro-norte",
        "status": "scheduled",
        "patientName": PATIENT,
        "start": start,
        "end": start + timedelta(hours=1),
    }
    ref.set(data)
    after = ref.get()
    change = appointment_change(OTHER_CLINIC_ID, appointment_id, None, after.to_dict(), after.update_time)
    sync.services.push.fan_out(change)
    sync.run_tasks()


def demo_appointments(sync: Sync) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in sync.db.collection("clinics/demo/appointments").stream()}


def pull(sync: Sync, link: SyncLink) -> None:
    sync.services.pull.pull(link.clinic_id, link.id)
    sync.run_tasks()


def test_the_same_gmail_at_two_clinics_keeps_each_clinics_events_its_own(sync: Sync) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    norte = link_at_norte(sync)
    norte_appointment(sync, "n-1", soon)
    [pushed] = sync.events(GMAIL, norte.calendar_id or "")
    assert PATIENT in pushed["summary"]
    sync.services.linking.disable(OTHER_CLINIC_ID, "marina", norte.id)

    # The same Gmail, two-way, at the demo clinic (pautrave asks, the master approves).
    demo = sync.active_link("pautrave", GMAIL)
    pull(sync, demo)
    sync.services.channels.reconcile()
    sync.run_tasks()

    assert demo.calendar_id and demo.calendar_id != norte.calendar_id
    assert demo_appointments(sync) == {}, "the demo clinic imported another clinic's appointment"
    [still] = sync.events(GMAIL, norte.calendar_id or "")
    assert still["summary"] == pushed["summary"]
    assert still["extendedProperties"]["private"]["clinicId"] == OTHER_CLINIC_ID
    assert sync.events(GMAIL, demo.calendar_id) == []
    assert list(sync.db.collection(f"clinics/demo/calendars/{norte.calendar_id}/eventLinks").stream()) == []

    # Linked at norte again: norte finds its own calendar, and its event is still its own.
    sync.services.linking.disable("demo", "pautrave", demo.id)
    again = link_at_norte(sync)
    assert again.calendar_id == norte.calendar_id
    assert [e["id"] for e in sync.events(GMAIL, norte.calendar_id or "")] == [pushed["id"]]


def test_an_event_another_clinic_wrote_is_never_imported_nor_adopted(sync: Sync) -> None:
    """An event marked by another clinic that reaches this clinic's calendar (moved or copied there in
    Google, or a calendar both shared before each clinic had its own) is that clinic's: a pull skips it,
    and an activation does not adopt it."""
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    demo = sync.active_link("pautrave", GMAIL)
    assert demo.calendar_id
    google = sync.as_user(GMAIL)
    foreign = {
        "summary": f"Fisioterapia · {PATIENT}",
        "start": {"dateTime": soon.isoformat(), "timeZone": "Europe/Madrid"},
        "end": {"dateTime": (soon + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Madrid"},
        "extendedProperties": {
            "private": {"appointmentId": "n-1", "clinicId": OTHER_CLINIC_ID, "contentHash": "x"}
        },
    }
    inserted = google.events().insert(calendarId=demo.calendar_id, body=foreign).execute()
    pull(sync, demo)
    assert demo_appointments(sync) == {}
    # A redo's activation lists the calendar and adopts what is ours: never the other clinic's event.
    sync.services.linking.disable("demo", "pautrave", demo.id)
    redo = sync.active_link("pautrave", GMAIL)
    assert redo.calendar_id == demo.calendar_id
    pull(sync, redo)
    assert demo_appointments(sync) == {}
    records = sync.db.collection(f"clinics/demo/calendars/{demo.calendar_id}/eventLinks").stream()
    assert [r.to_dict() for r in records] == []
    [kept] = sync.events(GMAIL, demo.calendar_id)
    assert kept["id"] == inserted["id"]
    assert kept["summary"] == foreign["summary"]
    assert kept["extendedProperties"]["private"]["clinicId"] == OTHER_CLINIC_ID
