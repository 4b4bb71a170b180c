"""Clinic to Google on the Firestore emulator and the fake Google: one correct event per live appointment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.domain.event_link import event_id
from shared.services.tasks import RetryLater
from tests.integration.conftest import Sync

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EMAIL = "pau@gmail.com"


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def fault(sync: Sync, **rule: object) -> None:
    requests.post(f"{sync.google.url}/_fake/faults", json=rule, timeout=10).raise_for_status()


def test_create_move_resize_cancel_delete(sync: Sync) -> None:
    link = sync.active_link()
    before = sync.calendar_calls()
    sync.appointment("a1", start=at(0), end=at(1), service="Fisioterapia")
    sync.run_tasks()
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["id"] == event_id("demo", "a1")
    assert event["summary"] == "Fisioterapia" and "López" not in repr(event)
    assert (
        event["start"]["dateTime"].startswith("2026-12-01T10:00:00")
        and event["start"]["timeZone"] == "Europe/Madrid"
    )
    assert sync.calendar_calls() - before == 1  # one change, one Calendar call
    sync.appointment("a1", start=at(2), end=at(3.5), service="Fisioterapia")  # moved and resized
    sync.run_tasks()
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["start"]["dateTime"].startswith("2026-12-01T12:00:00")
    assert event["end"]["dateTime"].startswith("2026-12-01T13:30:00")
    sync.appointment("a1", start=at(2), end=at(3.5), status="cancelled")
    sync.run_tasks()
    assert sync.events(EMAIL, link.calendar_id) == []
    sync.appointment("a2", start=at(4), end=at(5))
    sync.run_tasks()
    sync.delete_appointment("a2")
    sync.run_tasks()
    assert sync.events(EMAIL, link.calendar_id) == []
    stored = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert stored and stored["lastPushAt"] is not None


def test_a_burst_of_ten_writes_costs_one_calendar_call(sync: Sync) -> None:
    link = sync.active_link()
    before = sync.calendar_calls()
    for minute in range(10):
        sync.appointment("a1", start=at(0), end=at(1) + timedelta(minutes=minute))
    assert len(sync.queue.tasks) == 10
    sync.run_tasks()
    assert sync.calendar_calls() - before == 1
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["end"]["dateTime"].startswith("2026-12-01T11:09:00")


def test_duplicated_reordered_and_late_deliveries_change_nothing(sync: Sync) -> None:
    link = sync.active_link()
    sync.appointment("a1", start=at(0), end=at(1))
    [(queue, task)] = sync.queue.take()
    sync.appointment("a1", start=at(2), end=at(3))
    sync.run_tasks()
    before = sync.calendar_calls()
    for _ in range(2):  # the first task arrives late, twice
        sync.services.push.push(task["clinicId"], task["linkId"], [task["appointmentId"]])
    assert sync.calendar_calls() == before
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["start"]["dateTime"].startswith("2026-12-01T12:00:00")


def test_change_of_professional_moves_the_event_between_calendars(sync: Sync) -> None:
    sync.db.document("clinics/demo/professionals/jordi").set({"name": "Jordi"})
    sync.db.document("clinics/demo/users/marina").update({"professionalIds": ["jordi"]})
    pau = sync.active_link()
    result = sync.link("marina", "jordi@gmail.com")
    jordi = sync.services.linking.decide("demo", "centro-b", "admin", result.link.id, approve=True)
    sync.run_tasks()
    sync.appointment("a1", start=at(0), end=at(1))
    sync.run_tasks()
    assert len(sync.events(EMAIL, pau.calendar_id)) == 1
    sync.appointment("a1", start=at(0), end=at(1), professionalId="jordi")
    sync.run_tasks()
    assert sync.events(EMAIL, pau.calendar_id) == []
    assert len(sync.events("jordi@gmail.com", jordi.calendar_id)) == 1


def test_change_of_centre_time_zone_is_pushed(sync: Sync) -> None:
    link = sync.active_link()
    sync.appointment("a1", start=at(0), end=at(1))
    sync.run_tasks()
    sync.db.document("clinics/demo/centers/centro-b").update({"timeZone": "Atlantic/Canary"})
    sync.services.push.push("demo", link.id, ["a1"])
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["start"]["timeZone"] == "Atlantic/Canary"
    assert event["start"]["dateTime"].startswith("2026-12-01T09:00:00")


def test_redo_after_disable_adopts_every_event_without_duplicates(sync: Sync) -> None:
    link = sync.active_link()
    for n in range(3):
        sync.appointment(
            f"a{n}",
            start=datetime.now(UTC) + timedelta(days=n + 1),
            end=datetime.now(UTC) + timedelta(days=n + 1, hours=1),
        )
    sync.run_tasks()
    sync.services.linking.disable("demo", "pautrave", link.id)
    sync.appointment(
        "a0", start=datetime.now(UTC) + timedelta(days=5), end=datetime.now(UTC) + timedelta(days=5, hours=1)
    )
    sync.appointment(
        "a1",
        start=datetime.now(UTC) + timedelta(days=2),
        end=datetime.now(UTC) + timedelta(days=2, hours=1),
        status="cancelled",
    )
    redo = sync.active_link()  # approval, then the backfill task runs
    assert redo.calendar_id == link.calendar_id
    events = sync.events(EMAIL, link.calendar_id)
    ids = sorted(e["extendedProperties"]["private"]["appointmentId"] for e in events)
    assert ids == ["a0", "a2"]


def test_insert_answered_409_restores_the_cancelled_event(sync: Sync) -> None:
    link = sync.active_link()
    sync.appointment("a1", start=at(0), end=at(1))
    sync.run_tasks()
    sync.as_user(EMAIL).events().delete(calendarId=link.calendar_id, eventId=event_id("demo", "a1")).execute()
    sync.db.document(
        f"clinics/demo/calendars/{link.calendar_id}/eventLinks/a1"
    ).delete()  # as if we had forgotten
    sync.appointment("a1", start=at(0), end=at(2))
    sync.run_tasks()
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["status"] == "confirmed" and event["end"]["dateTime"].startswith("2026-12-01T12:00:00")


def test_412_rereads_and_the_clinic_wins(sync: Sync) -> None:
    link = sync.active_link(bidirectional=False)
    sync.appointment("a1", start=at(0), end=at(1))
    sync.run_tasks()
    sync.as_user(EMAIL).events().patch(
        calendarId=link.calendar_id, eventId=event_id("demo", "a1"), body={"summary": "changed in Google"}
    ).execute()
    sync.appointment("a1", start=at(0), end=at(1), service="Osteopatía")
    sync.run_tasks()
    [event] = sync.events(EMAIL, link.calendar_id)
    assert event["summary"] == "Osteopatía"
    assert sync.requests_count().get("calendar.events.get", 0) == 1


def test_transient_errors_are_retried_then_succeed(sync: Sync) -> None:
    link = sync.active_link()
    sync.appointment("a1", start=at(0), end=at(1))
    [(_, task)] = sync.queue.take()
    fault(sync, route="calendar.events.insert", rate=1, status=503, count=2)
    for _ in range(2):  # Cloud Tasks retries
        with pytest.raises(RetryLater):
            sync.services.push.push("demo", link.id, ["a1"])
    sync.services.push.push("demo", link.id, ["a1"])
    assert len(sync.events(EMAIL, link.calendar_id)) == 1


def test_rate_limits_are_transient(sync: Sync) -> None:
    link = sync.active_link()
    sync.appointment("a1", start=at(0), end=at(1))
    sync.queue.take()
    for status in (429, 403):
        fault(sync, route="calendar.events.insert", rate=1, status=status, count=1)
        with pytest.raises(RetryLater):
            sync.services.push.push("demo", link.id, ["a1"])
    sync.services.push.push("demo", link.id, ["a1"])
    assert len(sync.events(EMAIL, link.calendar_id)) == 1


def test_backfill_uses_batch_requests(sync: Sync) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    for n in range(60):
        start = soon + timedelta(hours=n)
        sync.db.document(f"clinics/demo/appointments/b{n}").set(
            {
                "professionalId": "marina",
                "centerId": "centro-b",
                "status": "scheduled",
                "start": start,
                "end": start + timedelta(minutes=30),
            }
        )
    link = sync.active_link()
    counts = sync.requests_count()
    assert counts.get("POST /batch/calendar/v3") == 2  # 60 inserts in batches of 50
    assert counts.get("calendar.events.insert") == 60
    assert len(sync.events(EMAIL, link.calendar_id)) == 60
