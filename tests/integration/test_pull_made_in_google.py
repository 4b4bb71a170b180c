"""Events made in Google, as people make them, reaching the agenda of a two-way link: series and their
instances, "this and following", all-day events, what was typed, and copies of our events. On the Firestore
emulator and the fake Google, acting as the user with /_fake/ tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from shared.domain.event_link import appointment_id_for_event, event_id
from shared.domain.link import SyncLink
from tests.integration.conftest import Sync
from tests.integration.test_pull import EMAIL, appointment, pushed_link

MADRID = ZoneInfo("Europe/Madrid")


def morning(days: int, hour: int = 9) -> datetime:
    """A Madrid morning `days` from today (the pull's horizon counts from now)."""
    return datetime.combine(datetime.now(MADRID).date() + timedelta(days=days), time(hour), MADRID)


def timed(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.isoformat(), "timeZone": "Europe/Madrid"}


def make_series(sync: Sync, calendar_id: str, rule: str, start: datetime, **fields: Any) -> dict[str, Any]:
    body = {
        "summary": "Pilates",
        "start": timed(start),
        "end": timed(start + timedelta(hours=1)),
        "recurrence": [rule],
        **fields,
    }
    made: dict[str, Any] = sync.as_user(EMAIL).events().insert(calendarId=calendar_id, body=body).execute()
    return made


def instances(sync: Sync, calendar_id: str, series_id: str) -> list[dict[str, Any]]:
    found = sync.as_user(EMAIL).events().instances(calendarId=calendar_id, eventId=series_id).execute()
    return list(found["items"])


def made_in_google(sync: Sync) -> dict[str, dict[str, Any]]:
    """The appointments made from Google events, by the event they came from."""
    found = {}
    for snapshot in sync.db.collection("clinics/demo/appointments").stream():
        doc = snapshot.to_dict() or {}
        if doc.get("origin"):
            found[doc["origin"]["eventId"]] = {**doc, "id": snapshot.id}
    return found


def live(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in found.items() if v["status"] == "scheduled"}


def calls(sync: Sync, before: dict[str, int], route: str) -> int:
    return sync.requests_count().get(route, 0) - before.get(route, 0)


def writes_to_google(sync: Sync, before: dict[str, int]) -> int:
    after = sync.requests_count()
    verbs = ("insert", "patch", "update", "delete")
    return sum(
        n - before.get(route, 0)
        for route, n in after.items()
        if route.startswith("calendar.events.") and route.rsplit(".", 1)[1] in verbs
    )


# --- series -----------------------------------------------------------------------------------------------
def test_a_series_made_in_google_becomes_one_appointment_per_instance(sync: Sync) -> None:
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=5", morning(2))
    before = sync.requests_count()
    report = sync.services.pull.pull("demo", link.id)
    # One list and one read of the series; nothing written to Google: the instances stay instances.
    assert calls(sync, before, "calendar.events.list") == 1
    assert calls(sync, before, "calendar.events.instances") == 1
    assert writes_to_google(sync, before) == 0
    shown = instances(sync, link.calendar_id, series["id"])
    found = made_in_google(sync)
    assert sorted(found) == sorted(i["id"] for i in shown) and len(found) == 5
    for instance in shown:
        doc = found[instance["id"]]
        assert doc["id"] == appointment_id_for_event(link.calendar_id, instance["id"])
        assert doc["start"] == datetime.fromisoformat(instance["start"]["dateTime"])
        assert doc["title"] == "Pilates" and "patientName" not in doc and doc["allDay"] is False
    assert report.applied == 5 and report.pushed_back == 0
    # Each instance's record names its series (instance ids are opaque: the series is read from this).
    records = sync.db.collection(f"clinics/demo/calendars/{link.calendar_id}/eventLinks").stream()
    series_of = {(s.to_dict() or {})["eventId"]: (s.to_dict() or {}).get("seriesId") for s in records}
    named = {event: series for event, series in series_of.items() if series is not None}
    assert named == {instance["id"]: series["id"] for instance in shown}  # the link's own events: none
    # Pulled again (a repeated notification), nothing is imported twice.
    sync.services.pull.pull("demo", link.id)
    assert made_in_google(sync) == found


def days_later(sync: Sync, link: SyncLink, *, days: int, backfill_days: int) -> SyncLink:
    """The link as if its last pull was `days` ago, with the pull's horizon at `backfill_days` (a longer
    horizon stands in for the days gone by: the test cannot move Google's clock)."""
    pull = sync.services.pull
    pull.settings = pull.settings.model_copy(update={"backfill_days": backfill_days})
    stored = sync.services.links.get("demo", link.id)
    assert stored is not None
    sync.services.status.save_pull(stored, stored.sync_token, datetime.now(UTC) - timedelta(days=days), 0)
    moved = sync.services.links.get("demo", link.id)
    assert moved is not None
    return moved


def test_instances_beyond_the_horizon_come_as_time_advances_and_never_twice(sync: Sync) -> None:
    link = pushed_link(sync)
    pull = sync.services.pull
    pull.settings = pull.settings.model_copy(update={"backfill_days": 5})
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=10", morning(1))
    pull.pull("demo", link.id)
    first = made_in_google(sync)
    assert len(first) in (4, 5)  # the instances starting within 5 days from now
    assert all(doc["start"] < datetime.now(UTC) + timedelta(days=5) for doc in first.values())
    # Days later, the scheduled upkeep pulls with the horizon moved on: the next instances come.
    link = days_later(sync, link, days=1, backfill_days=20)
    pull.pull("demo", link.id)
    pull.pull("demo", link.id)
    every = made_in_google(sync)
    assert sorted(every) == sorted(i["id"] for i in instances(sync, link.calendar_id, series["id"]))
    assert {k: every[k] for k in first} == first  # the first ones untouched, none imported twice


def test_a_series_made_wholly_beyond_the_horizon_comes_in_as_it_enters(sync: Sync) -> None:
    """No instance was within the horizon at its first pull, so none was brought in to be read again: the
    first pull of a later day lists what entered the horizon since the last pull."""
    link = pushed_link(sync)
    pull = sync.services.pull
    pull.settings = pull.settings.model_copy(update={"backfill_days": 5})
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=3", morning(7))
    pull.pull("demo", link.id)
    assert made_in_google(sync) == {}
    # Two days later, with the horizon moved on past the series' last instance (a longer horizon stands in
    # for the days gone by): what entered comes in, and the series with it.
    link = days_later(sync, link, days=2, backfill_days=10)
    pull.pull("demo", link.id)
    every = made_in_google(sync)
    assert sorted(every) == sorted(i["id"] for i in instances(sync, link.calendar_id, series["id"]))
    assert sorted(doc["start"] for doc in every.values()) == [morning(d) for d in (7, 8, 9)]


def test_an_instance_changed_or_deleted_in_google_changes_only_its_appointment(sync: Sync) -> None:
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=5", morning(2))
    sync.services.pull.pull("demo", link.id)
    before_edit = made_in_google(sync)
    shown = instances(sync, link.calendar_id, series["id"])
    events = sync.as_user(EMAIL).events()
    moved_to = morning(3, 12)
    body = {
        "summary": "Pilates (sala 2)",
        "start": timed(moved_to),
        "end": timed(moved_to + timedelta(hours=1)),
    }
    events.patch(calendarId=link.calendar_id, eventId=shown[1]["id"], body=body).execute()
    before = sync.requests_count()
    report = sync.services.pull.pull("demo", link.id)
    assert calls(sync, before, "calendar.events.list") == 1 and report.applied == 1
    assert calls(sync, before, "calendar.events.instances") == 0
    events.delete(calendarId=link.calendar_id, eventId=shown[2]["id"]).execute()
    sync.services.pull.pull("demo", link.id)
    after = made_in_google(sync)
    moved, gone = after[shown[1]["id"]], after[shown[2]["id"]]
    assert moved["start"] == moved_to and moved["title"] == "Pilates (sala 2)"
    assert gone["status"] == "cancelled"
    others = [shown[i]["id"] for i in (0, 3, 4)]
    assert {k: after[k] for k in others} == {k: before_edit[k] for k in others}


def test_this_and_following_reshapes_exactly_the_following_appointments(sync: Sync) -> None:
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=5", morning(2))
    sync.services.pull.pull("demo", link.id)
    shown = instances(sync, link.calendar_id, series["id"])
    before_split = made_in_google(sync)
    answer = requests.post(
        f"{sync.google.url}/_fake/calendars/{link.calendar_id}/events/{shown[2]['id']}/split",
        json={"changes": {"summary": "Yoga"}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    following = answer.json()["following"]["id"]
    sync.services.pull.pull("demo", link.id)
    after = made_in_google(sync)
    kept = [i["id"] for i in shown[:2]]
    assert {k: after[k] for k in kept} == {k: before_split[k] for k in kept}
    assert all(after[i["id"]]["status"] == "cancelled" for i in shown[2:])
    new = {k: v for k, v in live(after).items() if k.startswith(following)}
    assert sorted(new) == sorted(i["id"] for i in instances(sync, link.calendar_id, following))
    assert len(new) == 3 and {doc["title"] for doc in new.values()} == {"Yoga"}
    assert sorted(doc["start"] for doc in new.values()) == [morning(d) for d in (4, 5, 6)]


def test_this_and_following_from_the_first_live_instance_cancels_the_rest(sync: Sync) -> None:
    """The series' first instance was deleted, then "this and following" from the second: the series keeps no
    live instance, so no list names it again; its appointments from the second on are cancelled all the same,
    and the new series' instances come in."""
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=4", morning(2))
    sync.services.pull.pull("demo", link.id)
    shown = instances(sync, link.calendar_id, series["id"])
    events = sync.as_user(EMAIL).events()
    events.delete(calendarId=link.calendar_id, eventId=shown[0]["id"]).execute()
    sync.services.pull.pull("demo", link.id)
    answer = requests.post(
        f"{sync.google.url}/_fake/calendars/{link.calendar_id}/events/{shown[1]['id']}/split",
        json={"changes": {"summary": "Yoga"}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    following = answer.json()["following"]["id"]
    sync.services.pull.pull("demo", link.id)
    after = made_in_google(sync)
    assert [after[i["id"]]["status"] for i in shown] == ["cancelled"] * 4
    new = {k: v for k, v in live(after).items() if k.startswith(following)}
    assert sorted(doc["start"] for doc in new.values()) == [morning(d) for d in (3, 4, 5)]


def split(sync: Sync, calendar_id: str, instance_id: str) -> str:
    """ "This and following" from the instance, in Google's UI: the new series' id."""
    answer = requests.post(
        f"{sync.google.url}/_fake/calendars/{calendar_id}/events/{instance_id}/split",
        json={"changes": {"summary": "Yoga"}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["following"]["id"])


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full sync"])
def test_a_series_cut_and_then_deleted_cancels_the_instances_cut_off_too(sync: Sync, full: bool) -> None:
    """ "This and following", then the first half deleted, both before the next pull: the deleted series'
    instances come as cancelled, but the ones cut off it before come in no list. Their appointments are
    cancelled all the same, whether the next pull is incremental or a full sync (which lists no deleted
    event), and the new series' instances come in once."""
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=WEEKLY;COUNT=4", morning(2))
    sync.services.pull.pull("demo", link.id)
    shown = instances(sync, link.calendar_id, series["id"])
    following = split(sync, link.calendar_id, shown[2]["id"])
    sync.as_user(EMAIL).events().delete(calendarId=link.calendar_id, eventId=series["id"]).execute()
    if full:
        requests.post(
            f"{sync.google.url}/_fake/sync-tokens/invalidate", json={}, timeout=10
        ).raise_for_status()
    sync.services.pull.pull("demo", link.id)
    sync.run_tasks()  # a full sync goes on in tasks of its own
    after = made_in_google(sync)
    assert [after[i["id"]]["status"] for i in shown] == ["cancelled"] * 4
    new = {k: v for k, v in live(after).items() if k.startswith(following)}
    assert sorted(doc["start"] for doc in new.values()) == [morning(d) for d in (16, 23)]


def test_a_change_to_the_whole_series_reaches_each_appointment(sync: Sync) -> None:
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=WEEKLY;COUNT=4", morning(2))
    sync.services.pull.pull("demo", link.id)
    events = sync.as_user(EMAIL).events()
    events.patch(
        calendarId=link.calendar_id,
        eventId=series["id"],
        body={"summary": "Pilates suelo", "location": "Sala 3"},
    ).execute()
    sync.services.pull.pull("demo", link.id)
    retitled = made_in_google(sync)
    assert len(retitled) == 4
    assert {(d["title"], d["location"], d["status"]) for d in retitled.values()} == {
        ("Pilates suelo", "Sala 3", "scheduled")
    }
    # Another hour for the whole series: its instances are new ones (their ids carry the original start).
    later = morning(2, 11)
    body = {"start": timed(later), "end": timed(later + timedelta(hours=1))}
    events.patch(calendarId=link.calendar_id, eventId=series["id"], body=body).execute()
    sync.services.pull.pull("demo", link.id)
    after = made_in_google(sync)
    assert all(after[k]["status"] == "cancelled" for k in retitled)
    assert sorted(d["start"] for d in live(after).values()) == [later + timedelta(weeks=w) for w in range(4)]


def test_deleting_the_series_cancels_every_appointment(sync: Sync) -> None:
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=5", morning(2))
    sync.services.pull.pull("demo", link.id)
    sync.as_user(EMAIL).events().delete(calendarId=link.calendar_id, eventId=series["id"]).execute()
    sync.services.pull.pull("demo", link.id)
    found = made_in_google(sync)
    assert len(found) == 5 and {d["status"] for d in found.values()} == {"cancelled"}
    assert appointment(sync, "a1")["status"] == "scheduled"


def clinic_moves(sync: Sync, appointment_id: str, start: datetime) -> None:
    """The clinic app moves an appointment to an hour from `start`; its trigger and tasks run."""
    ref = sync.db.document(f"clinics/demo/appointments/{appointment_id}")
    old = ref.get().to_dict()
    ref.update({"start": start, "end": start + timedelta(hours=1)})
    new = ref.get()
    sync.trigger(appointment_id, old, new.to_dict(), new.update_time)
    sync.run_tasks()


def test_a_clinic_change_to_one_instance_changes_only_that_instance(sync: Sync) -> None:
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=5", morning(2))
    sync.services.pull.pull("demo", link.id)
    shown = instances(sync, link.calendar_id, series["id"])
    clinic_moves(sync, made_in_google(sync)[shown[1]["id"]]["id"], morning(3, 16))
    now_shown = instances(sync, link.calendar_id, series["id"])
    assert [i["id"] for i in now_shown] == [i["id"] for i in shown]
    assert datetime.fromisoformat(now_shown[1]["start"]["dateTime"]) == morning(3, 16)
    for index in (0, 2, 3, 4):
        assert now_shown[index]["start"] == shown[index]["start"]
    stored = sync.as_user(EMAIL).events().get(calendarId=link.calendar_id, eventId=series["id"]).execute()
    assert stored["start"] == series["start"] and stored["recurrence"] == series["recurrence"]
    # The pull that follows (the exception's own notification) changes nothing more in the clinic.
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 0 and report.conflicts == 0


def test_an_instance_the_clinic_moved_after_its_series_was_deleted_stays(sync: Sync) -> None:
    """The series is deleted in Google, and before a pull says so the clinic moves one instance's appointment:
    the clinic's change brings that instance back. A later pull that reads the series again (here, because
    a new series comes in) finds the series gone but keeps the instance the clinic kept."""
    link = pushed_link(sync)
    series = make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=3", morning(2))
    sync.services.pull.pull("demo", link.id)
    shown = instances(sync, link.calendar_id, series["id"])
    doc = made_in_google(sync)[shown[0]["id"]]
    sync.as_user(EMAIL).events().delete(calendarId=link.calendar_id, eventId=series["id"]).execute()
    clinic_moves(sync, doc["id"], morning(2, 16))
    sync.services.pull.pull("demo", link.id)
    make_series(sync, link.calendar_id, "RRULE:FREQ=DAILY;COUNT=2", morning(5))
    sync.services.pull.pull("demo", link.id)
    after = made_in_google(sync)
    assert after[shown[0]["id"]]["status"] == "scheduled"
    assert [after[i["id"]]["status"] for i in shown[1:]] == ["cancelled"] * 2
    listed = sync.as_user(EMAIL).events().list(calendarId=link.calendar_id, singleEvents=True).execute()
    kept = [e for e in listed["items"] if e["id"] == shown[0]["id"]]
    assert [(e["status"], datetime.fromisoformat(e["start"]["dateTime"])) for e in kept] == [
        ("confirmed", morning(2, 16))
    ]


# --- all-day events ----------------------------------------------------------------------------------------
def all_day(
    sync: Sync, calendar_id: str, summary: str, first: date, days: int, **fields: Any
) -> dict[str, Any]:
    body = {
        "summary": summary,
        "start": {"date": first.isoformat()},
        "end": {"date": (first + timedelta(days=days)).isoformat()},
        **fields,
    }
    made: dict[str, Any] = sync.as_user(EMAIL).events().insert(calendarId=calendar_id, body=body).execute()
    return made


def test_a_busy_all_day_event_becomes_an_all_day_block_and_a_free_one_blocks_nothing(sync: Sync) -> None:
    link = pushed_link(sync)
    first = datetime.now(MADRID).date() + timedelta(days=10)
    holidays = all_day(sync, link.calendar_id, "Vacaciones", first, 3)
    all_day(sync, link.calendar_id, "Cumpleaños de Ana", first, 1, transparency="transparent")
    before = sync.requests_count()
    sync.services.pull.pull("demo", link.id)
    found = made_in_google(sync)
    assert list(found) == [holidays["id"]]
    block = found[holidays["id"]]
    assert block["allDay"] is True and block["title"] == "Vacaciones" and "patientName" not in block
    assert block["start"] == datetime.combine(first, time(), MADRID)
    assert block["end"] == datetime.combine(first + timedelta(days=3), time(), MADRID)  # end.date exclusive
    assert writes_to_google(sync, before) == 0  # Google keeps showing it as an all-day event
    # Marked free later: it blocks nothing any more.
    sync.as_user(EMAIL).events().patch(
        calendarId=link.calendar_id, eventId=holidays["id"], body={"transparency": "transparent"}
    ).execute()
    sync.services.pull.pull("demo", link.id)
    assert made_in_google(sync)[holidays["id"]]["status"] == "cancelled"
    stored = sync.as_user(EMAIL).events().get(calendarId=link.calendar_id, eventId=holidays["id"]).execute()
    assert stored["status"] == "confirmed"  # Google's event stays as the user left it


def test_one_of_our_appointments_made_all_day_in_google_is_restored_as_a_conflict(sync: Sync) -> None:
    link = pushed_link(sync)
    eid = event_id("demo", "a1")
    day = {"date": "2026-12-01"}, {"date": "2026-12-02"}
    sync.as_user(EMAIL).events().patch(
        calendarId=link.calendar_id, eventId=eid, body={"start": day[0], "end": day[1]}
    ).execute()
    report = sync.services.pull.pull("demo", link.id)
    assert report.conflicts == 1 and report.applied == 0
    doc = appointment(sync, "a1")
    assert doc["start"] == datetime(2026, 12, 1, 9, tzinfo=UTC) and "allDay" not in doc
    event = sync.as_user(EMAIL).events().get(calendarId=link.calendar_id, eventId=eid).execute()
    assert datetime.fromisoformat(event["start"]["dateTime"]) == datetime(2026, 12, 1, 9, tzinfo=UTC)


# --- what people typed --------------------------------------------------------------------------------------
def test_title_description_and_location_typed_in_google_reach_the_agenda(sync: Sync) -> None:
    link = pushed_link(sync)
    start = morning(4)
    body = {
        "summary": "Reunión de equipo",
        "description": "Traer el informe trimestral",
        "location": "Sala de juntas",
        "start": timed(start),
        "end": timed(start + timedelta(hours=1)),
    }
    events = sync.as_user(EMAIL).events()
    made = events.insert(calendarId=link.calendar_id, body=body).execute()
    sync.services.pull.pull("demo", link.id)
    sync.run_tasks()
    doc = made_in_google(sync)[made["id"]]
    assert (doc["title"], doc["notes"], doc["location"]) == (
        "Reunión de equipo",
        "Traer el informe trimestral",
        "Sala de juntas",
    )
    changes = {
        "summary": "Reunión de dirección",
        "description": "Orden del día adjunto",
        "location": "Sala 1",
    }
    events.patch(calendarId=link.calendar_id, eventId=made["id"], body=changes).execute()
    report = sync.services.pull.pull("demo", link.id)
    assert report.applied == 1 and report.conflicts == 0
    doc = made_in_google(sync)[made["id"]]
    assert (doc["title"], doc["notes"], doc["location"]) == (
        "Reunión de dirección",
        "Orden del día adjunto",
        "Sala 1",
    )
    # Removed in Google: removed from the appointment too.
    events.patch(calendarId=link.calendar_id, eventId=made["id"], body={"location": ""}).execute()
    sync.services.pull.pull("demo", link.id)
    assert "location" not in made_in_google(sync)[made["id"]]


# --- copies ---------------------------------------------------------------------------------------------------
def test_a_copy_of_our_event_becomes_a_new_appointment_and_never_takes_over(sync: Sync) -> None:
    link = pushed_link(sync)
    events = sync.as_user(EMAIL).events()
    ours = events.get(calendarId=link.calendar_id, eventId=event_id("demo", "a1")).execute()
    start = morning(6)
    copy = {
        "summary": ours["summary"],
        "start": timed(start),
        "end": timed(start + timedelta(hours=1)),
        "extendedProperties": ours["extendedProperties"],
    }
    made = events.insert(calendarId=link.calendar_id, body=copy).execute()
    report = sync.services.pull.pull("demo", link.id)
    sync.run_tasks()
    assert report.applied == 1 and report.conflicts == 0
    original = appointment(sync, "a1")
    assert (
        original["start"] == datetime(2026, 12, 1, 9, tzinfo=UTC) and original["patientName"] == "Ana López"
    )
    new = made_in_google(sync)[made["id"]]
    assert new["id"] == appointment_id_for_event(link.calendar_id, made["id"])
    assert new["start"] == start and "patientName" not in new
    kept = events.get(calendarId=link.calendar_id, eventId=ours["id"]).execute()
    assert kept["start"] == ours["start"] and kept["summary"] == ours["summary"]


def test_an_appointment_id_that_cannot_name_a_document_is_not_trusted(sync: Sync) -> None:
    link = pushed_link(sync)
    events = sync.as_user(EMAIL).events()
    made = []
    for index, bad in enumerate(["../a1", "a1/x", "__a1__", ".", "x" * 1501]):
        start = morning(7, 8 + index)
        body = {
            "summary": f"Raro {index}",
            "start": timed(start),
            "end": timed(start + timedelta(hours=1)),
            "extendedProperties": {"private": {"clinicId": "demo", "appointmentId": bad}},
        }
        made.append(events.insert(calendarId=link.calendar_id, body=body).execute()["id"])
    sync.services.pull.pull("demo", link.id)
    assert sorted(made_in_google(sync)) == sorted(made)
    assert appointment(sync, "a1")["start"] == datetime(2026, 12, 1, 9, tzinfo=UTC)
