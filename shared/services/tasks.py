"""Background work: the kinds of task, their names, payloads and delays, and work put off for a quota.

Every task is named deterministically from what it is for, so that Cloud Tasks refuses a second task of
the same name: a repeated trigger delivery, a burst of notifications or a repeated refusal enqueue nothing
more. The workers (functions/sync.py) read their payloads back through `push_work` and `pull_work`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from shared.config import Settings
from shared.domain.clinic import AppointmentChange
from shared.domain.link import FullSyncProgress, SyncLink
from shared.ports import Clock, TaskQueue

log = logging.getLogger(__name__)

# Google counts its quotas per minute: work refused for quota is queued again once that minute has passed,
# instead of being retried with backoff (which spends the task's attempts while the quota is still spent).
QUOTA_WINDOW = timedelta(seconds=60)
# Refused for the day's allowance (Transient.daily): minutes would only spend more refusals; an hour later
# is tried again (so within the hours Google's limits take to lift, without waiting a whole day in vain).
DAILY_QUOTA_WINDOW = timedelta(hours=1)
# Deferrals of one push (half an hour of minutes); after them the queue's own bounded retries take over.
MAX_DEFERRALS = 30
# Notifications of one link within this many seconds share one pull task.
PULL_COALESCE_SECONDS = 1.0
# Resyncs of one link asked for within this many seconds are one backfill (and one full pull).
RESYNC_WINDOW_SECONDS = 60.0


class RetryLater(Exception):
    """Google is busy or failing: the work must be tried again.

    `defer_seconds` None: the worker answers 503 and Cloud Tasks retries with backoff; otherwise Google
    refused for a quota, and the work goes to a new task that many seconds later.
    """

    def __init__(self, message: str, *, defer_seconds: float | None = None) -> None:
        super().__init__(message)
        self.defer_seconds = defer_seconds

    @property
    def quota(self) -> bool:
        return self.defer_seconds is not None

    def joined(self, other: RetryLater | None) -> RetryLater:
        """One retry for several refusals of one task: deferred as long as the longest deferral asks."""
        if other is None:
            return self
        delays = [d for d in (self.defer_seconds, other.defer_seconds) if d is not None]
        return RetryLater(str(self), defer_seconds=max(delays) if delays else None)


class PullReason(StrEnum):
    """Why a pull was queued; pulls of one link for one reason in one window are one task."""

    NOTIFY = "notify"
    RECONCILE = "reconcile"
    QUOTA = "quota"
    PAGE = "page"
    RESYNC = "resync"  # a full pull asked for (resync_link) or a lost pull healed (the drift check)


@dataclass(frozen=True)
class PushWork:
    """Push one appointment of a link, or (`appointment_id` None) backfill the link's whole agenda."""

    clinic_id: str
    link_id: str
    appointment_id: str | None = None
    # How often this work was already put off because Google refused it for quota.
    deferrals: int = 0

    @property
    def backfill(self) -> bool:
        return self.appointment_id is None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"clinicId": self.clinic_id, "linkId": self.link_id}
        body.update(
            {"backfill": True} if self.appointment_id is None else {"appointmentId": self.appointment_id}
        )
        if self.deferrals:
            body["deferrals"] = self.deferrals
        return body


@dataclass(frozen=True)
class PullWork:
    """Pull what changed in a two-way link's calendar; with `page_token`, go on with its full sync (the
    next part, queued by the part before)."""

    clinic_id: str
    link_id: str
    page_token: str | None = None
    # A full sync: the sync token is set aside and the calendar is listed whole.
    full: bool = False

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"clinicId": self.clinic_id, "linkId": self.link_id}
        if self.page_token:
            body["pageToken"] = self.page_token
        if self.full:
            body["full"] = True
        return body


Work = PushWork | PullWork


def push_work(payload: Mapping[str, Any]) -> PushWork:
    """A push task's payload read back; ValueError when it names neither an appointment nor a backfill."""
    appointment_id = payload.get("appointmentId")
    if payload.get("backfill"):
        appointment_id = None
    elif not appointment_id:
        raise ValueError("appointmentId or backfill is required")
    return PushWork(
        str(payload["clinicId"]),
        str(payload["linkId"]),
        str(appointment_id) if appointment_id else None,
        int(payload.get("deferrals") or 0),
    )


def pull_work(payload: Mapping[str, Any]) -> PullWork:
    page_token = payload.get("pageToken")
    return PullWork(
        str(payload["clinicId"]),
        str(payload["linkId"]),
        str(page_token) if page_token else None,
        bool(payload.get("full")),
    )


