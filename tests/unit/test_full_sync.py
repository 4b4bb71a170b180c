"""A full sync of a large calendar with fakes: bounded pages per task, a checkpoint per page, the next task
queued, a crash resumed from the checkpoint, the page's event links read together; Google's daily quota."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from shared.domain.link import SyncLink
from shared.ports import SyncTokenExpired, Transient
from shared.services.pull import PullReport
from shared.services.tasks import RetryLater
from tests.fakes import MemoryCalendar, run_task
from tests.unit.conftest import World
from tests.unit.test_push_service import active_link, put

EVENTS = 9  # pages of 2: five pages, three tasks of at most two pages


def calendar_of(world: World, events: int = EVENTS) -> tuple[SyncLink, MemoryCalendar]:
    """A two-way link whose calendar holds `events` events made in Google before the link's first pull."""
    link, google = active_link(world)
    assert link.calendar_id
    for index in range(events):
        start = f"2026-12-{2 + index % 20:02d}T10:00:00+01:00"
        end = f"2026-12-{2 + index % 20:02d}T11:00:00+01:00"
        google.user_create(
            link.calendar_id,
            f"g{index:03d}",
            f"Hecho en Google {index}",
            start,
            end,
            "2026-11-20T10:00:00+00:00",
        )
    google.page_size = 2
    google.calls.clear()
    return link, google


def pull_tasks(world: World) -> list[str]:
    return [name for name in world.queue.tasks if name.startswith("pull-page-")]


def go_on(world: World, link: SyncLink) -> PullReport:
    """Run the next part of the full sync as Cloud Tasks delivers it: the queued task's payload."""
    [(_queue, payload)] = world.queue.take()
    report = run_task(world.services, world.services.settings.pull_queue, payload)
    assert isinstance(report, PullReport)
    return report


def test_a_full_sync_applies_two_pages_per_task_checkpoints_each_and_queues_the_next(world: World) -> None:
    link, google = calendar_of(world)
    pulls = world.services.pull

    first = pulls.pull("demo", link.id)
    assert first.continued and first.events == 4
    stored = world.store.links[link.id]
    assert stored.full_sync is not None and stored.full_sync.pages == 2
    assert stored.sync_token is None and stored.last_pull_at is None  # not finished: no token yet
    assert len(pull_tasks(world)) == 1
    [(queue, payload)] = world.queue.tasks.values()
    assert (queue, payload) == (
        "pull",
        {"clinicId": "demo", "linkId": link.id, "pageToken": stored.full_sync.page_token},
    )

    assert go_on(world, link).continued
    last = go_on(world, link)
    assert not last.continued and last.events == 1
    done = world.store.links[link.id]
    assert done.full_sync is None and done.sync_token is not None and done.last_pull_at is not None
    # One list call per page, every page asking for the same window: from full_sync_days_back ago to the
    # backfill's horizon ahead.
    assert google.calls == ["events.list"] * 5
    windows = {(c["timeMin"], c["timeMax"]) for c in google.listed}
    settings = world.services.settings
    now = world.clock.now()
    assert windows == {
        (now - timedelta(days=settings.full_sync_days_back), now + timedelta(days=settings.backfill_days))
    }
    assert [c["pageToken"] is None for c in google.listed] == [True, False, False, False, False]


def test_a_crash_mid_way_resumes_from_the_last_page_applied(world: World) -> None:
    link, google = calendar_of(world)
    pulls = world.services.pull
    assert pulls.pull("demo", link.id).continued  # pages 1 and 2
    checkpoint = world.store.links[link.id].full_sync
    assert checkpoint is not None
    google.fail_next = [Transient("backend", 503, "backendError")]  # the third page's list dies
    with pytest.raises(RetryLater):
        pulls.pull("demo", link.id)
    assert world.store.links[link.id].full_sync == checkpoint  # nothing lost, nothing moved on

    google.listed.clear()
    pulls.pull("demo", link.id)  # Cloud Tasks' retry of the same task
    assert google.listed[0]["pageToken"] == checkpoint.page_token  # not from zero
    world.queue.tasks.pop(next(iter(world.queue.tasks)))  # the part that failed, done by its retry
    go_on(world, link)
    done = world.store.links[link.id]
    assert done.full_sync is None and done.sync_token is not None
    # Every page was listed once, but the third which the crash cost a second list.
    assert len(google.listed) == 3


def test_an_expired_sync_token_starts_a_checkpointed_full_sync(world: World) -> None:
    link, google = calendar_of(world)
    world.store.update(link, sync_token="s1", last_pull_at=world.clock.now())
    google.fail_next = [SyncTokenExpired("gone", 410, "fullSyncRequired")]
    report = world.services.pull.pull("demo", link.id)
    assert report.continued and world.store.links[link.id].full_sync is not None
    # The next part goes on with the full sync, not with the expired token.
    go_on(world, link)
    assert all(c["syncToken"] is None for c in google.listed)


