"""Full sync of a calendar of 10,000 events, with 50 ms of latency on each Google round trip; and what a
link costs when nothing changes (reconciliation pull, channel renewal).

Set-up (not measured): a two-way link, 10,000 events written in Google by the user (batch requests) within
the full sync's window, and the link's sync token gone (Google's 410 fullSyncRequired; the link pulled
before, so the events are no new appointments). Then the pull tasks run as Cloud Tasks would run them: each
applies `full_sync_pages_per_task` pages, checkpoints the page token on the link after each page and queues
the next task. The figure: Firestore document reads per event (counted at the gRPC channel), link writes per
page (the checkpoints and the final token), the seconds of the slowest task against pull_worker's timeout
(infra/functions.tf), and the total.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from infra.local.processes import REPO_ROOT
from shared.services.pull import PullReport
from tests.bench.harness import (
    DAY0,
    Clinic,
    Environment,
    Stopwatch,
    link_agenda,
    link_fresh_clinic,
    run_tasks,
)
from tests.bench.incremental_pull import LATENCY_MS, insert_events
from tests.bench.report import Row
from tests.fakes import RecordingQueue

LINK_DOCUMENT = "clinics/{}/syncLinks/{}"
MAX_READS_PER_EVENT = 1.1
UPKEEP_LINKS = 10


# The same size for the quick and the full bench: the figure is about this size.
EVENTS = 10_000


def pull_worker_timeout() -> int:
    """pull_worker's timeout_seconds as infra/functions.tf deploys it."""
    text = (REPO_ROOT / "infra" / "functions.tf").read_text()
    block = text[text.index("pull_worker = {") :]
    found = re.search(r"timeout_seconds\s*=\s*(\d+)", block)
    assert found, "pull_worker has no timeout_seconds"
    return int(found.group(1))


def _event(index: int) -> dict[str, Any]:
    """40 events a day from the day after tomorrow: 250 days, inside the full sync's year ahead."""
    start = DAY0 + timedelta(minutes=15 * (index % 40), days=index // 40)
    return {
        "summary": f"Made in Google {index}",
        "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Madrid"},
        "end": {"dateTime": (start + timedelta(minutes=15)).isoformat(), "timeZone": "Europe/Madrid"},
    }


def measure(env: Environment, _full: bool) -> list[Row]:
    linked = link_fresh_clinic(env, "bench-full-sync", "fullsync@gmail.com")
    services, queue, clinic, link = linked.services, linked.queue, linked.clinic, linked.link
    insert_events(env.google, env.google.ui_token(linked.email), linked.calendar_id, EVENTS, _event)
    # Google no longer honours the link's token (410): its next pull is a full sync, and what the calendar
    # held before is no new appointment.
    current = services.links.get(clinic.id, link.id)
    assert current is not None
    services.status.save_pull(current, None, services.clock.now(), 0)
    queue.take()

    env.google.admin("faults", {"route": "calendar.events.list", "latencyMs": LATENCY_MS})
    env.ops.reset()
    before = env.google.counts()
    total = PullReport()
    tasks: list[float] = []
    clock = Stopwatch()
    while True:
        task = Stopwatch()
        report = services.pull.pull(clinic.id, link.id)
        tasks.append(task.seconds)
        total += report
        queued = queue.take()
        if not report.continued:
            break
        [(_queue, payload)] = queued  # exactly the next part, nothing else
        assert payload["pageToken"]
    seconds = clock.seconds
    env.google.admin("faults", {})
    ops = env.ops.snapshot()
    lists = env.google.counts().get("calendar.events.list", 0) - before.get("calendar.events.list", 0)
    reads = sum(ops["reads"].values())
    link_writes = ops["writes"].get(LINK_DOCUMENT, 0)
    done = services.links.get(clinic.id, link.id)
    assert done is not None
    per_event = reads / max(1, total.events)
    timeout = pull_worker_timeout()
    ok = (
        total.events == EVENTS
        and per_event <= MAX_READS_PER_EVENT
        and max(tasks) < timeout
        and link_writes == lists  # one checkpoint per page (the last one is the new sync token)
        and done.full_sync is None
        and done.sync_token is not None
    )
    return [
        Row(
            "full_sync",
            f"full sync of a calendar of {EVENTS:,} events with {LATENCY_MS} ms latency per Google call: "
            "Firestore reads per event, checkpoints, seconds",
            f"<= {MAX_READS_PER_EVENT} reads per event; one checkpoint per page; "
            f"each task < pull_worker's {timeout} s",
            f"{per_event:.3f} reads per event ({reads} / {total.events}); {link_writes} link writes for "
            f"{lists} pages; {len(tasks)} tasks, slowest {max(tasks):.1f} s; {seconds:.1f} s in all",
            ok,
            {
                "events": total.events,
                "pages": lists,
                "tasks": len(tasks),
                "taskSeconds": [round(t, 2) for t in tasks],
                "seconds": round(seconds, 2),
                "readsPerEvent": round(per_event, 4),
                "reads": ops["reads"],
                "writes": ops["writes"],
                "pullWorkerTimeout": timeout,
                "pagesPerTask": services.settings.full_sync_pages_per_task,
            },
        )
    ]