@dataclass
class Tasks:
    """Queues background work under its deterministic name."""

    settings: Settings
    queue: TaskQueue
    clock: Clock

    def push_change(self, change: AppointmentChange, link_id: str) -> bool:
        """One push of a written appointment to one link: a repeated delivery of the write is the same task."""
        stamp = change.update_time.isoformat() if change.update_time else "none"
        name = "push-" + _digest(f"{link_id}/{change.appointment_id}/{stamp}")
        work = PushWork(change.clinic_id, link_id, change.appointment_id)
        return self.queue.enqueue(self.settings.push_queue, name, work.payload())

    def backfill(self, link: SyncLink) -> bool:
        """The backfill of a link just activated: one per link."""
        work = PushWork(link.clinic_id, link.id)
        return self.queue.enqueue(self.settings.push_queue, f"backfill-{link.id}", work.payload())

    def privacy_backfill(self, link: SyncLink, privacy: str, window_seconds: float) -> bool:
        """A backfill that rewrites a link's events after its clinic changed its privacy choices: one per
        link, choice and window (Cloud Tasks keeps a name from being reused for a while after its task ran,
        so the window lets a later change back to the same choice have its own)."""
        bucket = math.floor(self.clock.now().timestamp() / window_seconds)
        name = "backfill-privacy-" + _digest(f"{link.id}/{privacy}/{bucket}")
        return self.queue.enqueue(self.settings.push_queue, name, PushWork(link.clinic_id, link.id).payload())

    def resync(self, link: SyncLink, window_seconds: float = RESYNC_WINDOW_SECONDS) -> list[str]:
        """A whole backfill of the link and, for a two-way link, a full pull: one of each per link and window
        (a second request within it queues nothing more). Answers what was queued."""
        queued: list[str] = []
        if self.backfill_again(link, window_seconds):
            queued.append("backfill")
        if link.bidirectional and self.pull_full(link.clinic_id, link.id, window_seconds):
            queued.append("pull")
        return queued

    def backfill_again(self, link: SyncLink, window_seconds: float = RESYNC_WINDOW_SECONDS) -> bool:
        """A backfill of a link already active (resync, or a lost backfill healed): one per link and window."""
        bucket = math.floor(self.clock.now().timestamp() / window_seconds)
        work = PushWork(link.clinic_id, link.id)
        return self.queue.enqueue(self.settings.push_queue, f"resync-{link.id}-{bucket}", work.payload())

    def pull_full(self, clinic_id: str, link_id: str, window_seconds: float = RESYNC_WINDOW_SECONDS) -> bool:
        """A full pull of a two-way link: one per link and window."""
        return self._pull(PullWork(clinic_id, link_id, full=True), PullReason.RESYNC, window_seconds)

    def repair(self, clinic_id: str, link_id: str, appointment_id: str, check: str) -> bool:
        """A push the drift check found wanting: one per link, appointment and check."""
        name = "push-repair-" + _digest(f"{link_id}/{appointment_id}/{check}")
        work = PushWork(clinic_id, link_id, appointment_id)
        return self.queue.enqueue(self.settings.push_queue, name, work.payload())

    def pull_on_notification(self, clinic_id: str, link_id: str) -> bool:
        """A pull that runs at the end of the coalescing window, so that it sees the whole burst."""
        return self._pull(PullWork(clinic_id, link_id), PullReason.NOTIFY, PULL_COALESCE_SECONDS, wait=True)

    def reconcile(self, clinic_id: str, link_id: str, window_seconds: float | None = None) -> bool:
        """The scheduled pull of a link: one per link and reconciliation interval (or `window_seconds`)."""
        window = window_seconds or self.settings.reconcile_interval_seconds
        return self._pull(PullWork(clinic_id, link_id), PullReason.RECONCILE, window)

    def continue_full_sync(self, link: SyncLink, progress: FullSyncProgress) -> bool:
        """The next part of a full sync, from the page it checkpointed: one task per link and page (a page
        token is never handed out twice), so a pull retried after the checkpoint queues nothing more."""
        work = PullWork(link.clinic_id, link.id, progress.page_token)
        name = f"pull-{PullReason.PAGE.value}-{link.id}-" + _digest(progress.page_token)
        return self.queue.enqueue(self.settings.pull_queue, name, work.payload())

    def defer(self, work: Work, retry: RetryLater) -> bool:
        """Put off work Google refused for a quota: a new task once the refusal's delay has passed, so that
        the refusal spends none of the task's bounded attempts.

        False when it cannot be put off (not a quota, or a push deferred MAX_DEFERRALS times already): the
        worker then answers 503 and the queue's own retries take over. A second deferral of the same work
        within the same delay window is the same task, so deferrals never multiply.
        """
        delay = retry.defer_seconds
        if delay is None:
            return False
        if isinstance(work, PullWork):
            # Every refusal of the link in one window is one pull; they stop with the first that gets through
            # (and reconcile_links pulls every two-way link anyway).
            self._pull(work, PullReason.QUOTA, delay, delay_seconds=delay)
            log.info("pull deferred for quota", extra={"linkId": work.link_id})
            return True
        if work.deferrals >= MAX_DEFERRALS:
            return False
        again = PushWork(work.clinic_id, work.link_id, work.appointment_id, work.deferrals + 1)
        window = int(self.clock.now().timestamp() // delay)
        subject = work.appointment_id or "backfill"
        name = "push-deferred-" + _digest(f"{work.link_id}/{subject}/{again.deferrals}/{window}")
        self.queue.enqueue(self.settings.push_queue, name, again.payload(), delay)
        log.info("push deferred for quota", extra={"linkId": work.link_id, "deferrals": again.deferrals})
        return True

    def _pull(
        self,
        work: PullWork,
        why: PullReason,
        window: float,
        *,
        wait: bool = False,
        delay_seconds: float = 0.0,
    ) -> bool:
        """One pull task per link, reason and time window; later ones in the window are duplicates.

        With `wait` the pull runs at the end of the window; otherwise `delay_seconds` from now.
        """
        now = self.clock.now().timestamp()
        bucket = math.floor(now / window)
        return self.queue.enqueue(
            self.settings.pull_queue,
            f"pull-{why.value}-{work.link_id}-{bucket}",
            work.payload(),
            delay_seconds=max(0.0, (bucket + 1) * window - now) if wait else delay_seconds,
        )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]
