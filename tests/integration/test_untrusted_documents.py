"""Malformed clinic documents on the Firestore emulator: recorded on the link, skipped, never a crash loop
(the workers answer 2xx), never a dropped backfill (the other appointments still go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.bootstrap import build_services
from shared.domain.event_link import event_id
from tests.integration.conftest import Sync
from tests.integration.functions_app import Deployed

SECRET = "Ana López Secreta"
MALFORMED: dict[str, dict[str, Any]] = {
    "bad-date": {"start": "2026-12-03T09:00:00Z"},
    "bad-status": {"status": SECRET},
    "huge-name": {"patientName": SECRET * 100},
    "no-centre": {"centerId": None},
    "wrong-type": {"service": {"name": SECRET}},
    "backwards": {"end_before_start": True},
}


def seed(sync: Sync, appointment_id: str, **changes: Any) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    end = start - timedelta(hours=1) if changes.pop("end_before_start", False) else start + timedelta(hours=1)
    doc = {
        "professionalId": "marina",
        "centerId": "centro-b",
        "start": start,
        "end": end,
        "status": "scheduled",
        "patientName": "Ana López",
        **changes,
    }
    sync.db.document(f"clinics/demo/appointments/{appointment_id}").set(doc)


def last_error(sync: Sync, link_id: str) -> dict[str, Any]:
    stored = sync.doc(f"clinics/demo/syncLinks/{link_id}") or {}
    return stored.get("lastError") or {}


def test_malformed_appointments_are_recorded_and_skipped_and_the_backfill_still_pushes_the_rest(
    sync: Sync,
) -> None:
    seed(sync, "good-1")
    for appointment_id, changes in MALFORMED.items():
        seed(sync, appointment_id, **changes)
    seed(sync, "good-2")
    link = sync.active_link()  # its backfill runs here
    assert link.calendar_id
    assert sorted(e["id"] for e in sync.events("pau@gmail.com", link.calendar_id)) == sorted(
        [event_id("demo", "good-1"), event_id("demo", "good-2")]
    )
    # Each malformed write reaches the push (the trigger fires on every write): recorded, skipped.
    for appointment_id in MALFORMED:
        report = sync.services.push.push("demo", link.id, [appointment_id])
        assert (report.failed, report.done, report.skipped) == (1, 0, None), appointment_id
        error = last_error(sync, link.id)
        assert error["code"] in ("invalid_appointment", "invalid_time_range")
        assert appointment_id in error["message"] and "Ana" not in error["message"]
    # A pull that meets an event whose appointment went malformed leaves it alone, and says why.
    seed(sync, "good-1", status=SECRET)
    google = sync.as_user("pau@gmail.com")
    google.events().patch(
        calendarId=link.calendar_id, eventId=event_id("demo", "good-1"), body={"summary": "Movida"}
    ).execute()
    report = sync.services.pull.pull("demo", link.id)
    assert report.skipped is None and last_error(sync, link.id)["code"] == "invalid_appointment"
    assert "Secreta" not in str(sync.doc(f"clinics/demo/syncLinks/{link.id}"))


def test_a_malformed_clinic_is_recorded_on_the_link_and_its_work_skipped(sync: Sync) -> None:
    link = sync.active_link()
    # Another instance, without the clinic cached, reads the clinic after a faulty client wrote it.
    sync.db.document("clinics/demo").set({"name": "Clínica Demo", "privacy": 3, "shareNotes": "false"})
    fresh = build_services(
        sync.services.settings.model_copy(update={"cache_seconds": 0}),
        db=sync.db,
        secrets=sync.services.secrets,
        queue=sync.queue,
    )
    seed(sync, "a1")
    report = fresh.push.push("demo", link.id, ["a1"])
    assert report.skipped == "clinic document not valid"
    assert last_error(sync, link.id)["code"] == "invalid_clinic"
    assert fresh.pull.pull("demo", link.id).skipped == "clinic document not valid"
    assert sync.events("pau@gmail.com", link.calendar_id or "") == []
    # Corrected, the next push goes.
    sync.db.document("clinics/demo").set({"name": "Clínica Demo", "privacy": "none"})
    assert fresh.push.push("demo", link.id, ["a1"]).done == 1


def test_the_push_worker_acknowledges_a_malformed_appointment_or_clinic(functions: Deployed) -> None:
    link = functions.active_link()
    start = datetime.now(UTC) + timedelta(days=2)
    functions.db.document("clinics/demo/appointments/bad").set(
        {"professionalId": "marina", "centerId": "centro-b", "start": "mañana", "end": start}
    )
    task = {"clinicId": "demo", "linkId": link["id"], "appointmentId": "bad"}
    response = functions.post("push_worker", task)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["failed"] == 1
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}") or {}
    assert stored["lastError"]["code"] == "invalid_appointment"
