"""Clinic to Google: enqueue a push per linked calendar on each appointment write, and carry pushes out.

The trigger only decides which links must look at an appointment; the worker reads the appointment's
current state, so a burst of writes costs one Calendar call per distinct final state and a stale or
duplicated task finds nothing to do.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.domain.clinic import Appointment, Center, Clinic
from shared.domain.errors import DomainError
from shared.domain.event import EventContent, event_content, event_id, event_id_for, remote_hash
from shared.domain.link import LinkStatus, SyncLink
from shared.domain.planner import Delete, EventLink, Insert, Nothing, Patch, PushAction, plan_push
from shared.domain.pull_planner import appointment_id_for_event, appointment_id_of
from shared.ports import (
    AlreadyExists,
    AuthRevoked,
    CalendarGateway,
    ClinicDirectory,
    Clock,
    GoogleError,
    Links,
    Permanent,
    PreconditionFailed,
    PushOutcome,
    RemoteMissing,
    SyncRecords,
    TaskQueue,
    Transient,
)
from shared.services.access import Access, NoAccess

log = logging.getLogger(__name__)

# Field set on appointments written by a pull, naming the link whose calendar the change came from.
SYNC_SOURCE = "syncSource"
# How often a busy link's lastPushAt is refreshed: one document takes about one write per second.
LAST_PUSH_RESOLUTION = timedelta(seconds=30)
# Appointments a backfill plans and records at a time: 20 batch requests, sent a few at a time.
BACKFILL_CHUNK = 1000
MAX_ROUNDS = 3
# Google counts its quotas per minute: work refused for quota is queued again once that minute has passed,
# instead of being retried with backoff (which spends the task's attempts while the quota is still spent).
QUOTA_WINDOW = timedelta(seconds=60)
# Deferrals of one piece of work (half an hour); after them the queue's own bounded retries take over.
MAX_DEFERRALS = 30


class RetryLater(Exception):
    """Google is busy or failing: the task must be retried (the worker answers 503, or defers it).

    `quota` says Google refused for a usage quota rather than failed.
    """

    def __init__(self, message: str, *, quota: bool = False) -> None:
        super().__init__(message)
        self.quota = quota


@dataclass(frozen=True)
class AppointmentWrite:
    """One write to clinics/{clinicId}/appointments/{appointmentId}, as the trigger saw it."""

    clinic_id: str
    appointment_id: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    update_time: datetime | None


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
    access: Access
    queue: TaskQueue
    clock: Clock

    # --- on_appointment_written --------------------------------------------------------------------
    def fan_out(self, write: AppointmentWrite) -> int:
        """Enqueue one push task per active link that shows (or showed) this appointment."""
        professionals = {
            doc.get("professionalId") for doc in (write.old, write.new) if doc and doc.get("professionalId")
        }
        pulled_by = _pulled_by(write)
        enqueued = 0
        stamp = write.update_time.isoformat() if write.update_time else "none"
        for professional_id in sorted(str(p) for p in professionals):
            for link in self.links.active_links_of_professional(write.clinic_id, professional_id):
                if link.id == pulled_by:
                    continue  # this write came from that link's own calendar
                name = (
                    "push-"
                    + hashlib.sha256(f"{link.id}/{write.appointment_id}/{stamp}".encode()).hexdigest()[:40]
                )
                payload = {
                    "clinicId": write.clinic_id,
                    "linkId": link.id,
                    "appointmentId": write.appointment_id,
                }
                enqueued += self.queue.enqueue(self.settings.push_queue, name, payload)
        return enqueued

    # --- push_worker -------------------------------------------------------------------------------
    def push(self, clinic_id: str, link_id: str, appointment_ids: Sequence[str]) -> PushReport:
        """Bring the events of these appointments in the link's calendar in line with the clinic."""
        link = self.links.get(clinic_id, link_id)
        if link is None or link.status is not LinkStatus.ACTIVE or not link.calendar_id:
            return PushReport(skipped="link not active")
        clinic = self.directory.clinic(clinic_id)
        if clinic is None:
            return PushReport(skipped="clinic not found")
        try:
            gateway = self.access.gateway(link)
        except NoAccess:
            return PushReport(skipped="link has no grant")
        return self.push_appointments(link, clinic, gateway, appointment_ids)

    def push_appointments(
        self,
        link: SyncLink,
        clinic: Clinic,
        gateway: CalendarGateway,
        appointment_ids: Sequence[str],
        known: Mapping[str, Appointment] | None = None,
    ) -> PushReport:
        """Push these appointments of an active link whose clinic and gateway the caller holds already (a pull
        pushing back, a backfill); those in `known` were just read, the others are read now."""
        known = known or {}
        assert link.calendar_id
        clinic_id = clinic.id
        centers: dict[str, Center | None] = {}
        desired: dict[str, tuple[EventContent | None, str]] = {}
        failed = 0
        for appointment_id in appointment_ids:
            try:
                appointment = known.get(appointment_id) or self.directory.appointment(
                    clinic_id, appointment_id
                )
                content = self._desired(link, clinic, appointment, centers)
            except DomainError as exc:
                failed += 1
                self._record_error(link, exc.code, exc.message)
                continue
            eid = (
                event_id_for(appointment, link.calendar_id)
                if appointment is not None
                else event_id(clinic_id, appointment_id)
            )
            desired[appointment_id] = (content, eid)
        return self._carry_out(link, gateway, desired, failed)

    def backfill(self, clinic_id: str, link_id: str) -> PushReport:
        """On activation: adopt what the calendar already holds of ours, then push every upcoming appointment.

        Adopting first is what makes a redo cheap and exact: events of appointments unchanged since the
        last link cost no call, and events of appointments cancelled meanwhile are removed.
        """
        link = self.links.get(clinic_id, link_id)
        if link is None or link.status is not LinkStatus.ACTIVE or not link.calendar_id:
            return PushReport(skipped="link not active")
        clinic = self.directory.clinic(clinic_id)
        if clinic is None:
            return PushReport(skipped="clinic not found")
        now = self.clock.now()
        try:
            gateway = self.access.gateway(link)
            adopted = self._adopt(link, gateway, since=now)
        except NoAccess:
            return PushReport(skipped="link has no grant")
        except AuthRevoked as exc:
            self.access.lose(link, str(exc))
            return PushReport(skipped="google access lost")
        except Transient as exc:
            raise RetryLater(str(exc), quota=exc.quota) from None
        upcoming = self.directory.upcoming_appointments(
            clinic_id, link.professional_id, now, now + timedelta(days=self.settings.backfill_days)
        )
        # The query already read every upcoming appointment: they are planned from it, not read again.
        known = {appointment.id: appointment for appointment in upcoming}
        ids = list(dict.fromkeys([*known, *adopted]))
        total = PushReport()
        for start in range(0, len(ids), BACKFILL_CHUNK):
            if start:
                link = self.links.get(clinic_id, link_id)  # stop if the link ended meanwhile
                if link is None or link.status is not LinkStatus.ACTIVE or not link.calendar_id:
                    return replace(total, skipped="link not active")
            report = self.push_appointments(link, clinic, gateway, ids[start : start + BACKFILL_CHUNK], known)
            total = PushReport(
                total.done + report.done, total.unchanged + report.unchanged, total.failed + report.failed
            )
        log.info("backfill done", extra={"linkId": link_id, "appointments": len(ids), "pushed": total.done})
        return total

    def _adopt(self, link: SyncLink, gateway: CalendarGateway, since: datetime) -> list[str]:
        """Record the events of ours that the calendar holds from `since` on; answer their appointments.

        Ours are the events marked with our extended properties, and the events made in Google that a
        link of this calendar pulled before (recorded under their id) but may not have marked yet: a link
        disabled between the pull and the marking must not leave the event behind for good.
        """
        assert link.calendar_id
        listed: list[tuple[str, dict[str, Any], bool]] = []
        page_token: str | None = None
        while True:
            page = gateway.list_events(
                link.calendar_id, sync_token=None, time_min=since, page_token=page_token
            )
            for event in page.items:
                if event.get("status") == "cancelled":
                    continue
                ours = appointment_id_of(event, link.clinic_id)
                appointment_id = ours or appointment_id_for_event(link.calendar_id, str(event["id"]))
                listed.append((appointment_id, event, ours is not None))
            if not page.next_page_token:
                break
            page_token = page.next_page_token
        recorded = self.records.event_links_for(link, [appointment_id for appointment_id, _, _ in listed])
        adopted: list[str] = []
        fresh: list[EventLink] = []
        for appointment_id, event, marked in listed:
            known = recorded.get(appointment_id)
            if not marked and (known is None or known.event_id != event["id"]):
                continue  # made in Google and never pulled: the pull decides whether it is adopted
            adopted.append(appointment_id)
            if known is None:
                fresh.append(
                    EventLink(appointment_id, str(event["id"]), event.get("etag"), remote_hash(event))
                )
        if fresh:
            self.records.record_event_links(link, fresh, None)
        return adopted

    def defer(self, clinic_id: str, link_id: str, appointment_id: str | None, deferrals: int) -> bool:
        """Google refused this work for quota: queue it again (`appointment_id` None: the backfill) once the
        quota's minute has passed, so that the refusal spends none of the task's bounded attempts.

        False when it was deferred MAX_DEFERRALS times already: the worker then answers 503 and the queue's
        own retries take over. A second deferral of the same work in the same minute is the same task.
        """
        if deferrals >= MAX_DEFERRALS:
            return False
        subject = appointment_id or "backfill"
        minute = int(self.clock.now().timestamp() // 60)
        key = f"{link_id}/{subject}/{deferrals + 1}/{minute}"
        name = "push-deferred-" + hashlib.sha256(key.encode()).hexdigest()[:40]
        payload: dict[str, Any] = {"clinicId": clinic_id, "linkId": link_id, "deferrals": deferrals + 1}
        payload.update({"appointmentId": appointment_id} if appointment_id else {"backfill": True})
        self.queue.enqueue(self.settings.push_queue, name, payload, QUOTA_WINDOW.total_seconds())
        log.info("push deferred for quota", extra={"linkId": link_id, "deferrals": deferrals + 1})
        return True

    # --- planning and carrying out -----------------------------------------------------------------
    def _desired(
        self,
        link: SyncLink,
        clinic: Clinic,
        appointment: Appointment | None,
        centers: dict[str, Center | None],
    ) -> EventContent | None:
        if (
            appointment is None
            or not appointment.is_live
            or appointment.professional_id != link.professional_id
        ):
            return None
        if appointment.center_id not in centers:
            centers[appointment.center_id] = self.directory.center(clinic.id, appointment.center_id)
        center = centers[appointment.center_id]
        if center is None:
            raise DomainError("the appointment's centre does not exist", code="center_not_found")
        return event_content(appointment, clinic, center)

    def _carry_out(
        self,
        link: SyncLink,
        gateway: CalendarGateway,
        desired: Mapping[str, tuple[EventContent | None, str]],
        failed: int,
    ) -> PushReport:
        assert link.calendar_id
        plans: dict[str, PushAction] = {}
        recorded = self.records.event_links_for(link, list(desired))
        for appointment_id, (content, eid) in desired.items():
            plans[appointment_id] = plan_push(content, eid, recorded.get(appointment_id))
        unchanged = sum(isinstance(a, Nothing) for a in plans.values())
        pending: dict[str, PushAction] = {k: a for k, a in plans.items() if not isinstance(a, Nothing)}
        results: list[EventLink] = []
        transient: Transient | None = None
        quota = False
        for _ in range(MAX_ROUNDS):
            if not pending:
                break
            keys = list(pending)
            outcomes = gateway.apply(link.calendar_id, [pending[k] for k in keys])
            retry: dict[str, PushAction] = {}
            for key, outcome in zip(keys, outcomes, strict=True):
                try:
                    done, again = self._settle(gateway, link, key, outcome)
                except GoogleError as error:  # the re-read after a 412 failed: settle it later
                    done, again, outcome = None, None, replace(outcome, error=error)
                if done is not None:
                    results.append(done)
                if again is not None:
                    retry[key] = again
                if isinstance(outcome.error, AuthRevoked):
                    self.access.lose(link, str(outcome.error))
                    self._record(link, results)
                    return PushReport(done=len(results), unchanged=unchanged, skipped="google access lost")
                if isinstance(outcome.error, Transient):
                    transient = outcome.error
                    quota = quota or outcome.error.quota
                elif isinstance(outcome.error, Permanent):
                    failed += 1
                    self._record_error(link, outcome.error.reason or "google_error", str(outcome.error))
            pending = retry
        self._record(link, results)
        if transient is not None:
            raise RetryLater(str(transient), quota=quota)
        return PushReport(done=len(results), unchanged=unchanged, failed=failed)

    def _settle(
        self, gateway: CalendarGateway, link: SyncLink, appointment_id: str, outcome: PushOutcome
    ) -> tuple[EventLink | None, PushAction | None]:
        """The event link to record for one outcome, and the follow-up action when one is needed."""
        action, error = outcome.action, outcome.error
        if error is None:
            return _event_link(appointment_id, action, outcome.event), None
        if isinstance(action, Insert) and isinstance(error, AlreadyExists):
            # Ours from before (a redo, or a lost response): adopt it, restoring it if it was cancelled.
            return None, Patch(action.event_id, action.content, etag=None)
        if isinstance(action, Delete) and isinstance(error, RemoteMissing):
            return EventLink(appointment_id, action.event_id, None, None, deleted=True), None
        if isinstance(action, Patch) and isinstance(error, RemoteMissing):
            return None, Insert(action.event_id, action.content)
        if isinstance(action, (Patch, Delete)) and isinstance(error, PreconditionFailed):
            # Someone changed the event since our etag: the clinic is the source of truth, so re-read the
            # etag and write again.
            try:
                etag = gateway.get_event(link.calendar_id or "", action.event_id).get("etag")
            except RemoteMissing:
                etag = None
            return None, replace(action, etag=etag)
        return None, None

    def _record(self, link: SyncLink, results: list[EventLink]) -> None:
        if not results:
            return
        now = self.clock.now()
        stale = link.last_push_at is None or now - link.last_push_at >= LAST_PUSH_RESOLUTION
        self.records.record_event_links(link, results, now if stale else None)

    def _record_error(self, link: SyncLink, code: str, message: str) -> None:
        now = self.clock.now()
        self.records.save_error(link, {"code": code, "message": message, "at": now.isoformat()})
        log.warning("push failed", extra={"linkId": link.id, "code": code})


def _event_link(appointment_id: str, action: PushAction, event: Mapping[str, Any] | None) -> EventLink:
    etag = (event or {}).get("etag")
    if isinstance(action, Delete):
        return EventLink(appointment_id, action.event_id, etag, None, deleted=True)
    assert isinstance(action, (Insert, Patch))
    return EventLink(appointment_id, action.event_id, etag, action.content.content_hash)


def _pulled_by(write: AppointmentWrite) -> str | None:
    """The link a pull wrote this change for; a later clinic edit leaves the marker as it was."""
    before = (write.old or {}).get(SYNC_SOURCE)
    after = (write.new or {}).get(SYNC_SOURCE)
    if isinstance(after, Mapping) and after != before:
        link_id = after.get("linkId")
        return str(link_id) if link_id else None
    return None
