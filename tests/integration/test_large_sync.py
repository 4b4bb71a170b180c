"""A full sync in parts, and Google's daily quota, on the Firestore emulator and the fake Google."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from functions.views import link_view
from shared.services.tasks import PullWork, RetryLater
from tests.integration.conftest import Sync

EMAIL = "pau@gmail.com"
EVENTS = 120  # pages of 50 (the integration settings): three pages, two tasks


def fault(sync: Sync, rule: dict[str, object]) -> None:
    requests.post(f"{sync.google.url}/_fake/faults", json=rule, timeout=10).raise_for_status()


def test_a_full_sync_of_many_pages_checkpoints_each_and_resumes_after_a_crash(sync: Sync) -> None:
    link = sync.active_link()
    sync.run_tasks()
    google = sync.as_user(EMAIL)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for index in range(EVENTS):
        start = soon + timedelta(hours=index)
        body = {
            "summary": f"Hecho en Google {index}",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
        }
        google.events().insert(calendarId=link.calendar_id, body=body).execute()
    # Google no longer honours the link's token: the full sync takes a baseline of what is there now.
    sync.services.status.save_pull(link, None, datetime.now(UTC), 0)

    first = sync.services.pull.pull("demo", link.id)
    assert first.continued and first.events == 100
    stored = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert stored is not None and stored["syncToken"] is None
    checkpoint = stored["fullSync"]
    assert checkpoint["pages"] == 2 and checkpoint["pageToken"]
    assert checkpoint["timeMax"] - checkpoint["timeMin"] == timedelta(days=30 + 365)
    assert [name for name in sync.queue.tasks if name.startswith("pull-page-")]

    fault(sync, {"route": "events.list", "status": 503, "count": 1})
    with pytest.raises(RetryLater):  # the continuation dies on its first list call
        sync.services.pull.pull("demo", link.id)
    again = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert again is not None and again["fullSync"] == checkpoint

    before = sync.requests_count().get("calendar.events.list", 0)
    sync.run_tasks()  # Cloud Tasks delivers the continuation again
    assert sync.requests_count()["calendar.events.list"] - before == 1  # the last page only
    done = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert done is not None and done["fullSync"] is None and done["syncToken"]

    # The token taken at the end is good for what changes next.
    google.events().insert(
        calendarId=link.calendar_id,
        body={
            "summary": "Después",
            "start": {"dateTime": (soon - timedelta(hours=2)).isoformat()},
            "end": {"dateTime": (soon - timedelta(hours=1)).isoformat()},
        },
    ).execute()
    assert sync.services.pull.pull("demo", link.id).events == 1


def test_a_spent_daily_quota_waits_an_hour_shows_on_the_link_and_clears_with_the_next_pull(
    sync: Sync,
) -> None:
    link = sync.active_link()
    sync.run_tasks()
    fault(sync, {"route": "events.list", "status": 403, "reason": "dailyLimitExceeded", "count": 1})
    with pytest.raises(RetryLater) as refused:
        sync.services.pull.pull("demo", link.id)
    assert refused.value.defer_seconds == 3600
    sync.queue.take()
    assert sync.services.tasks.defer(PullWork("demo", link.id), refused.value)
    hour = int(datetime.now(UTC).timestamp() // 3600)
    assert list(sync.queue.tasks) in ([f"pull-quota-{link.id}-{hour}"], [f"pull-quota-{link.id}-{hour + 1}"])
    marked = sync.services.links.get("demo", link.id)
    assert marked is not None and marked.health is not None
    assert link_view(marked)["health"]["code"] == "daily_quota_exceeded"

    sync.services.pull.pull("demo", link.id)
    cleared = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert cleared is not None and cleared["health"] is None
