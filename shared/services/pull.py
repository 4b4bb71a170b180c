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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.config import Settings
from shared.domain.clinic import Appointment, Center
from shared.domain.errors import DomainError
from shared.domain.event_link import (
    EventLink,
    appointment_id_for_event,
    appointment_id_of,
    claim_holds,
    series_id_of,
)
from shared.domain.link import FullSyncProgress, SyncLink
from shared.domain.pull_planner import Create, PullDecision, Remember, decide_pull, is_new
from shared.domain.repair import LostWork, letter_key
from shared.ports import (
    ClinicDirectory,
    Clock,
    Links,
    RemoteMissing,
    SyncRecords,
    SyncStatus,
    SyncTokenExpired,
)
from shared.services.access import Access, Need, Opened, Skipped
from shared.services.push import PushService
from shared.services.tasks import PullWork, Tasks

log = logging.getLogger(__name__)


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


# Which series a pull reads again: none, those it saw change as a whole, or every one brought in before.
_Series = Literal["none", "changed", "every"]


@dataclass(frozen=True)
class _Recorded:
    """What we recorded of one page's events, read together: by appointment id (events that carry theirs)
    and by event id (events that carry none: made in Google, or deleted ones, which come back bare); and
    the appointments they stand for, read together too (a malformed one is not among them)."""

    by_appointment: dict[str, EventLink]
    by_event: dict[str, EventLink]
    appointments: dict[str, Appointment | None]


