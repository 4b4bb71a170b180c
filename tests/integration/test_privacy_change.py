"""A clinic that changes its privacy choices has the events already in Google rewritten (Firestore emulator,
fake Google): the scheduled upkeep compares each active link's recorded choices with its clinic's and
queues a backfill, which patches every event whose content changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.bootstrap import build_services
from shared.domain.event_link import event_id
from tests.fakes import FixedClock
from tests.integration.conftest import Sync

# (privacy, shareNotes) -> the title and description the event shows.
MODES = [
    ("initials", False, "Fisioterapia · A.L.", ""),
    ("full", False, "Fisioterapia · Ana López", ""),
    ("full", True, "Fisioterapia · Ana López", "Traer informe"),
    ("none", True, "Fisioterapia", "Traer informe"),
    ("none", False, "Fisioterapia", ""),
]


@pytest.fixture
def uncached(sync: Sync) -> Sync:
    """The services as an instance that has not cached the clinic (the upkeep runs in its own)."""
    settings = sync.services.settings.model_copy(update={"cache_seconds": 0})
    fresh = build_services(settings, db=sync.db, secrets=sync.services.secrets, queue=sync.queue)
    return Sync(fresh, sync.db, sync.google, sync.queue)


def test_each_privacy_mode_rewrites_the_events_already_in_google(uncached: Sync) -> None:
    sync = uncached
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    for appointment_id in ("a1", "a2"):
        sync.appointment(
            appointment_id,
            start=start,
            end=start + timedelta(hours=1),
            service="Fisioterapia",
            notes="Traer informe",
        )
    link = sync.active_link()
    assert link.calendar_id
    stored = sync.doc(f"clinics/demo/syncLinks/{link.id}") or {}
    assert stored["pushedPrivacy"] == "none"
    assert sync.services.push.privacy_upkeep() == 0  # nothing changed: nothing queued

    for privacy, share_notes, title, description in MODES:
        sync.db.document("clinics/demo").update({"privacy": privacy, "shareNotes": share_notes})
        assert sync.services.push.privacy_upkeep() == 1, privacy
        sync.run_tasks()
        events = {e["id"]: e for e in sync.events("pau@gmail.com", link.calendar_id)}
        for appointment_id in ("a1", "a2"):
            shown = events[event_id("demo", appointment_id)]
            assert (shown["summary"], shown.get("description") or "") == (title, description), privacy
        stored = sync.doc(f"clinics/demo/syncLinks/{link.id}") or {}
        expected = privacy + ("+notes" if share_notes else "")
        assert stored["pushedPrivacy"] == expected
        # Recorded: the next upkeep queues nothing more.
        assert sync.services.push.privacy_upkeep() == 0


def test_a_lost_backfill_is_queued_again_by_a_later_upkeep(uncached: Sync) -> None:
    sync = uncached
    link = sync.active_link(bidirectional=False)  # one-way links are rewritten too
    sync.db.document("clinics/demo").update({"privacy": "full"})
    clock = FixedClock(datetime.now(UTC))
    sync.services.tasks.clock = clock
    assert sync.services.push.privacy_upkeep() == 1
    assert sync.services.push.privacy_upkeep() == 0  # the same window: the same task, not a second one
    sync.queue.take()  # the task was lost: the recorded choices still differ
    assert (sync.doc(f"clinics/demo/syncLinks/{link.id}") or {})["pushedPrivacy"] == "none"
    clock.advance(seconds=sync.services.settings.reconcile_interval_seconds)
    assert sync.services.push.privacy_upkeep() == 1
    sync.run_tasks()
    assert (sync.doc(f"clinics/demo/syncLinks/{link.id}") or {})["pushedPrivacy"] == "full"