def measure_upkeep(env: Environment, _full: bool) -> list[Row]:
    """What a link costs when nothing changes: one reconciliation pull, one channel renewal, and the
    scheduled runs' reads (their queries read every active link, one document each)."""
    env.google.reset()
    queue = RecordingQueue()
    services = env.services(queue)
    clinic = Clinic(env.client(), "bench-upkeep", professionals=UPKEEP_LINKS)
    clinic.write()
    links = [
        link_agenda(services, env.google, clinic, index, f"upkeep{index}@gmail.com", bidirectional=True)
        for index in range(UPKEEP_LINKS)
    ]
    run_tasks(services, queue)
    for link in links:
        services.pull.pull(clinic.id, link.id)  # each has its sync token

    def counted(work: Any) -> tuple[int, int, int, int]:
        env.ops.reset()
        before = env.google.counts()
        work()
        ops = env.ops.snapshot()
        calls = env.google.calendar_calls(before, skip_list=False)
        return calls, sum(ops["reads"].values()), sum(ops["writes"].values()), len(queue.take())

    pull = counted(lambda: [services.pull.pull(clinic.id, link.id) for link in links])
    scheduled = counted(services.channels.reconcile)
    # Every channel falls within the renewal's margin: each one is replaced (watch, then stop the old), and
    # whether its calendar still shows in its user's list is read (calendarList.get).
    renewing = env.services(queue, channel_renew_margin_seconds=10 * 365 * 86400)
    renewal = counted(renewing.channels.renew)
    active = len(services.links.active_two_way_links())
    n = len(links)
    per = {
        "reconcilePull": {"calendarCalls": pull[0] / n, "reads": pull[1] / n, "writes": pull[2] / n},
        "reconcileRun": {"reads": scheduled[1], "tasks": scheduled[3], "activeTwoWayLinks": active},
        "renewal": {
            "calendarCalls": renewal[0] / active,
            "reads": renewal[1] / active,
            "writes": renewal[2] / active,
        },
    }
    ok = per["reconcilePull"]["calendarCalls"] == 1 and per["renewal"]["calendarCalls"] == 3
    return [
        Row(
            "upkeep",
            f"a link's upkeep when nothing changes ({n} two-way links): a reconciliation pull, a channel "
            "renewal, the scheduled run's reads",
            "1 Calendar call per reconciliation pull; 3 per renewal (watch, stop, calendarList.get)",
            f"reconciliation pull {per['reconcilePull']['calendarCalls']:.0f} call, "
            f"{per['reconcilePull']['reads']:.1f} reads + {per['reconcilePull']['writes']:.1f} writes; "
            f"renewal {per['renewal']['calendarCalls']:.0f} calls, {per['renewal']['reads']:.1f} reads + "
            f"{per['renewal']['writes']:.1f} writes; reconcile_links {scheduled[1]} reads and "
            f"{scheduled[3]} tasks for {active} links",
            ok,
            per,
        )
    ]