@dataclass
class PullService:
    settings: Settings
    directory: ClinicDirectory
    links: Links
    records: SyncRecords
    status: SyncStatus
    access: Access
    push: PushService
    tasks: Tasks
    clock: Clock

    def run(self, work: PullWork) -> PullReport:
        """Carry out one pull task. A task queued for the next part of a full sync (its `page_token`) goes on
        from the link's checkpoint like any other pull: whichever pull of the link comes next resumes the
        full sync, so a part lost on its queue, or a first part retried after its checkpoint, loses
        nothing (two pulls at once list the same pages, and apply them idempotently)."""
        return self.pull(work.clinic_id, work.link_id, full=work.full)

    def pull(self, clinic_id: str, link_id: str, *, full: bool = False) -> PullReport:
        """Apply every change of the link's calendar since the last pull (`full`: the whole calendar, as
        after an expired sync token, asked for by resync_link or the drift check)."""
        opened = self.access.open(clinic_id, link_id, Need.TWO_WAY)
        if isinstance(opened, Skipped):
            noted = self.access.error_of(opened)
            if noted is not None:
                self.status.save_error(*noted)
            return PullReport(skipped=opened.reason)
        done = self.access.run(opened.link, lambda: self._pull(opened, full=full))
        if isinstance(done, Skipped):
            return PullReport(skipped=done.reason)
        report, token, progress, as_of = done
        link = opened.link
        if progress is not None:
            # The checkpoint is saved: a lost or failed follow-up is retried, or the next pull goes on.
            self.tasks.continue_full_sync(link, progress)
            log.info(
                "full sync continues",
                extra={"linkId": link.id, "pages": progress.pages, "events": report.events},
            )
            return replace(report, continued=True)
        # The link's last pull is when the listing began, not now: Google's sync token stands for the calendar
        # as the first page saw it, and a later link adopting the calendar takes events changed after this
        # moment as new (one made in Google while a full sync's parts ran is never lost that way).
        self.status.save_pull(link, token, as_of, report.conflicts)
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

    def _pull(
        self, opened: Opened, *, full: bool = False
    ) -> tuple[PullReport, str | None, FullSyncProgress | None, datetime]:
        """What this task applied, and either the new sync token or where the full sync goes on (`full`:
        set the sync token aside and list the calendar whole); last, when the listing began."""
        link = opened.link
        if not full and link.full_sync is None and link.sync_token:
            began = self.clock.now()
            try:
                # Every change since the sync token, every page; the new sync token comes with the last.
                items, token = opened.list_every_page(sync_token=link.sync_token)
            except SyncTokenExpired:
                # Google's answer to a sync token it no longer honours (410): start again with a full sync.
                log.info("sync token expired; full sync", extra={"linkId": link.id})
            else:
                return self._applied(opened, items, baseline=False), token, None, began
        return self._full_sync(opened)

    def _full_sync(self, opened: Opened) -> tuple[PullReport, str | None, FullSyncProgress | None, datetime]:
        """Apply the next pages of a full sync (from the link's checkpoint, if one was saved): the report,
        and the new sync token once the last page is applied, or the checkpoint to go on from; last, when
        its first page was listed."""
        link = opened.link
        assert link.calendar_id
        progress = link.full_sync
        now = self.clock.now()
        if progress is None:
            time_min = now - timedelta(days=self.settings.full_sync_days_back)
            # The same horizon as the backfill: what the clinic would push, and no further.
            time_max = now + timedelta(days=self.settings.backfill_days)
            page_token, pages, began = None, 0, now
        else:
            time_min, time_max = progress.time_min, progress.time_max
            page_token, pages = progress.page_token, progress.pages
            # A checkpoint saved before its start was kept: the last pull before it, as the safe side.
            began = progress.started_at or link.last_pull_at or link.activated_at or now
        report = PullReport()
        for _ in range(self.settings.full_sync_pages_per_task):
            page = opened.gateway.list_events(
                link.calendar_id, sync_token=None, time_min=time_min, time_max=time_max, page_token=page_token
            )
            applied = self._applied(opened, page.items, baseline=True, last_page=not page.next_page_token)
            report += applied
            pages += 1
            if not page.next_page_token:
                return report, page.next_sync_token, None, began
            page_token = page.next_page_token
            progress = FullSyncProgress(page_token, time_min, time_max, pages, self.clock.now(), began)
            # One checkpoint per page: a timeout or crash after it never applies this page again.
            self.status.save_full_sync(link, progress, applied.conflicts)
        return report, None, progress, began

    def _applied(
        self, opened: Opened, items: list[dict[str, Any]], *, baseline: bool, last_page: bool = False
    ) -> PullReport:
        """Apply listed events, and push back what the clinic must win (`baseline`: a page of a full sync;
        `last_page`: its last, after which every series brought in before is read again)."""
        link = opened.link
        # Events changed in Google since then are new even in a full sync (a calendar we created has
        # nothing older of the user's; a redo carries the previous link's last pull).
        since = link.last_pull_at or link.adopt_since or link.activated_at
        # The horizon moves on with the days: the first pull of a day (the scheduled reconcile at the
        # latest) lists what entered it since the last pull, and reads the series already brought in.
        today = self.clock.now().date()
        new_day = link.last_pull_at is not None and link.last_pull_at.date() < today
        entered: list[dict[str, Any]] = []
        if new_day:
            assert link.last_pull_at is not None
            entered = self._entered(opened, link.last_pull_at)
            fresh = {str(i.get("id")) for i in entered}
            items = [i for i in items if str(i.get("id")) not in fresh]
        series = _series_to_read(baseline=baseline, last_page=last_page, new_day=new_day)
        report, push_back = self._apply(
            opened, items, baseline=baseline, since=since, series=series, entered=entered
        )
        if push_back:
            # The link, its clinic and its gateway are in hand: no need to read or open them again.
            self.push.push_appointments(opened, push_back)
        return report

    def _entered(self, opened: Opened, last_pull_at: datetime) -> list[dict[str, Any]]:
        """The instances that entered the sync's horizon since the last pull: a series none of whose
        instances was within it before (made far ahead) has no instance brought in to be read again."""
        ahead = timedelta(days=self.settings.backfill_days)
        found, _token = opened.list_every_page(
            sync_token=None, time_min=last_pull_at + ahead, time_max=self.clock.now() + ahead
        )
        return [i for i in found if series_id_of(i) is not None and i.get("status") != "cancelled"]

    def _apply(
        self,
        opened: Opened,
        items: list[dict[str, Any]],
        *,
        baseline: bool,
        since: datetime | None,
        series: _Series = "changed",
        entered: list[dict[str, Any]] | None = None,
    ) -> tuple[PullReport, list[str]]:
        link = opened.link
        centers: dict[str, Center | None] = {}

        def center_of(center_id: str) -> Center | None:
            if center_id not in centers:
                centers[center_id] = self.directory.center(link.clinic_id, center_id)
            return centers[center_id]

        tally = _Tally()
        self._decide_each(opened, items, center_of, tally, baseline=baseline, since=since)
        if entered:
            # Instances that entered the horizon are new, however long ago their series was made.
            self._decide_each(opened, entered, center_of, tally, baseline=False, since=since)
            items = items + entered
        # A series that changed as a whole (made, retimed, cut by "this and following") may have lost
        # instances that no list names any more: its instances are read once, and what went is cancelled.
        # By series: what we recorded of its instances, when read already (None: read it with the series).
        to_check: dict[str, list[EventLink] | None] = {}
        if series != "none":
            to_check = dict.fromkeys(tally.series_to_check())
        if series == "every" or (series == "changed" and tally.new_instances):
            # A new series may be the second half of one cut by "this and following", whose first half no
            # list names when none of its remaining instances is a plain one (each deleted or changed
            # alone), or when it was deleted since: every series brought in before is read again, as on
            # the first pull of a day. A full sync lists no deleted event, so it reads them all once, after
            # its last page. One read brings every such series with its records.
            to_check.update(self.records.instances_by_series(link))
        listed = {str(i.get("id")) for i in items}
        reshaped = [
            item
            for series_id in sorted(to_check)
            for item in self._series_changes(opened, series_id, listed, to_check[series_id])
        ]
        if reshaped:
            self._decide_each(opened, reshaped, center_of, tally, baseline=False, since=since)
        if tally.writes:
            self.directory.write_appointments(tally.writes, link.id)
        if tally.recorded:
            self.records.record_event_links(link, tally.recorded, None)
        return (
            PullReport(len(items) + len(reshaped), tally.applied, len(tally.push_back), tally.conflicts),
            tally.push_back,
        )

    def _decide_each(
        self,
        opened: Opened,
        items: list[dict[str, Any]],
        center_of: Callable[[str], Center | None],
        tally: _Tally,
        *,
        baseline: bool,
        since: datetime | None,
    ) -> None:
        link, clinic = opened.link, opened.clinic
        # Instances of a series are brought in up to the sync's horizon, as far ahead as a backfill pushes.
        horizon = self.clock.now() + timedelta(days=self.settings.backfill_days)
        known = self._recorded(link, items)
        for event in items:
            try:
                appointment_id, recorded, appointment = self._identify(link, event, known)
                decision = decide_pull(
                    event,
                    appointment_id,
                    recorded,
                    appointment,
                    link,
                    clinic,
                    center_of,
                    adopt_new=is_new(event, baseline, since),
                    horizon=horizon,
                )
            except DomainError as exc:
                # The clinic's side cannot be read or shown (malformed, or its centre is gone): left alone,
                # and the link says why (the message names no value of the document).
                log.warning("appointment unreadable", extra={"linkId": link.id, "code": exc.code})
                at = self.clock.now().isoformat()
                self.status.save_error(link, {"code": exc.code, "message": exc.message, "at": at})
                continue
            tally.add(event, appointment_id, decision)

    def _series_changes(
        self, opened: Opened, series_id: str, listed: set[str], known: list[EventLink] | None
    ) -> list[dict[str, Any]]:
        """What a series' instances now are, beside what the pull listed: instances it did not list and we
        never brought in, and a cancellation for each instance we brought in that the series no longer has
        (within the window read: from the full sync's reach back to the horizon). `known`: what we recorded
        of its instances, if read already."""
        link = opened.link
        assert link.calendar_id
        now = self.clock.now()
        time_min = now - timedelta(days=self.settings.full_sync_days_back)
        time_max = now + timedelta(days=self.settings.backfill_days)
        if known is None:
            known = self.records.event_links_of_series(link, series_id)
        try:
            instances = opened.gateway.list_instances(link.calendar_id, series_id, time_min, time_max)
        except RemoteMissing:
            # The series is gone. The instances it still had come as cancelled in a listing; one cut off it
            # before ("this and following", then the series deleted) comes in none, and one that a clinic
            # change brought back (our patch restores a cancelled instance) lives on: each is read alone.
            return [
                self._instance_now(opened, recorded, series_id)
                for recorded in self._unlisted(link, known, listed, time_min, time_max)
            ]
        present = {str(i.get("id")) for i in instances}
        seen = listed | {recorded.event_id for recorded in known}
        changes = [i for i in instances if str(i.get("id")) not in seen]
        # Gone from the series without a cancelled instance to say so (Google's "this and following" ends
        # the series with UNTIL; a retimed series' instances have new ids).
        changes += [
            _cancelled(recorded, series_id)
            for recorded in self._unlisted(link, known, listed | present, time_min, time_max)
        ]
        return changes

    def _unlisted(
        self, link: SyncLink, known: list[EventLink], listed: set[str], time_min: datetime, time_max: datetime
    ) -> list[EventLink]:
        """The instances of a series we brought in and did not see cancelled, that this pull did not list
        (nor the series, when read), whose appointments are within the window read. Only those are read:
        re-reading every series of a calendar reads no appointment of an instance still there."""
        unlisted = []
        for recorded in known:
            if recorded.deleted or recorded.event_id in listed:
                continue
            appointment = self.directory.appointment(link.clinic_id, recorded.appointment_id)
            if appointment is not None and time_min <= appointment.start < time_max:
                unlisted.append(recorded)
        return unlisted

    def _instance_now(self, opened: Opened, recorded: EventLink, series_id: str) -> dict[str, Any]:
        """An instance of a series gone, as Google holds it now (cancelled when it holds none)."""
        assert opened.link.calendar_id
        try:
            return opened.gateway.get_event(opened.link.calendar_id, recorded.event_id)
        except RemoteMissing:
            return _cancelled(recorded, series_id)

    def _recorded(self, link: SyncLink, items: list[dict[str, Any]]) -> _Recorded:
        """The event links of a page's events, and their appointments: three reads for the whole page
        instead of two per event (a full sync of a calendar of 2,000 events made 2,000 round trips)."""
        assert link.calendar_id
        carried = {str(e.get("id")): appointment_id_of(e, link.clinic_id) for e in items}
        by_appointment = self.records.event_links_for(link, [a for a in carried.values() if a])
        by_event = self.records.event_links_by_events(link, [e for e, a in carried.items() if a is None])
        # The appointment each event stands for, as `_identify` will find it (a copy's own is read then).
        wanted = [
            claimed
            or (by_event[event_id].appointment_id if event_id in by_event else None)
            or appointment_id_for_event(link.calendar_id, event_id)
            for event_id, claimed in carried.items()
        ]
        appointments = self.directory.appointments_by_id(link.clinic_id, wanted)
        return _Recorded(by_appointment, by_event, appointments)

    def _identify(
        self, link: SyncLink, event: dict[str, Any], known: _Recorded
    ) -> tuple[str, EventLink | None, Appointment | None]:
        """The appointment an event stands for, what we recorded of it (from the page's `known`), and the
        appointment itself.

        The appointment an event's private properties name is trusted only when the event is that
        appointment's own (the one we recorded or derived for it): a copy of the event carries the same
        properties with another id, and is an event made in Google. Deleted events come back with no
        extended properties, so an event without them is looked up by its id among the events we recorded;
        one never seen is named after its calendar and id.
        """
        assert link.calendar_id
        event_id = str(event.get("id"))
        claimed = appointment_id_of(event, link.clinic_id)
        if claimed is not None:
            recorded = known.by_appointment.get(claimed)
            appointment = self._appointment(link, claimed, known)
            if claim_holds(event_id, link.clinic_id, claimed, appointment, recorded, link.calendar_id):
                return claimed, recorded, appointment
            log.info("event copied from another; taken as made in Google", extra={"linkId": link.id})
            # A copy is rare: its own record (if any) is read alone, not with the page.
            recorded = self.records.event_links_by_events(link, [event_id]).get(event_id)
        else:
            recorded = known.by_event.get(event_id)
        if recorded is not None:
            appointment_id = recorded.appointment_id
        else:
            # Whatever we recorded of this event carries its id, so none was found: it was never seen.
            appointment_id = appointment_id_for_event(link.calendar_id, event_id)
        return appointment_id, recorded, self._appointment(link, appointment_id, known)

    def _appointment(self, link: SyncLink, appointment_id: str, known: _Recorded) -> Appointment | None:
        """The appointment as read with the page; one not read then (a copy's, or a malformed one, whose
        reading alone raises what is wrong with it) is read now."""
        if appointment_id in known.appointments:
            return known.appointments[appointment_id]
        return self.directory.appointment(link.clinic_id, appointment_id)


