"""What our writes carry: only the fields we own, so that what people typed in Google stays there."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shared.domain.clinic import Appointment, Clinic, EventOrigin
from shared.domain.event import event_content, remote_hash
from shared.domain.event_link import EventLink, appointment_id_for_event, event_id
from shared.domain.planner import Delete, Insert, Patch, Record, Retry, after_push, plan_push
from tests.unit.test_domain import MADRID, T0, appointment

CALENDAR = "cal1@group.calendar.example"
PEOPLE_TYPED = {
    "description": "Traer factura 123",
    "location": "Sala 2",
    "colorId": "5",
    "attendees": [{"email": "invitada@example.com"}],
    "reminders": {"useDefault": False},
}


def from_google() -> Appointment:
    gid = appointment_id_for_event(CALENDAR, "g1")
    return appointment(id=gid, service=None, title="Revisión", notes=None, origin=EventOrigin(CALENDAR, "g1"))


def test_a_write_to_our_event_names_no_field_people_type_in_google() -> None:
    body = event_content(appointment(), Clinic("demo"), MADRID).body()
    assert set(body) == {"summary", "start", "end", "status", "extendedProperties"}
    assert not set(body) & set(PEOPLE_TYPED)


def test_the_description_is_ours_only_while_the_clinic_shares_notes() -> None:
    shared = event_content(appointment(), Clinic("demo", share_notes=True), MADRID)
    assert shared.body()["description"] == "dolor lumbar"
    assert "description" in shared.owned


def test_of_an_event_made_in_google_only_the_times_and_our_properties_are_written() -> None:
    content = event_content(from_google(), Clinic("demo", share_notes=True), MADRID)
    assert content.made_in_google and content.owned == ("start", "end")
    body = content.body()
    assert set(body) == {"start", "end", "status", "extendedProperties"}
    assert body["extendedProperties"]["private"]["appointmentId"] == from_google().id
    # A new event (it was deleted in Google and the clinic still shows it) needs its title.
    assert content.new_body()["summary"] == "Revisión"


def test_what_people_change_outside_the_owned_fields_keeps_the_hash() -> None:
    ours = event_content(appointment(), Clinic("demo"), MADRID)
    echoed = ours.body() | PEOPLE_TYPED | {"id": "x"}
    assert remote_hash(echoed) == ours.content_hash
    assert remote_hash(echoed | {"summary": "otra"}) != ours.content_hash
    google_made = event_content(from_google(), Clinic("demo"), MADRID)
    # Made in another zone and retitled: only the instants count.
    seen = google_made.body() | PEOPLE_TYPED | {"summary": "Nuevo título"}
    seen["start"] = {"dateTime": "2026-12-01T09:00:00Z"}
    seen["end"] = {"dateTime": "2026-12-01T09:30:00Z"}
    assert remote_hash(seen) == google_made.content_hash


def test_an_event_written_before_owned_fields_were_marked_hashes_as_it_always_did() -> None:
    content = event_content(appointment(), Clinic("demo", share_notes=True), MADRID)
    legacy = content.body()
    del legacy["extendedProperties"]["private"]["owned"]
    assert remote_hash(legacy) == content.content_hash


def test_an_event_made_in_google_is_marked_first_and_its_guests_hear_only_of_real_changes() -> None:
    content = event_content(from_google(), Clinic("demo"), MADRID)
    pulled = EventLink(content.appointment_id, "g1", '"e1"', None)
    mark = plan_push(content, "g1", pulled)
    assert mark == Patch("g1", content, '"e1"', mark_only=True)
    assert isinstance(mark, Patch)
    assert set(mark.body()) == {"extendedProperties"} and not mark.tells_guests
    # Google answered the marked event: same instants, so it is recorded; other times: they follow.
    same = content.body() | {"etag": '"e2"'}
    assert after_push(content.appointment_id, mark, same, None) == Record(
        EventLink(content.appointment_id, "g1", '"e2"', content.content_hash)
    )
    elsewhere = same | {"start": {"dateTime": "2026-12-05T09:00:00Z"}}
    assert after_push(content.appointment_id, mark, elsewhere, None) == Retry(Patch("g1", content, '"e2"'))
    moved = replace(content, start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=3))
    patch = plan_push(moved, "g1", EventLink(content.appointment_id, "g1", '"e2"', content.content_hash))
    assert isinstance(patch, Patch) and patch.tells_guests


def test_guests_hear_of_a_cancellation_only_of_an_event_made_in_google() -> None:
    google_made = from_google().id
    gone = plan_push(None, "g1", EventLink(google_made, "g1", '"e1"', "h"))
    assert isinstance(gone, Delete) and gone.tells_guests
    ours = plan_push(None, event_id("demo", "a1"), EventLink("a1", event_id("demo", "a1"), '"e1"', "h"))
    assert isinstance(ours, Delete) and not ours.tells_guests
    assert not Insert("x", event_content(appointment(), Clinic("demo"), MADRID)).tells_guests
