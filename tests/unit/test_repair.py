"""Nothing lost without a trace, with fakes: the drift planner, dead letters, the drift check and resync."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.clinic import Appointment, AppointmentStatus
from shared.domain.errors import Conflict, NotFound
from shared.domain.event import PROP_APPOINTMENT, PROP_CLINIC
from shared.domain.event_link import EventLink, event_id
from shared.domain.link import LinkStatus, SyncLink
from shared.domain.repair import (
    DeadLetter,
    LostWork,
    calendar_drift,
    cancelled_ids,
    is_last_attempt,
    letter_key,
    plan_drift,
)
from shared.ports import Transient
from shared.services.repair import DriftReport
from shared.services.tasks import PullWork, PushWork, RetryLater, pull_work, push_work
from tests.fakes import MemoryCalendar, run_task
from tests.unit import test_push_service as pushing
from tests.unit.conftest import World

T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


# --- the deciders ------------------------------------------------------------------------------------
def test_the_last_attempt_is_the_one_whose_retries_reach_the_queues_attempts() -> None:
    assert not is_last_attempt(0, 10)
    assert not is_last_attempt(8, 10)
    assert is_last_attempt(9, 10)
    assert is_last_attempt(12, 10)  # a queue shortened meanwhile: past its end is the last too
    assert not is_last_attempt(None, 10)  # not delivered by Cloud Tasks: never the last
    assert is_last_attempt(0, 1)


def test_one_letter_per_lost_thing() -> None:
    assert letter_key(LostWork.PUSH, "a1") == "push-a1"
    assert letter_key(LostWork.BACKFILL) == "backfill"
    assert letter_key(LostWork.PULL) == "pull"
    assert DeadLetter(LostWork.PUSH, "a1", "retry_later", 10, T).key == "push-a1"


def ours(appointment_id: str, etag: str, **fields: Any) -> dict[str, Any]:
    private = {PROP_CLINIC: "demo", PROP_APPOINTMENT: appointment_id}
    return {
        "id": event_id("demo", appointment_id),
        "etag": etag,
        "status": "confirmed",
        "extendedProperties": {"private": private},
        **fields,
    }


def recorded(appointment_id: str, etag: str | None, deleted: bool = False) -> EventLink:
    return EventLink(appointment_id, event_id("demo", appointment_id), etag, "hash", deleted=deleted)


def test_calendar_drift_names_what_google_holds_otherwise_than_we_recorded() -> None:
    events = [
        ours("mine", '"5"'),  # our own write: the etag we recorded
        ours("edited", '"9"'),  # changed by someone in Google
        ours("unknown", '"3"'),  # ours, never recorded (a lost record)
        ours("revived", '"4"'),  # present although we recorded it deleted
        {"id": event_id("demo", "removed"), "status": "cancelled"},  # deleted in Google
        {"id": event_id("demo", "gone"), "status": "cancelled"},  # deleted by us: recorded deleted
        {"id": "made-in-google", "etag": '"1"', "status": "confirmed", "summary": "Café"},
    ]
    assert cancelled_ids(events) == [event_id("demo", "removed"), event_id("demo", "gone")]
    found = calendar_drift(
        events,
        "demo",
        {
            "mine": recorded("mine", '"5"'),
            "edited": recorded("edited", '"2"'),
            "revived": recorded("revived", None, deleted=True),
        },
        {
            event_id("demo", "removed"): recorded("removed", '"7"'),
            event_id("demo", "gone"): recorded("gone", None, deleted=True),
        },
    )
    assert found == [
        EventLink("edited", event_id("demo", "edited"), '"9"', None),
        EventLink("unknown", event_id("demo", "unknown"), '"3"', None),
        EventLink("revived", event_id("demo", "revived"), '"4"', None),
        EventLink("removed", event_id("demo", "removed"), None, None, deleted=True),
    ]


def test_calendar_drift_keeps_the_series_of_an_instance_it_records() -> None:
    # Instances made in Google, marked as their appointments': their ids are opaque, their series named.
    edited = ours("i1", '"9"', id="abcdefghij12345", recurringEventId="s1")
    removed = {"id": "klmnopqrst67890", "status": "cancelled"}  # a cancellation need not name its series
    known = replace(recorded("i2", '"7"'), event_id=removed["id"], series_id="s1")
    before = replace(recorded("i1", '"2"'), event_id=edited["id"])  # recorded before the series was kept
    found = calendar_drift([edited, removed], "demo", {"i1": before}, {removed["id"]: known})
    assert found == [
        EventLink("i1", edited["id"], '"9"', None, series_id="s1"),
        EventLink("i2", removed["id"], None, None, deleted=True, series_id="s1"),
    ]


def test_the_drift_plan_repairs_corrections_stale_pushes_and_every_letter() -> None:
    letters = [
        DeadLetter(LostWork.PUSH, "lost", "retry_later", 10, T),
        DeadLetter(LostWork.PUSH, "stale", "internal", 10, T),
        DeadLetter(LostWork.BACKFILL, None, "retry_later", 10, T),
        DeadLetter(LostWork.PULL, None, "retry_later", 10, T),
    ]
    correction = EventLink("edited", "ev", '"9"', None)
    plan = plan_drift(corrections=[correction], stale=["stale"], letters=letters, two_way=True)
    assert plan.corrections == (correction,)
    assert plan.appointments == ("edited", "stale", "lost")  # each once
    assert plan.backfill and plan.pull
    one_way = plan_drift(corrections=[], stale=[], letters=letters[3:], two_way=False)
    assert not one_way.pull and one_way.empty  # a one-way link has no pull to lose
    assert plan_drift(corrections=[], stale=[], letters=[], two_way=False).empty


def test_a_resync_and_a_full_pull_are_named_once_per_window_and_read_back(world: World) -> None:
    link = replace(_a_link(), bidirectional=True)
    assert world.services.tasks.resync(link) == ["backfill", "pull"]
    assert world.services.tasks.resync(link) == []  # asked twice within the window: nothing more
    payloads = [payload for _, payload in world.queue.take()]
    assert push_work(payloads[0]) == PushWork("demo", link.id)
    assert pull_work(payloads[1]) == PullWork("demo", link.id, full=True)
    world.clock.advance(seconds=61)
    assert world.services.tasks.resync(replace(link, bidirectional=False)) == ["backfill"]


def _a_link() -> SyncLink:
    return SyncLink("l1", "demo", "centro-b", "pautrave", "marina", False, LinkStatus.ACTIVE, T)


# --- with the services ---------------------------------------------------------------------------------
def active_link(world: World, *, two_way: bool = False) -> tuple[SyncLink, MemoryCalendar]:
    return pushing.active_link(world, two_way=two_way)


def put(world: World, appointment_id: str = "a1", **changes: Any) -> Appointment:
    """An appointment as the clinic app writes it, stamped with updatedAt unless told otherwise."""
    return pushing.put(world, appointment_id, **{"updated_at": world.clock.now(), **changes})


def run_tasks(world: World) -> list[str]:
    """Run every queued task as its worker would; answers their kinds."""
    kinds = []
    while tasks := world.queue.take():
        for queue, payload in tasks:
            if queue == world.services.settings.push_queue:
                work = push_work(payload)
                kinds.append("backfill" if work.backfill else "push")
            else:
                kinds.append("pull")
            run_task(world.services, queue, payload)
    return kinds


def current(world: World, link: SyncLink) -> SyncLink:
    found = world.services.links.get("demo", link.id)
    assert found is not None
    return found


def check(world: World) -> DriftReport:
    world.clock.advance(minutes=30)
    return world.services.repair.drift_check()


def test_a_lost_push_is_a_dead_letter_on_the_link_until_a_later_push_heals_it(world: World) -> None:
    link, google = active_link(world)
    put(world)
    lost = world.services.repair.dead_letter(PushWork("demo", link.id, "a1"), "retry_later", 10)
    assert lost is not None and lost.kind is LostWork.PUSH
    after = current(world, link)
    assert after.pending_failures == 1 and after.status is LinkStatus.ACTIVE
    assert after.last_error is not None and after.last_error["code"] == "dead_letter"
    world.services.repair.dead_letter(PushWork("demo", link.id, "a1"), "retry_later", 10)  # lost again: one
    assert current(world, link).pending_failures == 1
    world.services.push.push("demo", link.id, ["a1"])
    assert current(world, link).pending_failures == 0
    assert world.services.repairs.dead_letters(link) == []
    assert len(google.live(link.calendar_id or "")) == 1


def test_a_dead_letter_of_a_link_that_is_gone_is_dropped(world: World) -> None:
    assert world.services.repair.dead_letter(PullWork("demo", "no-such-link"), "internal", 10) is None


def test_the_drift_check_heals_a_push_google_failed_past_its_retries(world: World) -> None:
    link, google = active_link(world)
    put(world)
    google.fail_next = [Transient("backendError", 500, "backendError")]
    with pytest.raises(RetryLater):
        world.services.push.push("demo", link.id, ["a1"])
    world.services.repair.dead_letter(PushWork("demo", link.id, "a1"), "retry_later", 10)
    assert google.live(link.calendar_id or "") == {}
    check(world)
    assert run_tasks(world) == ["push"]
    [event] = google.live(link.calendar_id or "").values()
    assert event["id"] == event_id("demo", "a1")
    assert current(world, link).pending_failures == 0


def test_the_drift_check_finds_a_write_whose_push_never_ran(world: World) -> None:
    link, google = active_link(world)
    world.services.repair.drift_check()  # the first check: nothing yet
    put(world)  # written; its trigger delivery and task are lost (nothing enqueued)
    check(world)
    assert run_tasks(world) == ["push"]
    assert len(google.live(link.calendar_id or "")) == 1
    # Pushed: the next check finds nothing to repair, though the appointment is still within the overlap.
    world.services.repair.drift_check()
    assert run_tasks(world) == []


def test_the_drift_check_restores_what_someone_changed_or_deleted_in_a_one_way_calendar(world: World) -> None:
    link, google = active_link(world)
    calendar = link.calendar_id or ""
    for appointment_id in ("a1", "a2", "a3"):
        put(world, appointment_id)
    world.services.push.push("demo", link.id, ["a1", "a2", "a3"])
    world.services.repair.drift_check()
    google.user_edit(calendar, event_id("demo", "a1"), summary="Otra cosa")
    google.calendars[calendar][event_id("demo", "a2")].update(status="cancelled")
    google._touch(google.calendars[calendar][event_id("demo", "a2")])
    put(world, "a3", status=AppointmentStatus.CANCELLED, updated_at=T - timedelta(days=1))  # lost, unstamped
    google.calls.clear()
    check(world)
    assert sorted(run_tasks(world)) == ["push", "push"]
    live = google.live(calendar)
    assert live[event_id("demo", "a1")]["summary"] == "Cita"
    assert event_id("demo", "a2") in live
    # a3's cancellation carried no updatedAt and its push was lost: only a resync finds it.
    assert event_id("demo", "a3") in live
    world.services.repair.resync("demo", "pautrave", link.id)
    run_tasks(world)
    assert event_id("demo", "a3") not in google.live(calendar)


def test_a_quiet_check_costs_one_calendar_call_per_one_way_link_and_none_per_two_way(world: World) -> None:
    link, google = active_link(world)
    put(world)
    world.services.push.push("demo", link.id, ["a1"])
    world.services.repair.drift_check()
    google.calls.clear()
    for _ in range(3):
        check(world)
    assert google.calls == ["events.list"] * 3
    assert run_tasks(world) == []
    world.services.linking.disable("demo", "pautrave", link.id)
    two_way, google = active_link(world, two_way=True)
    world.services.repair.drift_check()
    check(world)
    assert google.calls == []


def test_a_two_way_links_lost_pull_is_healed_by_a_full_pull(world: World) -> None:
    link, _google = active_link(world, two_way=True)
    world.services.repair.dead_letter(PullWork("demo", link.id), "retry_later", 10)
    world.services.repair.drift_check()
    assert run_tasks(world) == ["pull"]
    assert current(world, link).pending_failures == 0


def test_a_lost_backfill_is_healed_by_a_backfill(world: World) -> None:
    link, google = active_link(world)
    put(world)
    world.services.repair.dead_letter(PushWork("demo", link.id), "retry_later", 10)
    world.services.repair.drift_check()
    assert "backfill" in run_tasks(world)
    assert current(world, link).pending_failures == 0
    assert len(google.live(link.calendar_id or "")) == 1


def test_a_link_google_is_busy_for_is_left_to_the_next_check(world: World) -> None:
    link, google = active_link(world)
    world.services.repair.drift_check()
    checked = current(world, link).drift_checked_at
    google.fail_next = [Transient("backendError", 503, "backendError")]
    assert check(world).skipped == 1
    assert current(world, link).drift_checked_at == checked  # not checked: the same changes next time
    assert check(world).skipped == 0
    assert current(world, link).drift_checked_at == world.clock.now()


def test_resync_is_for_the_owner_or_a_master_of_an_active_link(world: World) -> None:
    link, _google = active_link(world, two_way=True)
    assert world.services.repair.resync("demo", "pautrave", link.id)[1] == ["backfill", "pull"]
    world.clock.advance(seconds=61)
    assert world.services.repair.resync("demo", "admin", link.id)[1] == ["backfill", "pull"]
    with pytest.raises(NotFound):
        world.services.repair.resync("demo", "marina", link.id)  # someone else's link
    world.services.linking.disable("demo", "pautrave", link.id)
    with pytest.raises(Conflict) as refused:
        world.services.repair.resync("demo", "pautrave", link.id)
    assert refused.value.code == "link_not_active"


def test_the_drift_check_removes_an_appointment_moved_to_another_agenda_whose_push_was_lost(
    world: World,
) -> None:
    link, google = active_link(world)
    put(world)
    world.services.push.push("demo", link.id, ["a1"])
    world.services.repair.drift_check()
    world.clock.advance(minutes=5)
    put(world, professional_id="jordi")  # its trigger delivery is lost
    check(world)
    assert run_tasks(world) == ["push"]
    assert google.live(link.calendar_id or "") == {}
