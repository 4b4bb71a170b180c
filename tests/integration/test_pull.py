"""Google to clinic on the Firestore emulator and the fake Google, acting as the user with /_fake/ tokens."""

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


def appointment(sync: Sync, appointment_id: str) -> dict:
    doc = sync.doc(f"clinics/demo/appointments/{appointment_id}")
    assert doc is not None
    return doc


def pushed_link(sync: Sync):  # type: ignore[no-untyped-def]
    link = sync.active_link()
    sync.services.pull.pull("demo", link.id)  # the baseline
    sync.appointment("a1", start=at(0), end=at(1), service="Fisioterapia")
    sync.run_tasks()
    return link


def move(sync: Sync, calendar_id: str, eid: str, start: str, end: str) -> None:
    sync.as_user(EMAIL).events().patch(
        calendarId=calendar_id, eventId=eid, body={"start": {"dateTime": start}, "end": {"dateTime": end}}
    ).execute()


def test_moved_and_resized_in_google(sync: Sync) -> None:
    link = pushed_link(sync)
    move(
        sync,
        link.calendar_id,
        event_id("demo", "a1"),
        "2026-12-01T16:00:00+01:00",
        "2026-12-01T17:30:00+01:00",
    )
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 1 and report.conflicts == 0
    doc = appointment(sync, "a1")
    assert doc["start"] == at(6) and doc["end"] == at(7.5)
    assert doc["syncSource"]["linkId"] == link.id
    assert doc["patientName"] == "Ana López"  # nothing else of the clinic's is touched
    stored = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert stored and stored["lastPullAt"] is not None and stored["syncToken"]


def test_cancelled_in_google(sync: Sync) -> None:
    link = pushed_link(sync)
    sync.as_user(EMAIL).events().delete(calendarId=link.calendar_id, eventId=event_id("demo", "a1")).execute()
    sync.services.pull.pull("demo", link.id)
    assert appointment(sync, "a1")["status"] == "cancelled"


def create_in_google(sync: Sync, calendar_id: str, summary: str, start: datetime) -> dict:
    body = {
        "summary": summary,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }
    created: dict = sync.as_user(EMAIL).events().insert(calendarId=calendar_id, body=body).execute()
    return created


def test_created_in_google_becomes_an_appointment_without_patient(sync: Sync) -> None:
    link = pushed_link(sync)
    created = create_in_google(sync, link.calendar_id, "Reunión de equipo", at(49))
    sync.services.pull.pull("demo", link.id)
    sync.services.pull.pull("demo", link.id)  # a duplicated pull creates nothing more
    found = [
        d.to_dict()
        for d in sync.db.collection("clinics/demo/appointments").stream()
        if (d.to_dict() or {}).get("origin")
    ]
    assert len(found) == 1
    [doc] = found
    assert doc["origin"]["eventId"] == created["id"] and doc["title"] == "Reunión de equipo"
    assert doc["professionalId"] == "marina" and doc["centerId"] == link.center_id
    assert "patientName" not in doc and doc["status"] == "scheduled"


def test_clinic_and_google_both_changed_the_clinic_wins(sync: Sync) -> None:
    link = pushed_link(sync)
    move(
        sync,
        link.calendar_id,
        event_id("demo", "a1"),
        "2026-12-01T18:00:00+01:00",
        "2026-12-01T19:00:00+01:00",
    )
    # The clinic moves it too, before any pull (its push task has not run yet).
    sync.appointment("a1", start=at(2), end=at(3), service="Fisioterapia")
    sync.queue.take()
    report = sync.services.pull.pull("demo", link.id)
    assert report.conflicts == 1
    assert appointment(sync, "a1")["start"] == at(2)
    [event] = sync.events(EMAIL, link.calendar_id)
    assert datetime.fromisoformat(event["start"]["dateTime"]) == at(2)
    stored = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert stored and stored["conflicts"] == 1


def test_a_multi_page_change_list_is_read_whole_before_the_token_is_kept(sync: Sync) -> None:
    link = pushed_link(sync)
    user = sync.as_user(EMAIL)
    batch = user.new_batch_http_request()
    for n in range(120):  # the test settings list 50 events a page
        batch.add(
            user.events().insert(
                calendarId=link.calendar_id,
                body={
                    "summary": f"g{n}",
                    "start": {"dateTime": "2026-12-05T10:00:00Z"},
                    "end": {"dateTime": "2026-12-05T10:30:00Z"},
                },
            )
        )
    batch._batch_uri = sync.google.url + "/batch/calendar/v3"
    batch.execute()
    report = sync.services.pull.pull("demo", link.id)
    assert report.events == 121 and report.applied == 120  # and the echo of our own a1
    assert report.pushed_back == 120  # each new event is marked as its appointment's
    echoes = sync.services.pull.pull("demo", link.id)
    assert (echoes.events, echoes.applied, echoes.pushed_back) == (120, 0, 0)
    assert sync.services.pull.pull("demo", link.id).events == 0


def test_a_410_takes_a_full_sync_and_keeps_going(sync: Sync) -> None:
    link = pushed_link(sync)
    move(
        sync,
        link.calendar_id,
        event_id("demo", "a1"),
        "2026-12-01T14:00:00+01:00",
        "2026-12-01T15:00:00+01:00",
    )
    requests.post(f"{sync.google.url}/_fake/sync-tokens/invalidate", json={}, timeout=10).raise_for_status()
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 1
    assert appointment(sync, "a1")["start"] == at(4)
    assert sync.services.pull.pull("demo", link.id).events == 0  # a fresh token was kept


