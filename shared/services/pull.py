"""Google to clinic, for two-way links: read what changed in the calendar and apply it to the agenda.

Changes are listed incrementally with the link's sync token (every page read before the new token is
kept); without one, or when Google no longer honours it, a full sync takes a baseline of the window from
`full_sync_days_back` ago to `backfill_days` ahead. A full sync applies a bounded number of pages per
task, checkpoints the page token on the link after each page and queues the next task
(`Tasks.continue_full_sync`), so that a large calendar never outlives the function's timeout and a crash
resumes from the last page applied. Google's next sync token comes with the last page only, and is saved
then. Each event is decided by the pull planner (`shared.domain.pull_planner.decide_pull`); this service only reads what it needs and carries the
decision out: the appointment written to the clinic (marked as the link's, so that the trigger does not
push it back here), the event links recorded, and the appointments pushed back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.domain.clinic import Center
from shared.domain.errors import DomainError
from shared.domain.event_link import EventLink, appointment_id_for_event, appointment_id_of
from shared.domain.link import FullSyncProgress, SyncLink
from shared.domain.pull_planner import decide_pull, is_new
from shared.ports import ClinicDirectory, Clock, Links, SyncRecords, SyncTokenExpired
from shared.services.access import Access, Need, Opened, Skipped
from shared.services.push import PushService
from shared.services.tasks import Tasks

log = logging.getLogger(__name__)

# A full sync checkpointed less than this long ago has a task going on with it (pull_worker's timeout in
# infra/functions.tf, and a minute for Cloud Tasks to deliver the next part): other pulls leave it alone
# rather than list the same pages twice; an older checkpoint lost its task, and the next pull resumes it.
FULL_SYNC_TASK_LIFETIME = timedelta(seconds=300 + 60)
FULL_SYNC_UNDER_WAY = "full sync under way"


@dataclass(frozen=True)
class PullReport:
    events: int = 0
    applied: int = 0
    pushed_back: int = 0
    conflicts: int = 0
    skipped: str | None = None
    # A full sync goes on in another task (from the page checkpointed on the link).
    continued: bool = False

    def __add__(self, other: PullReport) -> PullReport:
        return PullReport(
            self.events + other.events,
            self.applied + other.applied,
            self.pushed_back + other.pushed_back,
            self.conflicts + other.conflicts,
        )


@dataclass(frozen=True)
class _Recorded:
    """What we recorded of one page's events, read together: by appointment id (events that carry theirs)
    and by event id (events that carry none: made in Google, or deleted ones, which come back bare)."""

    by_appointment: dict[str, EventLink]
    by_event: dict[str, EventLink]


@dataclass
class PullService:
    settings: Settings
    directory: ClinicDirectory
    links: Links
    records: SyncRecords
    access: Access
    push: PushService
    tasks: Tasks
    clock: Clock

    def pull(self, clinic_id: str, link_id: str, continuing: str | None = None) -> PullReport:
        """Apply every change of the link's calendar since the last pull (`continuing`: the page token of
        the full sync's part this task was queued for)."""
        opened = self.access.open(clinic_id, link_id, Need.TWO_WAY)
        if isinstance(opened, Skipped):
            return PullReport(skipped=opened.reason)
        if continuing is None and self._under_way(opened.link):
            return PullReport(skipped=FULL_SYNC_UNDER_WAY)
        done = self.access.run(opened.link, lambda: self._pull(opened))
        if isinstance(done, Skipped):
            return PullReport(skipped=done.reason)
        report, token, progress = done
        link = opened.link
        if progress is not None:
            # The checkpoint is saved: a lost or failed follow-up is retried, or the next pull goes on.
            self.tasks.continue_full_sync(link, progress)
            log.info(
                "full sync continues",
                extra={"linkId": link.id, "pages": progress.pages, "events": report.events},
            )
            return replace(report, continued=True)
        self.records.save_pull(link, token, self.clock.now(), report.conflicts)
        log.info(
            "pulled",
            extra={
                "linkId": link.id,
                "events": report.events,
                "applied": report.applied,
                "conflicts": report.conflicts,
            },
        )
        return report

    def _under_way(self, link: SyncLink) -> bool:
        """Whether another task is applying the link's full sync now (see FULL_SYNC_TASK_LIFETIME)."""
        progress = link.full_sync
        if progress is None or progress.saved_at is None:
            return False
        return self.clock.now() - progress.saved_at < FULL_SYNC_TASK_LIFETIME

    def _pull(self, opened: Opened) -> tuple[PullReport, str | None, FullSyncProgress | None]:
        """What this task applied, and either the new sync token or where the full sync goes on."""
        link = opened.link
        if link.full_sync is None and link.sync_token:
            try:
                items, token = self._changes(opened, link.sync_token)
            except SyncTokenExpired:
                # Google's answer to a sync token it no longer honours (410): start again with a full sync.
                log.info("sync token expired; full sync", extra={"linkId": link.id})
            else:
                return self._applied(opened, items, baseline=False), token, None
        return self._full_sync(opened)

    def _full_sync(self, opened: Opened) -> tuple[PullReport, str | None, FullSyncProgress | None]:
        """Apply the next pages of a full sync (from the link's checkpoint, if one was saved): the report,
        and the new sync token once the last page is applied, or the checkpoint to go on from."""
        link = opened.link
        assert link.calendar_id
        progress = link.full_sync
        if progress is None:
            now = self.clock.now()
            time_min = now - timedelta(days=self.settings.full_sync_days_back)
            # The same horizon as the backfill: what the clinic would push, and no further.
            time_max = now + timedelta(days=self.settings.backfill_days)
            page_token, pages = None, 0
        else:
            time_min, time_max = progress.time_min, progress.time_max
            page_token, pages = progress.page_token, progress.pages
        report = PullReport()
        for _ in range(self.settings.full_sync_pages_per_task):
            page = opened.gateway.list_events(
                link.calendar_id, sync_token=None, time_min=time_min, time_max=time_max, page_token=page_token
            )
            applied = self._applied(opened, page.items, baseline=True)
            report += applied
            pages += 1
            if not page.next_page_token:
                return report, page.next_sync_token, None
            page_token = page.next_page_token
            progress = FullSyncProgress(page_token, time_min, time_max, pages, self.clock.now())
            # One checkpoint per page: a timeout or crash after it never applies this page again.
            self.records.save_full_sync(link, progress, applied.conflicts)
        return report, None, progress

    def _applied(self, opened: Opened, items: list[dict[str, Any]], *, baseline: bool) -> PullReport:
        """Apply listed events, and push back what the clinic must win."""
        link = opened.link
        # Events changed in Google since then are new even in a full sync (a calendar we created has
        # nothing older of the user's; a redo carries the previous link's last pull).
        since = link.last_pull_at or link.adopt_since or link.activated_at
        report, push_back = self._apply(opened, items, baseline=baseline, since=since)
        if push_back:
            # The link, its clinic and its gateway are in hand: no need to read or open them again.
            self.push.push_appointments(opened, push_back)
        return report

    def _changes(self, opened: Opened, sync_token: str) -> tuple[list[dict[str, Any]], str | None]:
        """Every change since the sync token, following every page; the new sync token comes with the last."""
        link = opened.link
        assert link.calendar_id
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            page = opened.gateway.list_events(
                link.calendar_id, sync_token=sync_token, time_min=None, page_token=page_token
            )
            items.extend(page.items)
            if not page.next_page_token:
                return items, page.next_sync_token
            page_token = page.next_page_token

    def _apply(
        self, opened: Opened, items: list[dict[str, Any]], *, baseline: bool, since: datetime | None
    ) -> tuple[PullReport, list[str]]:
        link, clinic = opened.link, opened.clinic
        centers: dict[str, Center | None] = {}

        def center_of(center_id: str) -> Center | None:
            if center_id not in centers:
                centers[center_id] = self.directory.center(link.clinic_id, center_id)
            return centers[center_id]

        applied = conflicts = 0
        push_back: list[str] = []
        recorded_now: list[EventLink] = []
        known = self._recorded(link, items)
        for event in items:
            appointment_id, recorded = self._identify(link, event, known)
            try:
                appointment = self.directory.appointment(link.clinic_id, appointment_id)
                decision = decide_pull(
                    event,
                    appointment_id,
                    recorded,
                    appointment,
                    link,
                    clinic,
                    center_of,
                    adopt_new=is_new(event, baseline, since),
                )
            except DomainError as exc:
                # The clinic's side cannot be read or shown (malformed, or its centre is gone): left alone.
                log.warning("appointment unreadable", extra={"linkId": link.id, "code": exc.code})
                continue
            if decision.write is not None:
                self.directory.write_appointment(decision.write, link.id)
            if decision.record is not None:
                recorded_now.append(decision.record)
            if decision.push_back:
                push_back.append(appointment_id)
            applied += decision.applied
            conflicts += decision.conflict
        if recorded_now:
            self.records.record_event_links(link, recorded_now, None)
        return PullReport(len(items), applied, len(push_back), conflicts), push_back

    def _recorded(self, link: SyncLink, items: list[dict[str, Any]]) -> _Recorded:
        """The event links of a page's events, in two reads for the whole page instead of one per event."""
        carried = {str(e.get("id")): appointment_id_of(e, link.clinic_id) for e in items}
        by_appointment = self.records.event_links_for(link, [a for a in carried.values() if a])
        by_event = self.records.event_links_by_events(link, [e for e, a in carried.items() if a is None])
        return _Recorded(by_appointment, by_event)

    def _identify(
        self, link: SyncLink, event: dict[str, Any], known: _Recorded
    ) -> tuple[str, EventLink | None]:
        """The appointment an event stands for, and what we recorded of it (from the page's `known`).

        Deleted events come back with no extended properties, so an event without them is looked up by
        its id among the events we recorded; one never seen is named after its calendar and id.
        """
        assert link.calendar_id
        appointment_id = appointment_id_of(event, link.clinic_id)
        if appointment_id is None:
            recorded = known.by_event.get(str(event.get("id")))
            if recorded is not None:
                return recorded.appointment_id, recorded
            # Whatever we recorded of this event carries its id, so none was found: it was never seen.
            return appointment_id_for_event(link.calendar_id, str(event.get("id"))), None
        return appointment_id, known.by_appointment.get(appointment_id)
