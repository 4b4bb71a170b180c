"""Google to clinic with fakes: echoes, moves, cancels, creations, conflicts; notifications and channels."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.domain.clinic import AppointmentStatus
from shared.domain.errors import Forbidden
from shared.domain.event_link import event_id
from shared.domain.link import LinkStatus
from shared.ports import Transient
from shared.services.channels import Notification
from shared.services.tasks import RetryLater
from tests.unit.conftest import World
from tests.unit.test_push_service import START, active_link, put


def two_way(world: World):  # type: ignore[no-untyped-def]
    link, google = active_link(world)
    assert link.bidirectional and link.channel is not None
    world.services.pull.pull("demo", link.id)  # the baseline
    google.calls.clear()
    return link, google


def pushed(world: World, link, appointment_id: str = "a1", **changes: object):  # type: ignore[no-untyped-def]
    put(world, appointment_id, **changes)
    world.services.push.push("demo", link.id, [appointment_id])


def test_our_own_changes_come_back_as_echoes_and_cost_nothing(world: World) -> None:
    link, google = two_way(world)
    pushed(world, link)
    report = world.services.pull.pull("demo", link.id)
    assert (report.events, report.applied, report.pushed_back) == (1, 0, 0)
    assert world.directory.pull_writes == []
    assert google.calls == ["events.insert", "events.list"]


def test_moved_in_google_moves_the_appointment_with_the_marker(world: World) -> None:
    link, google = two_way(world)
    pushed(world, link)
    google.user_edit(
        link.calendar_id,
        event_id("demo", "a1"),
        start={"dateTime": "2026-12-01T12:00:00+01:00", "timeZone": "Europe/Madrid"},
        end={"dateTime": "2026-12-01T13:15:00+01:00", "timeZone": "Europe/Madrid"},
    )
    report = world.services.pull.pull("demo", link.id)
    assert report.applied == 1 and report.pushed_back == 0
    moved = world.directory.appointments[("demo", "a1")]
    assert moved.start == START + timedelta(hours=2) and moved.end == START + timedelta(hours=3, minutes=15)
    assert world.directory.pull_writes == [("a1", link.id)]
    calls = len(google.calls)
    world.services.push.push("demo", link.id, ["a1"])  # the push the write would cause: nothing to do
    world.services.pull.pull("demo", link.id)
    assert google.calls[calls:] == ["events.list"]


def test_cancelled_in_google_cancels_the_appointment(world: World) -> None:
    link, google = two_way(world)
    pushed(world, link)
    google.user_edit(link.calendar_id, event_id("demo", "a1"), status="cancelled")
    world.services.pull.pull("demo", link.id)
    assert world.directory.appointments[("demo", "a1")].status is AppointmentStatus.CANCELLED


def test_created_in_google_becomes_an_appointment_without_patient_once(world: World) -> None:
    link, google = two_way(world)
    google.user_create(
        link.calendar_id, "gevent1", "Reunión", "2026-12-02T10:00:00+01:00", "2026-12-02T11:00:00+01:00"
    )
    world.services.pull.pull("demo", link.id)
    world.services.pull.pull("demo", link.id)
    [(key, created)] = [(k, a) for k, a in world.directory.appointments.items() if a.origin]
    assert created.professional_id == "marina" and created.center_id == link.center_id
    assert created.patient_name is None and created.title == "Reunión"
    assert created.origin is not None and created.origin.event_id == "gevent1"
    calls = len(google.calls)
    world.services.push.push("demo", link.id, [key[1]])  # its push addresses Google's own event
    assert "events.insert" not in google.calls[calls:]


def test_both_sides_changed_the_clinic_wins_and_the_conflict_is_counted(world: World) -> None:
    link, google = two_way(world)
    pushed(world, link)
    google.user_edit(
        link.calendar_id,
        event_id("demo", "a1"),
        start={"dateTime": "2026-12-01T15:00:00+01:00"},
        end={"dateTime": "2026-12-01T16:00:00+01:00"},
    )
    put(world, start=START + timedelta(hours=1), end=START + timedelta(hours=2))  # clinic moved it too
    report = world.services.pull.pull("demo", link.id)
    assert report.conflicts == 1
    assert world.store.links[link.id].conflicts == 1
    event = google.calendars[link.calendar_id][event_id("demo", "a1")]
    assert event["start"]["dateTime"] == "2026-12-01T11:00:00+01:00"
    assert world.directory.appointments[("demo", "a1")].start == START + timedelta(hours=1)


def test_first_pull_takes_a_baseline_without_importing_existing_events(world: World) -> None:
    link, google = active_link(world)
    google.user_create(
        link.calendar_id,
        "old1",
        "Antes",
        "2026-12-02T10:00:00+01:00",
        "2026-12-02T11:00:00+01:00",
        updated="2026-11-24T10:00:00+00:00",  # before the link was active: not new
    )
    world.clock.advance(minutes=1)
    google.user_create(
        link.calendar_id, "new1", "Despues", "2026-12-02T12:00:00+01:00", "2026-12-02T13:00:00+01:00"
    )
    world.services.pull.pull("demo", link.id)
    [(created, _)] = world.directory.pull_writes
    assert world.directory.appointments[("demo", created)].title == "Despues"
    assert world.store.links[link.id].sync_token is not None


def test_one_way_links_never_write_to_the_clinic(world: World) -> None:
    link, _google = active_link(world)
    world.store.links[link.id] = replace(world.store.links[link.id], bidirectional=False)
    assert world.services.pull.pull("demo", link.id).skipped


class TestWebhook:
    def test_bad_token_is_refused(self, world: World) -> None:
        link, _ = two_way(world)
        assert link.channel
        with pytest.raises(Forbidden):
            world.services.channels.notification(link.channel.id, "forged", "exists")

    def test_sync_is_acknowledged_and_a_burst_queues_one_pull(self, world: World) -> None:
        link, _ = two_way(world)
        assert link.channel
        token = world.services.channels.token_for(link.channel.id)
        world.queue.take()
        assert (
            world.services.channels.notification(link.channel.id, token, "sync") is Notification.ACKNOWLEDGED
        )
        for _ in range(5):
            world.services.channels.notification(link.channel.id, token, "exists")
        assert [p for _, p in world.queue.take()] == [{"clinicId": "demo", "linkId": link.id}]

    def test_unknown_or_stopped_channels_are_ignored(self, world: World) -> None:
        link, _ = two_way(world)
        channel = link.channel
        assert channel
        world.services.linking.disable("demo", "pautrave", link.id)
        token = world.services.channels.token_for(channel.id)
        assert world.services.channels.notification(channel.id, token, "exists") is Notification.IGNORED


def test_renewal_replaces_expiring_channels_new_first_then_stops_the_old(world: World) -> None:
    link, google = two_way(world)
    old = link.channel
    assert old
    world.clock.advance(days=6, hours=12)
    report = world.services.channels.renew()
    assert report.renewed == 1
    fresh = world.store.links[link.id].channel
    assert fresh and fresh.id != old.id
    assert google.stopped == [old.id]
    assert world.services.channel_index.channel_owner(
        old.id
    ) is None and world.services.channel_index.channel_owner(fresh.id)


def test_disable_stops_the_channel(world: World) -> None:
    link, google = two_way(world)
    world.services.linking.disable("demo", "pautrave", link.id)
    assert link.channel and google.stopped == [link.channel.id]
    assert world.store.links[link.id].status is LinkStatus.DISABLED


def test_a_pull_retried_before_the_event_was_marked_counts_no_conflict(world: World) -> None:
    link, google = two_way(world)
    google.user_create(
        link.calendar_id, "gevent1", "Reunión", "2026-12-02T10:00:00+01:00", "2026-12-02T11:00:00+01:00"
    )
    listing = google.list_events

    def list_then_fail_the_marking(*args: Any, **kwargs: Any) -> Any:
        google.list_events = listing  # type: ignore[method-assign]
        page = listing(*args, **kwargs)
        google.fail_next = [Transient("Google answered 503 backendError", 503, "backendError")]
        return page

    google.list_events = list_then_fail_the_marking  # type: ignore[method-assign]
    with pytest.raises(RetryLater):
        world.services.pull.pull("demo", link.id)  # created the appointment; marking the event failed
    report = world.services.pull.pull("demo", link.id)  # Cloud Tasks' retry
    assert report.conflicts == 0 and world.store.links[link.id].conflicts == 0
    [appointment] = [a for a in world.directory.appointments.values() if a.origin]
    marked = google.calendars[link.calendar_id]["gevent1"]
    assert marked["extendedProperties"]["private"]["appointmentId"] == appointment.id
