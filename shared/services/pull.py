"""Google to clinic, for two-way links: read what changed in the calendar and apply it to the agenda.

Changes are listed incrementally with the link's sync token (every page read before the new token is
kept); without one, a bounded full sync takes a baseline. Each event is decided by the pull planner
(`shared.domain.pull_planner.decide_pull`); this service only reads what it needs and carries the
decision out: the appointment written to the clinic (marked as the link's, so that the trigger does not
push it back here), the event links recorded, and the appointments pushed back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.domain.clinic import Center
from shared.domain.errors import DomainError
from shared.domain.event_link import EventLink, appointment_id_for_event, appointment_id_of
from shared.domain.link import SyncLink
from shared.domain.pull_planner import decide_pull, is_new
from shared.domain.repair import LostWork, letter_key
from shared.ports import ClinicDirectory, Clock, Links, SyncRecords, SyncTokenExpired
from shared.services.access import Access, Need, Opened, Skipped
from shared.services.push import PushService

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

    def pull(self, clinic_id: str, link_id: str, *, full: bool = False) -> PullReport:
        """Apply every change of the link's calendar since the last pull (`full`: the whole calendar, as
        after an expired sync token)."""
        opened = self.access.open(clinic_id, link_id, Need.TWO_WAY)
        if isinstance(opened, Skipped):
            return PullReport(skipped=opened.reason)
        done = self.access.run(opened.link, lambda: self._pull(opened, full=full))
        if isinstance(done, Skipped):
            return PullReport(skipped=done.reason)
        report, token = done
        link = opened.link
        self.records.save_pull(link, token, self.clock.now(), report.conflicts)
        self.push.heal(link, [letter_key(LostWork.PULL)])
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

    def _pull(self, opened: Opened, *, full: bool = False) -> tuple[PullReport, str | None]:
        link = opened.link
        sync_token = None if full else link.sync_token
        baseline = sync_token is None
        try:
            items, token = self._changes(opened, sync_token)
        except SyncTokenExpired:
            # Google's answer to a sync token it no longer honours (410): start again with a full sync.
            log.info("sync token expired; full sync", extra={"linkId": link.id})
            items, token = self._changes(opened, None)
            baseline = True
        # Events changed in Google since then are new even in a full sync (a calendar we created has
        # nothing older of the user's; a redo carries the previous link's last pull).
        since = link.last_pull_at or link.adopt_since or link.activated_at
        report, push_back = self._apply(opened, items, baseline=baseline, since=since)
        if push_back:
            # The link, its clinic and its gateway are in hand: no need to read or open them again.
            self.push.push_appointments(opened, push_back)
        return report, token

    def _changes(self, opened: Opened, sync_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Every changed event, following every page; the new sync token only once the last page is read."""
        link = opened.link
        assert link.calendar_id
        time_min = (
            None if sync_token else self.clock.now() - timedelta(days=self.settings.full_sync_days_back)
        )
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            page = opened.gateway.list_events(
                link.calendar_id, sync_token=sync_token, time_min=time_min, page_token=page_token
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
        for event in items:
            appointment_id, recorded = self._identify(link, event)
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
