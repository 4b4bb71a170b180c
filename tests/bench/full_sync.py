"""Full sync of a calendar of 10,000 events, with 50 ms of latency on each Google round trip.

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
from tests.bench.harness import DAY0, Clinic, Environment, Stopwatch, link_agenda, run_tasks
from tests.bench.incremental_pull import LATENCY_MS, insert_events
from tests.bench.report import Row
from tests.fakes import RecordingQueue

LINK_DOCUMENT = "clinics/{}/syncLinks/{}"
MAX_READS_PER_EVENT = 1.1


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
    env.google.reset()
    queue = RecordingQueue()
    services = env.services(queue)
    clinic = Clinic(env.client(), "bench-full-sync")
    clinic.write()
    email = "fullsync@gmail.com"
    link = link_agenda(services, env.google, clinic, 0, email, bidirectional=True)
    run_tasks(services, queue)
    assert link.calendar_id
    insert_events(env.google, env.google.ui_token(email), link.calendar_id, EVENTS, _event)
    # Google no longer honours the link's token (410): its next pull is a full sync, and what the calendar
    # held before is no new appointment.
    current = services.links.get(clinic.id, link.id)
    assert current is not None
    services.records.save_pull(current, None, services.clock.now(), 0)
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
        assert [q for q, _ in queued] == ["pull"], queued  # exactly the next part, nothing else
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