def test_a_part_lost_on_its_queue_costs_nothing_the_next_pull_resumes_from_the_checkpoint(
    world: World,
) -> None:
    link, google = calendar_of(world)
    assert world.services.pull.pull("demo", link.id).continued  # pages 1 and 2
    checkpoint = world.store.links[link.id].full_sync
    assert checkpoint is not None
    world.queue.take()  # the next part is lost (its last attempt failed, or it was never delivered)
    # A notification's pull (or the reconciliation's) goes on with the full sync at once, from the page
    # checkpointed: nothing is listed twice, and nothing waits for a task that will never come.
    assert world.services.pull.pull("demo", link.id).continued
    assert google.listed[2]["pageToken"] == checkpoint.page_token
    go_on(world, link)
    done = world.store.links[link.id]
    assert done.full_sync is None and done.sync_token is not None
    assert len(google.listed) == 5  # five pages, each listed once


def test_a_first_part_retried_after_its_checkpoint_goes_on_from_it(world: World) -> None:
    """The first task of a full sync (no page token in its payload) applies page 1, checkpoints, and dies on
    page 2: Cloud Tasks' retry of that same task resumes from page 2 instead of standing aside."""
    link, google = calendar_of(world)
    google.fail_next = [None, Transient("backend", 503, "backendError")]
    with pytest.raises(RetryLater):
        world.services.pull.pull("demo", link.id)
    checkpoint = world.store.links[link.id].full_sync
    assert checkpoint is not None and checkpoint.pages == 1
    google.listed.clear()
    assert world.services.pull.pull("demo", link.id).continued  # the retry: pages 2 and 3
    assert google.listed[0]["pageToken"] == checkpoint.page_token


class CountingRecords:
    """The memory SyncRecords, counting the calls each method gets."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.wrapped, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def test_a_page_reads_its_event_links_together_not_one_by_one(world: World) -> None:
    link, google = active_link(world)
    assert link.calendar_id
    for index in range(3):  # pushed by the clinic: they carry their appointment
        put(world, f"a{index}")
    world.services.push.push("demo", link.id, ["a0", "a1", "a2"])
    for index in range(4):  # made in Google: they carry nothing
        google.user_create(
            link.calendar_id, f"g{index}", "Google", "2026-12-02T10:00:00+01:00", "2026-12-02T11:00:00+01:00"
        )
    google.page_size = 4
    counting = CountingRecords(world.services.pull.records)
    world.services.pull.records = counting
    world.services.pull.pull("demo", link.id)  # 7 events, two pages, one task
    assert counting.calls["event_links_for"] == 2
    assert counting.calls["event_links_by_events"] == 2
    assert counting.calls["event_link"] == 0


# --- Google's daily quota ------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", ["dailyLimitExceeded", "quotaExceeded"])
def test_a_spent_daily_quota_defers_the_pull_by_an_hour_and_marks_the_link(world: World, reason: str) -> None:
    link, google = active_link(world)
    google.fail_next = [Transient("Google answered 403", 403, reason)]
    with pytest.raises(RetryLater) as refused:
        world.services.pull.pull("demo", link.id)
    assert refused.value.defer_seconds == 3600
    health = world.store.links[link.id].health
    assert health is not None and health["code"] == "daily_quota_exceeded"
    assert health["until"] == (world.clock.now() + timedelta(hours=1)).isoformat()

    world.services.pull.pull("demo", link.id)  # an hour later, Google answers again
    assert world.store.links[link.id].health is None


def test_a_spent_daily_quota_on_a_push_is_cleared_by_the_next_push(world: World) -> None:
    link, google = active_link(world)
    put(world, "a1")
    google.fail_next = [Transient("Google answered 403", 403, "dailyLimitExceeded")]
    with pytest.raises(RetryLater) as refused:
        world.services.push.push("demo", link.id, ["a1"])
    assert refused.value.defer_seconds == 3600
    assert world.store.links[link.id].health is not None
    world.services.push.push("demo", link.id, ["a1"])
    assert world.store.links[link.id].health is None


def test_a_rate_limit_still_waits_a_minute_and_marks_nothing(world: World) -> None:
    link, google = active_link(world)
    google.fail_next = [Transient("Google answered 403", 403, "rateLimitExceeded")]
    with pytest.raises(RetryLater) as refused:
        world.services.pull.pull("demo", link.id)
    assert refused.value.defer_seconds == 60
    assert world.store.links[link.id].health is None


def test_a_full_sync_ends_with_the_last_pull_set_to_when_its_first_page_was_listed(world: World) -> None:
    """Google's sync token from the last page stands for the calendar as the first page saw it: an event
    made in Google while the parts ran is new to a later link that adopts the calendar from this pull."""
    link, _google = calendar_of(world)
    began = world.clock.now()
    assert world.services.pull.pull("demo", link.id).continued  # pages 1 and 2
    world.clock.advance(minutes=5)
    assert go_on(world, link).continued  # pages 3 and 4
    world.clock.advance(minutes=5)
    assert not go_on(world, link).continued  # page 5, and the sync token
    done = world.store.links[link.id]
    assert done.full_sync is None and done.last_pull_at == began
    # An incremental pull's last pull is when its listing began too.
    world.clock.advance(minutes=5)
    later = world.clock.now()
    world.services.pull.pull("demo", link.id)
    assert world.store.links[link.id].last_pull_at == later
