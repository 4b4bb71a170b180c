"""Drain of a burst of changes over many links, with the fake Google's quotas scaled down.

Each link is one Google account; the burst writes `per_link` new appointments to each linked agenda at once
(distinct appointments, so nothing coalesces: one Calendar call each). The trigger's tasks go to a model
of the deployed push queue (cloud_tasks_model.py: its rate, concurrency and retry settings from
infra/tasks.tf), which dispatches them to the real push service; Google's refusals (403/429
rateLimitExceeded) make the worker answer 503, as `push_worker` does, and the queue retries.

The fake counts quotas over a rolling minute, so the quota-bound ideal is computed, not guessed: call i can
go no earlier than i / (queue rate) and no earlier than a minute after call i - (project quota); per
account, no earlier than a minute after that account's call i - (user quota). The figure is the measured
drain time over that ideal. "Without loss": every appointment has its event in its calendar at the end and
the queue dropped no task.

The links are made on a fake Google of their own, early in the run, so that their calls have left the
quota windows by the time the burst starts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.firestore_codec import appointment_change
from shared.bootstrap import Services
from shared.domain.link import SyncLink
from shared.services.tasks import RetryLater, push_work
from tests.bench.cloud_tasks_model import CloudTasksModel, DrainStats, QueueConfig
from tests.bench.harness import Clinic, Environment, FakeGoogle, link_agenda, write_many
from tests.bench.report import Row

WINDOW = 60.0


@dataclass(frozen=True)
class Sizes:
    links: int
    per_link: int
    per_project_per_minute: int
    per_user_per_minute: int


# The project quota is the binding one; the per-user quota is scaled down as much (full: 10,000 -> 2,000 and
# 600 -> 120, a fifth) and stays above each account's share of the burst. A FIFO queue cannot reach the
# ideal when both bind at once: it spends the project's minute on the first accounts' calls and the last
# accounts then need a third minute (measured: 2.0x with 20/min per user in the quick size).
QUICK = Sizes(links=10, per_link=30, per_project_per_minute=150, per_user_per_minute=30)
FULL = Sizes(links=100, per_link=100, per_project_per_minute=2000, per_user_per_minute=120)


@dataclass
class Prepared:
    sizes: Sizes
    google: FakeGoogle
    services: Services
    clinic: Clinic
    links: list[SyncLink]
    model: CloudTasksModel
    quiet_from: float  # monotonic time from which the links' own calls have left every quota window


def worker(services: Services) -> Any:
    """What `push_worker` answers: 200 done, failed for good or deferred for quota; 503 when Google fails."""

    def handle(queue: str, payload: dict[str, Any]) -> int:
        work = push_work(payload)
        try:
            services.push.run(work)
        except RetryLater as exc:
            return 200 if services.tasks.defer(work, exc) else 503
        return 200

    return handle


def prepare(env: Environment, full: bool) -> Prepared:
    """Link every agenda (on a fake Google of its own) and run the activation backfills."""
    sizes = FULL if full else QUICK
    google = FakeGoogle(env.log_dir, "fake-google-drain")
    google.start()
    model = CloudTasksModel(QueueConfig.from_terraform("push"))
    services = env.services(model, google, counted=False)
    model.handler = worker(services)
    clinic = Clinic(env.client(), "bench-drain", professionals=sizes.links)
    clinic.write()
    links = [link_agenda(services, google, clinic, i, f"drain{i:03d}@gmail.com") for i in range(sizes.links)]
    model.run(timeout=300)  # the (empty) backfills
    return Prepared(sizes, google, services, clinic, links, model, time.monotonic() + WINDOW + 1)


def ideal_seconds(sizes: Sizes, rate: float) -> tuple[float, float, float]:
    """(ideal, project-and-rate bound, per-user bound): the earliest the last call can go."""
    total = sizes.links * sizes.per_link
    times: list[float] = []
    for i in range(total):
        at = i / rate
        if i >= sizes.per_project_per_minute:
            at = max(at, times[i - sizes.per_project_per_minute] + WINDOW)
        times.append(at)
    project = times[-1]
    per_user = (math.ceil(sizes.per_link / sizes.per_user_per_minute) - 1) * WINDOW
    return max(project, per_user), project, per_user


def measure(prepared: Prepared) -> list[Row]:
    sizes, google, services, clinic = prepared.sizes, prepared.google, prepared.services, prepared.clinic
    try:
        wait = prepared.quiet_from - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        db = clinic.db
        documents = {
            clinic.appointment_path(f"d{link}-{n}"): clinic.appointment_fields(n, professional=link)
            for link in range(sizes.links)
            for n in range(sizes.per_link)
        }
        write_many(db, documents.items())
        now = datetime.now(UTC)
        for offset, (path, data) in enumerate(documents.items()):
            appointment_id = path.rsplit("/", 1)[1]
            stamp = now + timedelta(microseconds=offset)
            services.push.fan_out(appointment_change(clinic.id, appointment_id, None, data, stamp))
        google.admin(
            "quotas",
            {
                "perUserPerMinute": sizes.per_user_per_minute,
                "perProjectPerMinute": sizes.per_project_per_minute,
            },
        )
        before = google.counts()
        config = prepared.model.config
        ideal, project_bound, user_bound = ideal_seconds(sizes, config.max_dispatches_per_second)
        prepared.model.stats = DrainStats()
        stats = prepared.model.run(timeout=ideal * 4 + 120)
        inserts = google.counts().get("calendar.events.insert", 0) - before.get("calendar.events.insert", 0)
        events = sum(
            _events(google, f"drain{i:03d}@gmail.com", link) for i, link in enumerate(prepared.links)
        )
    finally:
        google.stop()
    total = sizes.links * sizes.per_link
    ratio = stats.seconds / ideal
    lossless = events == total and stats.lost == 0 and prepared.model.pending() == 0
    return [
        Row(
            "drain",
            f"drain of a burst of {total:,} changes over {sizes.links} links with the fake's quotas scaled down "
            f"({sizes.per_project_per_minute}/min per project, {sizes.per_user_per_minute}/min per user): "
            "time / the quota-bound ideal, and requests refused by quota",
            "<= 1.25x, and refusals handled without loss",
            f"{ratio:.2f}x ({stats.seconds:.0f} s / {ideal:.0f} s); {inserts - total} requests refused; "
            f"{events}/{total} events, {stats.lost} tasks lost",
            ratio <= 1.25 and lossless,
            {
                "changes": total,
                "links": sizes.links,
                "seconds": round(stats.seconds, 1),
                "idealSeconds": round(ideal, 1),
                "projectAndRateBound": round(project_bound, 1),
                "perUserBound": round(user_bound, 1),
                "queue": config.__dict__,
                "attempts": stats.attempts,
                "refusedAttempts": stats.refused_attempts,
                "answers": stats.answers,
                "insertRequests": inserts,
                "eventsAtTheEnd": events,
                "tasksLost": stats.lost,
            },
        )
    ]


def _events(google: FakeGoogle, email: str, link: SyncLink) -> int:
    token = google.ui_token(email)
    answer = google.session.get(
        f"{google.url}/calendar/v3/calendars/{link.calendar_id}/events",
        params={"maxResults": 2500},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ).json()
    return sum(1 for e in answer.get("items", []) if e.get("status") != "cancelled")
