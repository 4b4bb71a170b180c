"""Incremental pull after one change in a calendar of 10,000 events, with 50 ms of latency on each list call.

Set-up (not measured): a two-way link, the events written in Google by the user (batch requests), and the
link's sync token taken by listing the calendar to its end as the app. Then the user moves one event and
one pull runs. The figure counts the Calendar list calls of that pull and its time beyond the simulated
latency; the time the fake Google itself takes to answer the same incremental list is reported beside it,
since it is part of that time but not of our code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.services.access import Need, Opened
from tests.bench.harness import DAY0, Environment, FakeGoogle, Stopwatch, link_fresh_clinic
from tests.bench.report import Row

LATENCY_MS = 50
BATCH = 1000


@dataclass(frozen=True)
class Sizes:
    events: int


QUICK = Sizes(events=10_000)
FULL = Sizes(events=10_000)


def _event(index: int) -> dict[str, Any]:
    start = DAY0 + timedelta(minutes=30 * (index % 20), days=index // 20)
    return {
        "summary": f"Made in Google {index}",
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Madrid"},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "Europe/Madrid"},
    }


def insert_events(
    google: FakeGoogle,
    token: str,
    calendar_id: str,
    count: int,
    event: Callable[[int], dict[str, Any]] = _event,
) -> None:
    """The user creates `count` events in Google (the `event` of each index), a batch request of 1,000 at
    a time."""
    path = f"/calendar/v3/calendars/{calendar_id}/events"
    for start in range(0, count, BATCH):
        boundary = "bench_batch"
        parts = []
        for index in range(start, min(count, start + BATCH)):
            body = json.dumps(event(index))
            parts.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{index}>\r\n\r\n"
                f"POST {path}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\n\r\n{body}\r\n"
            )
        payload = "".join(parts) + f"--{boundary}--\r\n"
        answer = google.session.post(
            f"{google.url}/batch/calendar/v3",
            data=payload.encode(),
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
            timeout=300,
        )
        answer.raise_for_status()
        assert answer.text.count("HTTP/1.1 200") == min(count, start + BATCH) - start, answer.text[:500]


def measure(env: Environment, full: bool) -> list[Row]:
    sizes = FULL if full else QUICK
    linked = link_fresh_clinic(env, "bench-pull", "pull@gmail.com", counted=False)
    services, clinic, link, calendar_id = linked.services, linked.clinic, linked.link, linked.calendar_id
    token = env.google.ui_token(linked.email)
    insert_events(env.google, token, calendar_id, sizes.events)

    # The link has pulled before: its sync token stands for the calendar as it is now.
    opened = services.access.open_link(link, Need.GRANT)
    assert isinstance(opened, Opened)
    gateway = opened.gateway
    page_token: str | None = None
    while True:
        page = gateway.list_events(calendar_id, sync_token=None, time_min=None, page_token=page_token)
        if not page.next_page_token:
            break
        page_token = page.next_page_token
    current = services.links.get(clinic.id, link.id)
    assert current is not None
    services.status.save_pull(current, page.next_sync_token, services.clock.now(), 0)

    # The user moves one event in Google.
    headers = {"Authorization": f"Bearer {token}"}
    events_url = f"{env.google.url}/calendar/v3/calendars/{calendar_id}/events"
    first = env.google.session.get(events_url, params={"maxResults": 1}, headers=headers).json()["items"][0]
    moved = _event(sizes.events + 1)
    env.google.session.patch(
        f"{events_url}/{first['id']}", json={"start": moved["start"], "end": moved["end"]}, headers=headers
    ).raise_for_status()

    # The fake's own time to answer that incremental list (a UI call: no latency, no fault).
    clock = Stopwatch()
    own = env.google.session.get(events_url, params={"syncToken": page.next_sync_token}, headers=headers)
    fake_seconds = clock.seconds
    assert len(own.json()["items"]) == 1

    env.google.admin("faults", {"route": "calendar.events.list", "latencyMs": LATENCY_MS})
    before = env.google.counts()
    clock = Stopwatch()
    report = services.pull.pull(clinic.id, link.id)
    seconds = clock.seconds
    after = env.google.counts()
    env.google.admin("faults", {})
    lists = after.get("calendar.events.list", 0) - before.get("calendar.events.list", 0)
    other = env.google.calendar_calls(before) + sum(
        after.get(r, 0) - before.get(r, 0) for r in after if r == "POST /token"
    )
    beyond_ms = seconds * 1000 - LATENCY_MS * lists
    ok = lists == 1 and beyond_ms < 100 and report.events == 1
    return [
        Row(
            "incremental_pull",
            f"incremental pull after 1 change in a calendar of {sizes.events:,} events",
            "1 list call, < 100 ms beyond the simulated latency",
            f"{lists} list call; {beyond_ms:.0f} ms beyond the {LATENCY_MS} ms latency "
            f"(of which the fake's own answer {fake_seconds * 1000:.0f} ms)",
            ok,
            {
                "events": sizes.events,
                "listCalls": lists,
                "otherGoogleCalls": other,
                "seconds": round(seconds, 4),
                "fakeAnswerSeconds": round(fake_seconds, 4),
                "pulled": {"events": report.events, "applied": report.applied},
            },
        )
    ]