def test_no_write_loop(sync: Sync) -> None:
    """A clinic change, pushed; the notification it causes; the pull: nothing more is written anywhere."""
    link = pushed_link(sync)
    sync.services.pull.pull("demo", link.id)
    sync.appointment("a1", start=at(1), end=at(2), service="Fisioterapia")
    sync.run_tasks()
    writes_before = sync.calendar_calls()
    doc_before = sync.db.document("clinics/demo/appointments/a1").get().update_time
    report = sync.services.pull.pull("demo", link.id)  # the echo of our own patch
    assert report.events == 1 and report.applied == 0 and report.pushed_back == 0
    sync.run_tasks()
    assert sync.calendar_calls() == writes_before
    assert sync.db.document("clinics/demo/appointments/a1").get().update_time == doc_before


def test_pulled_change_is_not_pushed_back_but_reaches_other_links(sync: Sync) -> None:
    link = pushed_link(sync)
    result = sync.link("marina", "marina@gmail.com", bidirectional=False)
    other = sync.services.linking.decide("demo", "centro-b", "admin", result.link.id, approve=True)
    sync.run_tasks()
    move(
        sync,
        link.calendar_id,
        event_id("demo", "a1"),
        "2026-12-01T12:00:00+01:00",
        "2026-12-01T13:00:00+01:00",
    )
    sync.services.pull.pull("demo", link.id)
    doc = sync.db.document("clinics/demo/appointments/a1").get()
    old = dict(doc.to_dict() or {})
    old["syncSource"] = None
    assert sync.trigger("a1", old, doc.to_dict(), doc.update_time) == 1  # only the other link
    [(_, task)] = sync.queue.take()
    assert task["linkId"] == other.id


def test_one_way_links_never_write_to_the_clinic(sync: Sync) -> None:
    link = sync.active_link(bidirectional=False)
    sync.appointment("a1", start=at(0), end=at(1))
    sync.run_tasks()
    move(
        sync,
        link.calendar_id,
        event_id("demo", "a1"),
        "2026-12-01T16:00:00+01:00",
        "2026-12-01T17:00:00+01:00",
    )
    assert sync.services.pull.pull("demo", link.id).skipped
    assert appointment(sync, "a1")["start"] == at(0)


def test_channel_renewal_and_stop_against_google(sync: Sync) -> None:
    link = sync.active_link()
    old = link.channel
    assert old
    sync.services.channels.settings = sync.services.settings.model_copy(
        update={"channel_renew_margin_seconds": 8 * 24 * 3600}
    )
    report = sync.services.channels.renew()
    assert report.renewed == 1
    state = requests.get(f"{sync.google.url}/_fake/state", timeout=10).json()
    channels = state["channels"]
    items = channels.values() if isinstance(channels, dict) else channels
    live = [c["id"] for c in items if not c.get("stopped")]
    fresh = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert fresh and live == [fresh["channel"]["id"]] and fresh["channel"]["id"] != old.id
    assert sync.doc(f"channels/{old.id}") is None


def made_in_google_then_link_lost_before_marking(sync: Sync):  # type: ignore[no-untyped-def]
    """A link pulls an event made in Google, and is disabled before the push that marks the event as the
    appointment's succeeds: the event is left unmarked, known only by the record of the pull."""
    link = pushed_link(sync)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)  # upcoming, whenever this runs
    created = create_in_google(sync, link.calendar_id, "Reunión", start)
    requests.post(
        f"{sync.google.url}/_fake/faults",
        json={"route": "calendar.events.patch", "rate": 1, "status": 503},
        timeout=10,
    ).raise_for_status()
    with pytest.raises(RetryLater):
        sync.services.pull.pull("demo", link.id)
    requests.post(f"{sync.google.url}/_fake/faults", json={}, timeout=10).raise_for_status()
    sync.services.linking.disable("demo", "pautrave", link.id)
    [pulled] = [
        d.id for d in sync.db.collection("clinics/demo/appointments").stream() if d.id.startswith("gcal-")
    ]
    [unmarked] = [e for e in sync.events(EMAIL, link.calendar_id) if e["id"] == created["id"]]
    assert "extendedProperties" not in unmarked
    return link, pulled


def test_a_redo_removes_an_unmarked_event_whose_appointment_was_deleted_meanwhile(sync: Sync) -> None:
    link, pulled = made_in_google_then_link_lost_before_marking(sync)
    sync.delete_appointment(pulled)  # no link is active: nothing is pushed
    redo = sync.active_link()  # the backfill
    assert redo.calendar_id == link.calendar_id
    assert [
        e["extendedProperties"]["private"]["appointmentId"] for e in sync.events(EMAIL, link.calendar_id)
    ] == ["a1"]


def test_a_redo_inherits_the_record_of_an_unmarked_event(sync: Sync) -> None:
    link, pulled = made_in_google_then_link_lost_before_marking(sync)
    sync.active_link()  # the backfill marks the event as the appointment's
    marked = [e for e in sync.events(EMAIL, link.calendar_id) if e["id"] != event_id("demo", "a1")]
    assert [e["extendedProperties"]["private"]["appointmentId"] for e in marked] == [pulled]
    sync.appointment(pulled, **{**appointment(sync, pulled), "status": "cancelled"})
    sync.run_tasks()
    assert [e["id"] for e in sync.events(EMAIL, link.calendar_id)] == [event_id("demo", "a1")]