@dataclass
class _Tally:
    """What the decisions of one pull add up to, and which series changed as a whole."""

    writes: list[Appointment] = field(default_factory=list)
    recorded: list[EventLink] = field(default_factory=list)
    push_back: list[str] = field(default_factory=list)
    applied: int = 0
    conflicts: int = 0
    # Per series: instances listed, and whether one was new or unchanged (a series-wide change).
    series_seen: dict[str, int] = field(default_factory=dict)
    series_whole: set[str] = field(default_factory=set)
    series_live: set[str] = field(default_factory=set)
    # An instance became an appointment (a new series, or an instance that entered the horizon).
    new_instances: bool = False

    def add(self, event: dict[str, Any], appointment_id: str, decision: PullDecision) -> None:
        if decision.write is not None:
            self.writes.append(decision.write)
        if decision.record is not None:
            self.recorded.append(decision.record)
        if decision.push_back:
            self.push_back.append(appointment_id)
        self.applied += decision.applied
        self.conflicts += decision.conflict
        series_id = series_id_of(event)
        if series_id is None:
            return
        self.series_seen[series_id] = self.series_seen.get(series_id, 0) + 1
        if event.get("status") != "cancelled":
            self.series_live.add(series_id)
            # One instance changed alone comes alone; an unchanged or a new one comes with its whole series.
            # (Our own echo keeps its recorded etag; an instance listed unchanged has its series' new one.)
            # (An instance whose text alone changed is no echo: it takes its own text.)
            unchanged = (
                isinstance(decision.action, Remember)
                and decision.record is not None
                and not decision.retexted
            )
            if isinstance(decision.action, Create) or unchanged:
                self.series_whole.add(series_id)
            self.new_instances |= isinstance(decision.action, Create)

    def series_to_check(self) -> list[str]:
        """Series with a live instance that changed as a whole (two or more instances listed, or one new or
        unchanged): a single instance's edit or deletion needs no further call."""
        return sorted(s for s in self.series_live if s in self.series_whole or self.series_seen[s] > 1)


def _series_to_read(*, baseline: bool, last_page: bool, new_day: bool) -> _Series:
    """Which series a pull reads again (see `PullService._apply`). A full sync reads them all once, after its
    last page: its pages list every instance of the window, and a page's series read there would be read
    again at the end (each series twice, or once per page it spans over a long calendar's pages)."""
    if baseline:
        return "every" if last_page else "none"
    return "every" if new_day else "changed"


def _cancelled(recorded: EventLink, series_id: str) -> dict[str, Any]:
    """An instance gone, as a listing would show it."""
    return {"id": recorded.event_id, "status": "cancelled", "recurringEventId": series_id}
