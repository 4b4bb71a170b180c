"""Google to clinic, for two-way links: read what changed in the calendar and apply it to the agenda.

Changes are listed incrementally with the link's sync token (every page read before the new token is
kept); without one, a bounded full sync takes a baseline. Each event is planned by the pure pull planner;
writes to the clinic carry the `syncSource` marker so that the trigger does not push them back here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.domain.clinic import Appointment, AppointmentStatus, Clinic, EventOrigin
from shared.domain.errors import DomainError
from shared.domain.event import event_content, remote_hash
from shared.domain.link import LinkStatus, SyncLink
from shared.domain.planner import EventLink
from shared.domain.pull_planner import (
    Cancel,
    Create,
    Ignore,
    PullAction,
    PushBack,
    Remember,
    Reschedule,
    appointment_id_for_event,
    appointment_id_of,
    plan_pull,
)
from shared.ports import (
    AuthRevoked,
    CalendarGateway,
    ClinicDirectory,
    Clock,
    Links,
    SyncRecords,
    SyncTokenExpired,
    Transient,
)
from shared.services.access import Access, NoAccess
from shared.services.push import PushService, RetryLater

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PullReport:
    events: int = 0
    applied: int = 0
    pushed_back: int = 0
    conflicts: int = 0
    skipped: str | None = None


@dataclass
class PullService:
    settings: Settings
    directory: ClinicDirectory
    links: Links
    records: SyncRecords
    access: Access
    push: PushService
    clock: Clock

    def pull(self, clinic_id: str, link_id: str) -> PullReport:
        """Apply every change of the link's calendar since the last pull."""
        link = self.links.get(clinic_id, link_id)
        if (
            link is None
            or link.status is not LinkStatus.ACTIVE
            or not link.bidirectional
            or not link.calendar_id
        ):
            return PullReport(skipped="not an active two-way link")
        clinic = self.directory.clinic(clinic_id)
        if clinic is None:
            return PullReport(skipped="clinic not found")
        try:
            gateway = self.access.gateway(link)
            baseline = link.sync_token is None
            try:
                items, token = self._changes(gateway, link, link.sync_token)
            except SyncTokenExpired:
                log.info("sync token expired; full sync", extra={"linkId": link.id})
                items, token = self._changes(gateway, link, None)
                baseline = True
            # Events changed in Google since then are new even in a full sync (a calendar we created has
            # nothing older of the user's; a redo carries the previous link's last pull).
            since = link.last_pull_at or link.adopt_since or link.activated_at
            report, push_back = self._apply(link, clinic, items, baseline=baseline, since=since)
            if push_back:
                # The link, its clinic and its gateway are in hand: no need to read or build them again.
                self.push.push_appointments(link, clinic, gateway, push_back)
        except AuthRevoked as exc:
            self.access.lose(link, str(exc))
            return PullReport(skipped="google access lost")
        except NoAccess:
            return PullReport(skipped="link has no grant")
        except Transient as exc:
            raise RetryLater(str(exc), quota=exc.quota) from None
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

    def _changes(
        self, gateway: CalendarGateway, link: SyncLink, sync_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every changed event, following every page; the new sync token only once the last page is read."""
        assert link.calendar_id
        time_min = (
            None if sync_token else self.clock.now() - timedelta(days=self.settings.full_sync_days_back)
        )
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            page = gateway.list_events(
                link.calendar_id, sync_token=sync_token, time_min=time_min, page_token=page_token
            )
            items.extend(page.items)
            if not page.next_page_token:
                return items, page.next_sync_token
            page_token = page.next_page_token

    def _apply(
        self,
        link: SyncLink,
        clinic: Clinic,
        items: list[dict[str, Any]],
        *,
        baseline: bool,
        since: datetime | None,
    ) -> tuple[PullReport, list[str]]:
        assert link.calendar_id
        applied = conflicts = 0
        push_back: list[str] = []
        recorded_now: list[EventLink] = []
        for event in items:
            appointment_id, recorded = self._identify(link, event)
            try:
                appointment = self.directory.appointment(link.clinic_id, appointment_id)
                clinic_hash = self._hash(link, clinic, appointment)
            except DomainError as exc:
                log.warning("appointment unreadable", extra={"linkId": link.id, "code": exc.code})
                continue
            action = plan_pull(
                event, recorded, appointment, clinic_hash, adopt_new=self._adopts(event, baseline, since)
            )
            outcome = self._carry_out(link, clinic, event, appointment_id, appointment, recorded, action)
            if outcome is not None:
                recorded_now.append(outcome)
            if isinstance(action, PushBack):
                push_back.append(appointment_id)
                conflicts += action.conflict
            elif isinstance(action, (Reschedule, Cancel, Create)):
                applied += 1
                if isinstance(action, Reschedule) and outcome and outcome.content_hash != remote_hash(event):
                    push_back.append(appointment_id)  # Google also changed what the clinic owns (the title)
                if isinstance(action, Create):
                    push_back.append(appointment_id)  # mark the event as the appointment's (see below)
        if recorded_now:
            self.records.record_event_links(link, recorded_now, None)
        return PullReport(len(items), applied, len(push_back), conflicts), push_back

    def _identify(self, link: SyncLink, event: dict[str, Any]) -> tuple[str, EventLink | None]:
        """The appointment an event stands for, and what we recorded of it.

        Deleted events come back with no extended properties, so an event without them is looked up by
        its id among the events we recorded; one never seen is named after its calendar and id.
        """
        assert link.calendar_id
        appointment_id = appointment_id_of(event, link.clinic_id)
        if appointment_id is None:
            recorded = self.records.event_link_by_event(link, str(event.get("id")))
            if recorded is not None:
                return recorded.appointment_id, recorded
            appointment_id = appointment_id_for_event(link.calendar_id, str(event.get("id")))
        return appointment_id, self.records.event_link(link, appointment_id)

    @staticmethod
    def _adopts(event: dict[str, Any], baseline: bool, since: datetime | None) -> bool:
        """Whether an event never seen is a new appointment: not in a first baseline; after a lost sync
        token, only if it changed since the last pull."""
        if not baseline:
            return True
        if since is None:
            return False
        try:
            return datetime.fromisoformat(str(event.get("updated"))) > since
        except ValueError:
            return False

    def _hash(self, link: SyncLink, clinic: Clinic, appointment: Appointment | None) -> str | None:
        if (
            appointment is None
            or not appointment.is_live
            or appointment.professional_id != link.professional_id
        ):
            return None
        center = self.directory.center(link.clinic_id, appointment.center_id)
        if center is None:
            return None
        return event_content(appointment, clinic, center).content_hash

    def _carry_out(
        self,
        link: SyncLink,
        clinic: Clinic,
        event: dict[str, Any],
        appointment_id: str,
        appointment: Appointment | None,
        recorded: EventLink | None,
        action: PullAction,
    ) -> EventLink | None:
        """Write the clinic side of one action; answer the event link to record (None: keep as is)."""
        event_id = str(event.get("id"))
        etag = event.get("etag")
        if isinstance(action, Ignore):
            return None
        if isinstance(action, Remember):
            assert recorded is not None
            if event.get("status") == "cancelled":
                return (
                    None
                    if recorded.deleted
                    else replace(recorded, etag=None, content_hash=None, deleted=True)
                )
            return None if action.etag == recorded.etag else replace(recorded, etag=action.etag)
        if isinstance(action, PushBack):
            # Record what Google shows now, so that the push planner sees the difference and rewrites it.
            cancelled = event.get("status") == "cancelled"
            return EventLink(
                appointment_id,
                event_id,
                None if cancelled else etag,
                None if cancelled else remote_hash(event),
                deleted=cancelled,
            )
        if isinstance(action, Cancel):
            assert appointment is not None
            self.directory.write_appointment(
                replace(appointment, status=AppointmentStatus.CANCELLED), link.id
            )
            return EventLink(appointment_id, event_id, None, None, deleted=True)
        if isinstance(action, Reschedule):
            assert appointment is not None
            moved = replace(appointment, start=action.start, end=action.end)
            self.directory.write_appointment(moved, link.id)
            return EventLink(appointment_id, event_id, etag, self._hash(link, clinic, moved))
        assert isinstance(action, Create)
        assert link.calendar_id
        created = Appointment(
            clinic_id=link.clinic_id,
            id=appointment_id,
            professional_id=link.professional_id,
            center_id=link.center_id,
            start=action.start,
            end=action.end,
            title=action.title or None,
            origin=EventOrigin(link.calendar_id, event_id),
        )
        self.directory.write_appointment(created, link.id)
        # No content hash: the push that follows rewrites the event as the appointment's, with our extended
        # properties, so that a later link of this calendar, or a deletion in the clinic, still finds it.
        return EventLink(appointment_id, event_id, etag, None)
