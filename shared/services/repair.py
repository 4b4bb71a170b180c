"""Nothing lost without a trace: dead letters, the scheduled drift check, and a link's resync.

- A task on its queue's last attempt that still fails becomes a dead letter (`dead_letter`): kept under the
  link, counted on it (pendingFailures) and set as its lastError, so that the link's health shows it.
- `drift_check`, on a schedule, looks at every active link: what the clinic app wrote since its last check
  (by the appointments' `updatedAt`), what changed in a one-way link's calendar since then (an incremental
  listing with a sync token of its own), and the link's dead letters. The drift planner
  (`shared.domain.repair`) says what to repair; repairs are push tasks (and a backfill or a full pull for
  a lost backfill or pull), so they take the push's own road and its retries.
- `resync` queues a whole backfill and, for a two-way link, a full pull, on a person's request.

A successful push of an appointment removes its dead letter (PushService), a backfill the backfill's, a pull
the pull's: the count goes down as the losses heal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.domain.clinic import Appointment, Center
from shared.domain.errors import Conflict, DomainError
from shared.domain.event import desired_event
from shared.domain.event_link import appointment_id_of, event_id_of
from shared.domain.link import LinkStatus, SyncLink
from shared.domain.planner import Nothing, plan_push
from shared.domain.repair import (
    DeadLetter,
    DriftPlan,
    LostWork,
    calendar_drift,
    cancelled_ids,
    plan_drift,
)
from shared.ports import ClinicDirectory, Clock, Links, Repairs, SyncRecords, SyncTokenExpired
from shared.services.access import Access, Need, Opened, Skipped
from shared.services.linking import LinkingService
from shared.services.tasks import PullWork, RetryLater, Tasks, Work

log = logging.getLogger(__name__)

# The clinic's changes are looked for from a little before the last check: `updatedAt` is stamped by
# Firestore's clock, the check's start by the function's.
DRIFT_OVERLAP = timedelta(seconds=60)


@dataclass(frozen=True)
class DriftReport:
    links: int = 0
    repaired: int = 0  # push tasks queued
    backfills: int = 0
    pulls: int = 0
    skipped: int = 0  # links not checked this time (access lost, Google busy): the next run tries again


@dataclass
class RepairService:
    settings: Settings
    directory: ClinicDirectory
    links: Links
    records: SyncRecords
    repairs: Repairs
    access: Access
    linking: LinkingService
    tasks: Tasks
    clock: Clock

    # --- a task's last attempt ---------------------------------------------------------------------
    def dead_letter(self, work: Work, code: str, attempts: int) -> DeadLetter | None:
        """Keep what a task on its last attempt loses; None when its link no longer exists."""
        link = self.links.get(work.clinic_id, work.link_id)
        if link is None:
            return None
        if isinstance(work, PullWork):
            kind, appointment_id = LostWork.PULL, None
        else:
            kind = LostWork.BACKFILL if work.backfill else LostWork.PUSH
            appointment_id = work.appointment_id
        now = self.clock.now()
        letter = DeadLetter(kind, appointment_id, code, attempts, now)
        error = {
            "code": "dead_letter",
            "message": f"{kind.value} failed {attempts} attempts ({code}); the drift check will repair it",
            "at": now.isoformat(),
        }
        self.repairs.add_dead_letter(link, letter, error)
        return letter

    # --- resync_link -------------------------------------------------------------------------------
    def resync(self, clinic_id: str, user_id: str, link_id: str) -> tuple[SyncLink, list[str]]:
        """The owner or a master asks for everything again: a backfill, and a full pull of a two-way link."""
        link = self.linking.owned_link(clinic_id, user_id, link_id)
        if link.status is not LinkStatus.ACTIVE:
            raise Conflict(
                f"link is {link.status.value}, only an active link resyncs", code="link_not_active"
            )
        queued = self.tasks.resync(link)
        log.info("resync queued", extra={"linkId": link.id, "by": user_id, "queued": queued})
        return link, queued

    # --- drift_check -------------------------------------------------------------------------------
    def drift_check(self) -> DriftReport:
        """Check every active link once; a link Google refuses now is left for the next run."""
        total = DriftReport()
        by_clinic: dict[str, list[SyncLink]] = {}
        for link in self.links.active_links():
            by_clinic.setdefault(link.clinic_id, []).append(link)
        for clinic_id, links in by_clinic.items():
            # One query per clinic for what it wrote since the least recent check of its links: a quiet
            # clinic costs one read, however many agendas and appointments it holds.
            checked = [li.drift_checked_at for li in links if li.drift_checked_at is not None]
            changed = (
                self.directory.appointments_changed_since(clinic_id, min(checked) - DRIFT_OVERLAP)
                if checked
                else []
            )
            for link in links:
                try:
                    plan = self.check(link, changed)
                except RetryLater as busy:
                    log.info("drift check put off", extra={"linkId": link.id, "cause": str(busy)})
                    plan = None
                total = _added(total, plan)
        log.info("drift check", extra=vars(total))
        return total

    def check(self, link: SyncLink, changed: list[Appointment]) -> DriftPlan | None:
        """Check one link, given what its clinic wrote since the link's last check (or before), and queue
        its repairs; None when it could not be checked."""
        now = self.clock.now()
        letters = self.repairs.dead_letters(link) if link.pending_failures else []
        token, corrections = link.drift_sync_token, []
        opened: Opened | None = None
        if not link.bidirectional:
            # A two-way link's calendar is the pull's to read: a change made there is applied to the clinic,
            # never undone. A one-way link's calendar shows only the clinic: any change there is drift.
            found = self.access.open_link(link, Need.ACTIVE)
            if isinstance(found, Skipped):
                return None
            opened = found
            listed = self.access.run(link, lambda: self._calendar_changes(found, now))
            if isinstance(listed, Skipped):
                return None
            events, token = listed
            ours = [a for e in events if (a := appointment_id_of(dict(e), link.clinic_id)) is not None]
            recorded = self.records.event_links_for(link, ours) if ours else {}
            cancelled = cancelled_ids(events)
            deleted = self.records.event_links_by_events(link, cancelled) if cancelled else {}
            corrections = calendar_drift(events, link.clinic_id, recorded, deleted)
        stale = self._stale(link, opened, now, changed, {c.appointment_id for c in corrections})
        plan = plan_drift(corrections=corrections, stale=stale, letters=letters, two_way=link.bidirectional)
        self._repair(link, plan, now)
        self.repairs.save_drift_check(link, token, now)
        return plan

    def _calendar_changes(self, opened: Opened, now: datetime) -> tuple[list[dict[str, Any]], str | None]:
        """What changed in the calendar since the last check (from now on, the first time), every page."""
        token = opened.link.drift_sync_token
        try:
            return opened.list_every_page(sync_token=token, time_min=None if token else now)
        except SyncTokenExpired:
            # Google's answer to a sync token it no longer honours (410): list again from scratch.
            return opened.list_every_page(sync_token=None, time_min=now)

    def _stale(
        self,
        link: SyncLink,
        opened: Opened | None,
        now: datetime,
        clinic_changes: list[Appointment],
        known: set[str],
    ) -> list[str]:
        """Appointments written since the link's last check whose recorded push differs from what they should
        show (the first check looks at the whole upcoming agenda). Every agenda's changes count: one moved
        to another professional must leave this calendar, and only its event link says it was here."""
        if link.drift_checked_at is not None:
            since = link.drift_checked_at - DRIFT_OVERLAP
            changed = [a for a in clinic_changes if a.updated_at is not None and a.updated_at >= since]
        else:
            until = now + timedelta(days=self.settings.backfill_days)
            changed = self.directory.upcoming_appointments(link.clinic_id, link.professional_id, now, until)
        changed = [a for a in changed if a.id not in known]
        if not changed or not link.calendar_id:
            return []
        clinic = opened.clinic if opened else self.directory.clinic(link.clinic_id)
        if clinic is None:
            return []
        centers: dict[str, Center | None] = {}

        def center_of(center_id: str) -> Center | None:
            if center_id not in centers:
                centers[center_id] = self.directory.center(clinic.id, center_id)
            return centers[center_id]

        recorded = self.records.event_links_for(link, [a.id for a in changed])
        stale: list[str] = []
        for appointment in changed:
            try:
                content = desired_event(appointment, link.professional_id, clinic, center_of)
            except DomainError:
                continue  # the push records why it cannot show; nothing to repair
            event_id = event_id_of(clinic.id, appointment.id, appointment, link.calendar_id)
            if not isinstance(plan_push(content, event_id, recorded.get(appointment.id)), Nothing):
                stale.append(appointment.id)
        return stale

    def _repair(self, link: SyncLink, plan: DriftPlan, now: datetime) -> None:
        if plan.empty:
            return
        if plan.corrections:
            self.records.record_event_links(link, list(plan.corrections), None)
        check = now.isoformat()
        for appointment_id in plan.appointments:
            self.tasks.repair(link.clinic_id, link.id, appointment_id, check)
        if plan.backfill:
            self.tasks.backfill_again(link)
        if plan.pull:
            self.tasks.pull_full(link.clinic_id, link.id)
        log.info(
            "drift repaired",
            extra={
                "linkId": link.id,
                "corrected": len(plan.corrections),
                "pushes": len(plan.appointments),
                "backfill": plan.backfill,
                "pull": plan.pull,
            },
        )


def _added(total: DriftReport, plan: DriftPlan | None) -> DriftReport:
    if plan is None:
        return DriftReport(total.links + 1, total.repaired, total.backfills, total.pulls, total.skipped + 1)
    return DriftReport(
        total.links + 1,
        total.repaired + len(plan.appointments),
        total.backfills + int(plan.backfill),
        total.pulls + int(plan.pull),
        total.skipped,
    )
