"""SyncStatus: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shared.domain.event_link import EventLink
from shared.domain.link import FullSyncProgress, LinkStatus
from tests.integration.ports.conftest import T0, Backend, a_channel, a_link

PUSHED = T0 + timedelta(minutes=5)


def event(appointment_id: str) -> EventLink:
    return EventLink(appointment_id, "ev" + appointment_id, '"1"', "hash-" + appointment_id)


def test_save_error_records_the_last_error_and_touches_nothing_else(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0, sync_token="tok", channel=a_channel("ch1", timedelta(days=1)))
    backend.links.save(link)
    error = {"code": "invalid_time_zone", "message": "zona horaria no válida", "at": T0.isoformat()}
    stale = replace(link, status=LinkStatus.DISABLED, sync_token=None)  # what the caller holds may be old
    backend.status.save_error(stale, error)
    assert backend.links.get("demo", "l1") == replace(link, last_error=error)


def test_save_pushed_privacy_records_it_and_touches_nothing_else(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0, sync_token="tok", last_error={"code": "quota"})
    backend.links.save(link)
    stale = replace(link, status=LinkStatus.DISABLED, sync_token=None)
    backend.status.save_pushed_privacy(stale, "full+notes")
    assert backend.links.get("demo", "l1") == replace(link, pushed_privacy="full+notes")


def test_save_pull_records_the_token_the_time_and_adds_conflicts(backend: Backend) -> None:
    link = a_link("l1", conflicts=1, last_push_at=T0, last_error={"code": "quota"})
    backend.links.save(link)
    pulled = T0 + timedelta(minutes=3)
    backend.status.save_pull(link, "tok-2", pulled, 2)
    assert backend.links.get("demo", "l1") == replace(
        link, sync_token="tok-2", last_pull_at=pulled, conflicts=3
    )
    again = pulled + timedelta(minutes=1)
    backend.status.save_pull(link, None, again, 0)  # a full sync starts again without a token
    assert backend.links.get("demo", "l1") == replace(link, sync_token=None, last_pull_at=again, conflicts=3)


HEALTH = {
    "code": "daily_quota_exceeded",
    "message": "Google answered 403",
    "at": T0.isoformat(),
    "until": "x",
}


def test_save_full_sync_checkpoints_adds_conflicts_and_save_pull_ends_it(backend: Backend) -> None:
    link = a_link("l1", conflicts=1, sync_token="old", last_error={"code": "quota"})
    backend.links.save(link)
    progress = FullSyncProgress(
        "page-3", T0 - timedelta(days=30), T0 + timedelta(days=365), 2, T0 + timedelta(minutes=1), T0
    )
    backend.status.save_full_sync(link, progress, 2)
    assert backend.links.get("demo", "l1") == replace(link, full_sync=progress, conflicts=3)
    backend.status.save_full_sync(link, replace(progress, page_token="page-5", pages=4), 0)
    moved = backend.links.get("demo", "l1")
    assert moved is not None and moved.full_sync == replace(progress, page_token="page-5", pages=4)
    pulled = T0 + timedelta(minutes=3)
    backend.status.save_pull(link, "tok-2", pulled, 0)
    assert backend.links.get("demo", "l1") == replace(
        link, sync_token="tok-2", last_pull_at=pulled, conflicts=3
    )


def test_save_health_marks_the_link_and_a_push_or_a_pull_clears_it(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0, sync_token="tok")
    backend.links.save(link)
    backend.status.save_health(link, HEALTH)
    assert backend.links.get("demo", "l1") == replace(link, health=HEALTH)
    backend.records.record_event_links(link, [event("a1")], None)  # no lastPushAt: the mark stays
    assert backend.links.get("demo", "l1") == replace(link, health=HEALTH)
    backend.records.record_event_links(link, [event("a1")], PUSHED)
    assert backend.links.get("demo", "l1") == replace(link, last_push_at=PUSHED)
    backend.status.save_health(link, HEALTH)
    backend.status.save_pull(link, "tok", PUSHED, 0)
    assert backend.links.get("demo", "l1") == replace(link, last_push_at=PUSHED, last_pull_at=PUSHED)
