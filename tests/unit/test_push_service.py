"""Pushing, with fakes: fan-out, coalescing, adoption, 412, transient and revoked access."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.firestore_codec import appointment_change
from shared.domain.clinic import Appointment, AppointmentStatus, Center, Privacy
from shared.domain.errors import InvalidRequest
from shared.domain.event_link import event_id
from shared.domain.link import LinkStatus, SyncLink
from shared.ports import AdminBlocked, AuthRevoked, CalendarDeleted, ClientDeleted, GoogleError, Transient
from shared.services.tasks import RetryLater
from tests.fakes import MemoryCalendar
from tests.unit.conftest import World

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def active_link(
    world: World, user: str = "pautrave", email: str = "pau@gmail.com", two_way: bool = True
) -> tuple[SyncLink, MemoryCalendar]:
    link, url = world.services.linking.start("demo", "centro-b", user, None, two_way, None)
    world.consent("code-" + user, email)
    held = world.services.linking.complete(url.split("state=")[1], "code-" + user, None)
    assert held.code
    world.services.linking.redeem("demo", user, link.id, held.code)
    active = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    world.queue.take()
    google = world.calendars.accounts["refresh-" + email]
    google.calls.clear()
    return active, google


def put(world: World, appointment_id: str = "a1", **changes: object) -> Appointment:
    fields: dict[str, object] = {
        "clinic_id": "demo",
        "id": appointment_id,
        "professional_id": "marina",
        "center_id": "centro-b",
        "start": START,
        "end": START + timedelta(minutes=30),
        "patient_name": "Ana López",
    }
    fields.update(changes)
    appointment = Appointment(**fields)  # type: ignore[arg-type]
    world.directory.appointments[("demo", appointment_id)] = appointment
    return appointment


def write(world: World, appointment_id: str, old: dict | None, new: dict | None, stamp: int) -> int:
    when = START + timedelta(seconds=stamp)
    return world.services.push.fan_out(appointment_change("demo", appointment_id, old, new, when))


def run_tasks(world: World) -> None:
    for _, payload in world.queue.take():
        world.services.push.push(payload["clinicId"], payload["linkId"], [payload["appointmentId"]])


def test_create_move_cancel_keep_exactly_one_correct_event(world: World) -> None:
    link, google = active_link(world)
    put(world)
    assert write(world, "a1", None, {"professionalId": "marina"}, 1) == 1
    run_tasks(world)
    [event] = google.live(link.calendar_id or "").values()
    assert event["id"] == event_id("demo", "a1") and event["summary"] == "Cita"
    assert "López" not in repr(event)
    put(world, start=START + timedelta(hours=2), end=START + timedelta(hours=3))
    write(world, "a1", {"professionalId": "marina"}, {"professionalId": "marina"}, 2)
    run_tasks(world)
    [event] = google.live(link.calendar_id or "").values()
    assert event["start"]["dateTime"] == "2026-12-01T12:00:00+01:00"
    put(world, status=AppointmentStatus.CANCELLED)
    write(world, "a1", {"professionalId": "marina"}, {"professionalId": "marina"}, 3)
    run_tasks(world)
    assert google.live(link.calendar_id or "") == {}
    assert google.calls == ["events.insert", "events.patch", "events.delete"]


def test_a_burst_and_duplicated_deliveries_cost_one_call(world: World) -> None:
    _link, google = active_link(world)
    put(world)
    for stamp in range(10):
        write(world, "a1", None, {"professionalId": "marina"}, stamp)
    write(world, "a1", None, {"professionalId": "marina"}, 9)  # a duplicated delivery enqueues nothing
    assert len(world.queue.tasks) == 10
    run_tasks(world)
    assert google.calls == ["events.insert"]


def test_other_professionals_and_inactive_links_get_nothing(world: World) -> None:
    link, google = active_link(world)
    put(world, "j1", professional_id="jordi")
    assert write(world, "j1", None, {"professionalId": "jordi"}, 1) == 0
    world.services.push.push("demo", link.id, ["j1"])  # a stray task for the wrong agenda
    assert google.live(link.calendar_id or "") == {}


def test_moving_to_another_professional_removes_the_event(world: World) -> None:
    link, google = active_link(world)
    put(world)
    write(world, "a1", None, {"professionalId": "marina"}, 1)
    run_tasks(world)
    put(world, professional_id="jordi")
    assert write(world, "a1", {"professionalId": "marina"}, {"professionalId": "jordi"}, 2) == 1
    run_tasks(world)
    assert google.live(link.calendar_id or "") == {}


def test_pull_written_changes_are_not_pushed_back_to_their_link(world: World) -> None:
    link, _ = active_link(world)
    marker = {"syncSource": {"linkId": link.id, "at": 1}}
    assert write(world, "a1", {"professionalId": "marina"}, {"professionalId": "marina", **marker}, 1) == 0
    # A later clinic edit keeps the old marker: it is pushed.
    assert (
        write(world, "a1", {"professionalId": "marina", **marker}, {"professionalId": "marina", **marker}, 2)
        == 1
    )


def test_insert_answered_409_adopts_the_event_and_restores_it(world: World) -> None:
    link, google = active_link(world)
    appointment = put(world)
    world.services.push.push("demo", link.id, ["a1"])
    google.live(link.calendar_id or "")[event_id("demo", "a1")]["status"] = "cancelled"
    world.store.event_links.clear()  # as after a redo: we remember nothing
    world.services.push.push("demo", link.id, ["a1"])
    assert google.calls[-2:] == ["events.insert", "events.patch"]
    [event] = google.live(link.calendar_id or "").values()
    assert event["status"] == "confirmed" and appointment.id in repr(event)


def test_412_rereads_the_etag_and_the_clinic_wins(world: World) -> None:
    link, google = active_link(world)
    put(world)
    world.services.push.push("demo", link.id, ["a1"])
    event = google.calendars[link.calendar_id or ""][event_id("demo", "a1")]
    event.update(summary="edited in Google", etag='"someone-else"')
    put(world, service="Fisio")
    world.services.push.push("demo", link.id, ["a1"])
    assert google.calls[-3:] == ["events.patch", "events.get", "events.patch"]
    assert event["summary"] == "Fisio"


def test_transient_errors_ask_for_a_retry_then_succeed(world: World) -> None:
    link, google = active_link(world)
    put(world)
    google.fail_next = [Transient("busy", 429, "rateLimitExceeded")]
    with pytest.raises(RetryLater):
        world.services.push.push("demo", link.id, ["a1"])
    world.services.push.push("demo", link.id, ["a1"])
    assert len(google.live(link.calendar_id or "")) == 1


def test_revoked_access_marks_the_link_and_notifies_once(world: World) -> None:
    link, google = active_link(world)
    put(world)
    google.fail_next = [AuthRevoked("invalid_grant", 400, "invalid_grant")]
    report = world.services.push.push("demo", link.id, ["a1"])
    assert report.skipped == "google access lost"
    assert world.store.links[link.id].status is LinkStatus.NEEDS_RECONNECT
    notified = {n.user.id for n in world.notifier.notices if n.type == "link_needs_reconnect"}
    assert notified == {"admin", "pautrave"}
    count = len(world.notifier.notices)
    assert world.services.push.push("demo", link.id, ["a1"]).skipped == "link not active"
    assert len(world.notifier.notices) == count


@pytest.mark.parametrize(
    ("error", "reason", "subject"),
    [
        (CalendarDeleted("gone", 404, "notFound"), "calendar_deleted", "Se ha eliminado el calendario"),
        (AdminBlocked("policy", 400, "admin_policy_enforced"), "admin_blocked", "El administrador"),
        (ClientDeleted("client", 401, "deleted_client"), "client_deleted", "Google ha dejado de reconocer"),
    ],
)
def test_a_lost_calendar_or_a_refused_app_marks_the_link_with_its_reason_once(
    world: World, error: GoogleError, reason: str, subject: str
) -> None:
    link, google = active_link(world)
    put(world)
    google.fail_next = [error]
    assert world.services.push.push("demo", link.id, ["a1"]).skipped == "google access lost"
    lost = world.store.links[link.id]
    assert lost.status is LinkStatus.NEEDS_RECONNECT and lost.reason == reason
    told = [n for n in world.notifier.notices if n.type == "link_needs_reconnect"]
    assert {n.user.id for n in told} == {"admin", "pautrave"} and len(told) == 2
    assert all(n.subject.startswith(subject) and n.details == {"reason": reason} for n in told)


def test_bad_time_zone_is_recorded_not_retried(world: World) -> None:
    link, google = active_link(world)
    world.directory.centers[("demo", "centro-b")] = Center("demo", "centro-b", "B", "Nowhere/Atlantis")
    put(world)
    report = world.services.push.push("demo", link.id, ["a1"])
    assert report.failed == 1 and google.calls == []
    assert (world.store.links[link.id].last_error or {})["code"] == "invalid_time_zone"


def test_backfill_pushes_upcoming_appointments_of_the_agenda_only(world: World) -> None:
    link, google = active_link(world)
    now = world.clock.now()
    put(world, "past", start=now - timedelta(days=1), end=now - timedelta(days=1, minutes=-30))
    put(world, "soon", start=now + timedelta(days=1), end=now + timedelta(days=1, minutes=30))
    put(world, "later", start=now + timedelta(days=30), end=now + timedelta(days=30, minutes=30))
    put(
        world,
        "other",
        professional_id="jordi",
        start=now + timedelta(days=2),
        end=now + timedelta(days=2, hours=1),
    )
    report = world.services.push.backfill("demo", link.id)
    assert report.done == 2
    ids = {
        e["extendedProperties"]["private"]["appointmentId"]
        for e in google.live(link.calendar_id or "").values()
    }
    assert ids == {"soon", "later"}
    assert world.services.push.backfill("demo", link.id).unchanged == 2  # idempotent


def test_disabled_link_is_not_pushed(world: World) -> None:
    link, _google = active_link(world)
    world.store.links[link.id] = replace(link, status=LinkStatus.DISABLED)
    put(world)
    assert world.services.push.push("demo", link.id, ["a1"]).skipped == "link not active"


def test_the_upkeep_backfills_a_link_whose_clinic_changed_its_privacy(world: World) -> None:
    link, google = active_link(world)
    put(world, "a1", service="Fisioterapia")
    assert world.services.push.privacy_upkeep() == 1  # never backfilled: no choices recorded yet
    world.queue.take()
    world.services.push.backfill("demo", link.id)
    assert world.store.links[link.id].pushed_privacy == "none"
    assert world.services.push.privacy_upkeep() == 0
    world.directory.clinics["demo"] = replace(world.directory.clinics["demo"], privacy=Privacy.FULL)
    assert world.services.push.privacy_upkeep() == 1
    [(_, payload)] = world.queue.take()
    assert payload == {"clinicId": "demo", "linkId": link.id, "backfill": True}
    world.services.push.backfill("demo", link.id)
    assert (
        google.calendars[link.calendar_id or ""][event_id("demo", "a1")]["summary"]
        == "Fisioterapia · Ana López"
    )
    assert world.store.links[link.id].pushed_privacy == "full"
    assert world.services.push.privacy_upkeep() == 0


def test_a_malformed_clinic_is_recorded_and_skipped_never_raised(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    link, _ = active_link(world)
    put(world, "a1")

    def malformed(clinic_id: str) -> None:
        raise InvalidRequest("La clínica no es válida (privacy).", code="invalid_clinic")

    monkeypatch.setattr(world.directory, "clinic", malformed)
    assert world.services.push.privacy_upkeep() == 0
    assert world.services.push.push("demo", link.id, ["a1"]).skipped == "clinic document not valid"
    assert (world.store.links[link.id].last_error or {})["code"] == "invalid_clinic"
