"""Clinic to Google: enqueue a push per linked calendar on each appointment write, and carry pushes out.

The trigger only decides which links must look at an appointment; the worker reads the appointment's
current state, so a burst of writes costs one Calendar call per distinct final state and a stale or
duplicated task finds nothing to do. What to send, and what follows Google's answer, is the push
planner's (`shared.domain.planner`); what a failure of Google means, the access module's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.config import Settings
from shared.domain.clinic import Appointment, AppointmentChange, Center, Clinic
from shared.domain.errors import DomainError
from shared.domain.event import EventContent, desired_event, privacy_key
from shared.domain.event_link import EventLink, event_id_of
from shared.domain.link import SyncLink
from shared.domain.planner import (
    GiveUp,
    Nothing,
    PushAction,
    Record,
    Refresh,
    Retry,
    Step,
    after_push,
    listed,
    plan_adoption,
    plan_push,
    refresh_refused,
    refreshed,
)
from shared.domain.repair import LostWork, letter_key
from shared.ports import (
    ClinicDirectory,
    Clock,
    GoogleError,
    Links,
    PushOutcome,
    Repairs,
    SyncRecords,
    SyncStatus,
)
from shared.services.access import (
    Access,
    LoseAccess,
    Need,
    Opened,
    Refused,
    Skipped,
    SkipReason,
    TryLater,
    Verdict,
    judge,
)
from shared.services.tasks import PushWork, RetryLater, Tasks

log = logging.getLogger(__name__)

# How often a busy link's lastPushAt is refreshed: one document takes about one write per second.
LAST_PUSH_RESOLUTION = timedelta(seconds=30)
# Appointments a backfill plans and records at a time: 20 batch requests, sent a few at a time.
BACKFILL_CHUNK = 1000
# Rounds of follow-up actions (adopt after 409, insert after 404, rewrite after 412) one push sends at most.
MAX_ROUNDS = 3


@dataclass(frozen=True)
class PushReport:
    done: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: str | None = None


@dataclass
class PushService:
    settings: Settings
    directory: ClinicDirectory
    links: Links
    records: SyncRecords
    status: SyncStatus
    repairs: Repairs
    access: Access
    tasks: Tasks
    clock: Clock

    # --- on_appointment_written --------------------------------------------------------------------
    def fan_out(self, change: AppointmentChange) -> int:
        """Enqueue one push task per active link that shows (or showed) this appointment."""
        enqueued = 0
        for professional_id in change.professional_ids:
            for link in self.links.active_links_of_professional(change.clinic_id, professional_id):
                if link.id == change.written_by_link:
                    continue  # this write came from that link's own calendar
                enqueued += self.tasks.push_change(change, link.id)
        return enqueued

    # --- push_worker -------------------------------------------------------------------------------
    def run(self, work: PushWork) -> PushReport:
        """Carry out one push task."""
        if work.appointment_id is None:
            return self.backfill(work.clinic_id, work.link_id)
        return self.push(work.clinic_id, work.link_id, [work.appointment_id])

    def push(self, clinic_id: str, link_id: str, appointment_ids: Sequence[str]) -> PushReport:
        """Bring the events of these appointments in the link's calendar in line with the clinic."""
        opened = self.access.open(clinic_id, link_id, Need.ACTIVE)
        if isinstance(opened, Skipped):
            return self._skipped(opened)
        return self.push_appointments(opened, appointment_ids)

    def push_appointments(
        self,
        opened: Opened,
        appointment_ids: Sequence[str],
        known: Mapping[str, Appointment] | None = None,
        clear_notes: bool = False,
    ) -> PushReport:
        """Push these appointments of an opened link (a pull pushing back, a backfill, a push task); those
        in `known` were just read, the others are read now. `clear_notes`: the clinic stopped sharing notes
        since these events were written, so the descriptions we wrote are emptied (see `EventContent`)."""
        known = known or {}
        link, clinic = opened.link, opened.clinic
        assert link.calendar_id
        centers: dict[str, Center | None] = {}

        def center_of(center_id: str) -> Center | None:
            if center_id not in centers:
                centers[center_id] = self.directory.center(clinic.id, center_id)
            return centers[center_id]

        desired: dict[str, tuple[EventContent | None, str]] = {}
        failed = 0
        for appointment_id in appointment_ids:
            try:
                appointment = known.get(appointment_id) or self.directory.appointment(
                    clinic.id, appointment_id
                )
                content = desired_event(appointment, link.professional_id, clinic, center_of)
                if clear_notes and content is not None:
                    content = dataclasses.replace(content, clear_description=True)
            except DomainError as exc:
                failed += 1
                self._record_error(opened, exc.code, exc.message)
                continue
            desired[appointment_id] = (
                content,
                event_id_of(clinic.id, appointment_id, appointment, link.calendar_id),
            )
        return self._carry_out(opened, desired, failed)

    def backfill(self, clinic_id: str, link_id: str) -> PushReport:
        """On activation: adopt what the calendar already holds of ours, then push every upcoming appointment.

        Adopting first is what makes a redo cheap and exact: events of appointments unchanged since the
        last link cost no call, and events of appointments cancelled meanwhile are removed.
        """
        opened = self.access.open(clinic_id, link_id, Need.ACTIVE)
        if isinstance(opened, Skipped):
            return self._skipped(opened)
        now = self.clock.now()
        adopted = self.access.run(opened.link, lambda: self._adopt(opened, since=now))
        if isinstance(adopted, Skipped):
            return PushReport(skipped=adopted.reason)
        link = opened.link
        upcoming = self.directory.upcoming_appointments(
            clinic_id, link.professional_id, now, now + timedelta(days=self.settings.backfill_days)
        )
        # The query already read every upcoming appointment: they are planned from it, not read again.
        known = {appointment.id: appointment for appointment in upcoming}
        ids = list(dict.fromkeys([*known, *adopted]))
        # Notes were shown when these events were last written and no longer are: the descriptions we wrote
        # must go (a person's own text in our events otherwise stays: the description is not ours then).
        notes_withdrawn = (link.pushed_privacy or "").endswith("+notes") and not opened.clinic.share_notes
        total = PushReport()
        current: Opened | None = opened
        for start in range(0, len(ids), BACKFILL_CHUNK):
            if start:
                current = self.access.still_open(opened, Need.ACTIVE)  # stop if the link ended meanwhile
                if current is None:
                    return replace(total, skipped=Need.ACTIVE.value)
            assert current is not None
            report = self.push_appointments(
                current, ids[start : start + BACKFILL_CHUNK], known, clear_notes=notes_withdrawn
            )
            total = PushReport(
                total.done + report.done, total.unchanged + report.unchanged, total.failed + report.failed
            )
        privacy = privacy_key(opened.clinic)
        if link.pushed_privacy != privacy:
            # Every event now shows the clinic's current choices (a hash that changed was patched).
            self.status.save_pushed_privacy(link, privacy)
        log.info("backfill done", extra={"linkId": link_id, "appointments": len(ids), "pushed": total.done})
        self.heal(link, [letter_key(LostWork.BACKFILL)])
        return total

    # --- scheduled upkeep --------------------------------------------------------------------------
    def privacy_upkeep(self) -> int:
        """Backfill every active link whose events were written with other privacy choices than its
        clinic's now (the clinic's document changed: no trigger fires for it). The backfill patches each
        event whose content changed and records the choices; answers how many backfills were queued."""
        clinics: dict[str, Clinic | None] = {}
        queued = 0
        for link in self.links.active_links():
            if link.clinic_id not in clinics:
                try:
                    clinics[link.clinic_id] = self.directory.clinic(link.clinic_id)
                except DomainError:
                    clinics[link.clinic_id] = None  # malformed: its links' work records it
            clinic = clinics[link.clinic_id]
            if clinic is None or privacy_key(clinic) == link.pushed_privacy:
                continue
            window = self.settings.reconcile_interval_seconds
            queued += self.tasks.privacy_backfill(link, privacy_key(clinic), window)
        return queued

    def _adopt(self, opened: Opened, since: datetime) -> list[str]:
        """Record the events of ours that the calendar holds from `since` on; answer their appointments."""
        link = opened.link
        assert link.calendar_id
        events, _token = opened.list_every_page(sync_token=None, time_min=since)
        found = listed(events, link.clinic_id, link.calendar_id)
        recorded = self.records.event_links_for(link, [item.appointment_id for item in found])
        adopted, fresh = plan_adoption(found, recorded)
        if fresh:
            self.records.record_event_links(link, fresh, None)
        return adopted

    # --- carrying out ------------------------------------------------------------------------------
    def _carry_out(
        self, opened: Opened, desired: Mapping[str, tuple[EventContent | None, str]], failed: int
    ) -> PushReport:
        link, gateway = opened.link, opened.gateway
        assert link.calendar_id
        recorded = self.records.event_links_for(link, list(desired))
        plans = {
            appointment_id: plan_push(content, eid, recorded.get(appointment_id))
            for appointment_id, (content, eid) in desired.items()
        }
        unchanged = sum(isinstance(a, Nothing) for a in plans.values())
        pending: dict[str, PushAction] = {k: a for k, a in plans.items() if not isinstance(a, Nothing)}
        results: list[EventLink] = []
        retry_later: RetryLater | None = None
        held: TryLater | None = None  # a wait of hours, marked once on the link's health
        for _ in range(MAX_ROUNDS):
            if not pending:
                break
            keys = list(pending)
            outcomes = gateway.apply(link.calendar_id, [pending[k] for k in keys])
            again: dict[str, PushAction] = {}
            for key, outcome in zip(keys, outcomes, strict=True):
                step, verdict = self._settle(opened, key, outcome)
                if isinstance(verdict, LoseAccess):
                    self._record(opened, results)
                    self.access.lose(link, verdict)
                    return PushReport(done=len(results), unchanged=unchanged, skipped=SkipReason.ACCESS_LOST)
                if isinstance(verdict, TryLater):
                    retry_later = verdict.retry().joined(retry_later)
                    held = held or (verdict if verdict.health else None)
                elif isinstance(step, Record):
                    results.append(step.event_link)
                elif isinstance(step, Retry):
                    again[key] = step.action
                elif isinstance(step, GiveUp) and step.failed and isinstance(verdict, Refused):
                    failed += 1
                    self._record_error(opened, verdict.code, verdict.message)
            pending = again
        self._record(opened, results)
        if held is not None:
            self.access.mark(link, held)
        settled = [k for k, a in plans.items() if isinstance(a, Nothing)] + [
            r.appointment_id for r in results
        ]
        self.heal(link, [letter_key(LostWork.PUSH, appointment_id) for appointment_id in settled])
        if retry_later is not None:
            raise retry_later
        return PushReport(done=len(results), unchanged=unchanged, failed=failed)

    def _settle(
        self, opened: Opened, appointment_id: str, outcome: PushOutcome
    ) -> tuple[Step, Verdict | None]:
        """The planner's next step for one outcome, with the verdict on Google's failure when there was one."""
        verdict = judge(outcome.error) if outcome.error is not None else None
        if verdict is not None and not isinstance(verdict, Refused):
            return GiveUp(failed=False), verdict  # about the whole link: the caller acts on it
        step = after_push(appointment_id, outcome.action, outcome.event, verdict.refusal if verdict else None)
        if not isinstance(step, Refresh):
            return step, verdict
        try:
            etag = opened.gateway.get_event(opened.link.calendar_id or "", step.action.event_id).get("etag")
        except GoogleError as error:  # the re-read failed: settled as that failure
            again = judge(error)
            if not isinstance(again, Refused):
                return GiveUp(failed=False), again
            return refresh_refused(step, again.refusal), again
        return refreshed(step, etag), verdict

    def heal(self, link: SyncLink, keys: list[str]) -> int:
        """Remove the dead letters of work now done (read only when the link holds some)."""
        if not link.pending_failures or not keys:
            return 0
        healed = self.repairs.remove_dead_letters(link, keys)
        if healed:
            log.info("dead letters healed", extra={"linkId": link.id, "healed": healed})
        return healed

    def _record(self, opened: Opened, results: list[EventLink]) -> None:
        if not results:
            return
        link = opened.link
        now = self.clock.now()
        # A push that gets through clears the link's health mark (with lastPushAt), however recent the last.
        stale = (
            link.last_push_at is None
            or now - link.last_push_at >= LAST_PUSH_RESOLUTION
            or link.health is not None
        )
        self.records.record_event_links(link, results, now if stale else None)

    def _skipped(self, skipped: Skipped) -> PushReport:
        """The work is not done; the link says why when the clinic must correct something."""
        noted = self.access.error_of(skipped)
        if noted is not None:
            self.status.save_error(*noted)
        return PushReport(skipped=skipped.reason)

    def _record_error(self, opened: Opened, code: str, message: str) -> None:
        now = self.clock.now()
        self.status.save_error(opened.link, {"code": code, "message": message, "at": now.isoformat()})
        log.warning("push failed", extra={"linkId": opened.link.id, "code": code})
