"""The pull planner: decide what one event changed in Google means for the clinic (two-way links).

The clinic is the source of truth: Google's change is applied only when the clinic did not change the
appointment since our last sync; otherwise the clinic's version is pushed back and the conflict counted.
Our own writes come back from Google as notifications too: an event whose content hash is the one we
recorded is our echo, and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.domain.clinic import Appointment, AppointmentStatus, Center, Clinic, EventOrigin
from shared.domain.event import desired_event, remote_hash
from shared.domain.event_link import EventLink, marked_by_another_clinic
from shared.domain.link import SyncLink


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class Remember:
    """Our own echo (or an unchanged event): only the etag moves on."""

    etag: str | None


@dataclass(frozen=True)
class Reschedule:
    """Moved or resized in Google: the appointment takes these times."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Cancel:
    """Cancelled or deleted in Google: so is the appointment."""


@dataclass(frozen=True)
class Create:
    """Made in Google: a new appointment without patient in the link's agenda."""

    start: datetime
    end: datetime
    title: str


@dataclass(frozen=True)
class PushBack:
    """The clinic's version wins; `conflict` when both sides had changed."""

    conflict: bool


PullAction = Ignore | Remember | Reschedule | Cancel | Create | PushBack


def event_times(event: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """Start and end of a timed event; None for all-day events, which are not appointments."""
    try:
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None
    return start, end


def plan_pull(
    event: dict[str, Any],
    recorded: EventLink | None,
    appointment: Appointment | None,
    clinic_hash: str | None,
    *,
    adopt_new: bool,
) -> PullAction:
    """What to do about one changed event.

    `clinic_hash` is the content hash the appointment should show now (None when it must not show);
    `adopt_new` is False during a baseline full sync, when events we never saw are not new appointments.
    """
    cancelled = event.get("status") == "cancelled"
    if appointment is None and recorded is None:
        if cancelled or not adopt_new:
            return Ignore("not ours, and not new")
        times = event_times(event)
        if times is None:
            return Ignore("all-day events are not appointments")
        return Create(times[0], times[1], str(event.get("summary") or "").strip())
    if recorded is None:
        # Ours, but not pushed through this link yet (e.g. a backfill still running): the push will come.
        return Ignore("not pushed through this link yet")
    clinic_changed = clinic_hash != (None if recorded.deleted else recorded.content_hash)
    # An event made in Google is recorded without a hash until we first write it (the push that marks it as
    # its appointment's): the clinic still wins, but with no version of ours to differ from, it is no conflict.
    ours = recorded.deleted or recorded.content_hash is not None
    if cancelled:
        if recorded.deleted or clinic_hash is None:
            return Remember(None)  # our own delete, or both agree
        if clinic_changed:
            return PushBack(conflict=ours)
        return Cancel()
    remote = remote_hash(event)
    if not recorded.deleted and remote == recorded.content_hash:
        return Remember(event.get("etag"))
    if clinic_hash is None:
        # The clinic cancelled it: Google's copy goes.
        return PushBack(conflict=ours and not recorded.deleted)
    if clinic_changed:
        return PushBack(conflict=ours)
    times = event_times(event)
    if times is None:
        return PushBack(conflict=False)  # made all-day in Google: appointments keep their times
    return Reschedule(times[0], times[1])


def is_new(event: dict[str, Any], baseline: bool, since: datetime | None) -> bool:
    """Whether an event never seen is a new appointment: always in an incremental pull; in a baseline full
    sync, only if it changed in Google after `since` (a redo's previous pull), never in a first one."""
    if not baseline:
        return True
    if since is None:
        return False
    try:
        return datetime.fromisoformat(str(event.get("updated"))) > since
    except ValueError:
        return False


@dataclass(frozen=True)
class PullDecision:
    """Everything one changed event leads to."""

    action: PullAction
    # The appointment to write to the clinic (marked as written for this link), if any.
    write: Appointment | None = None
    # The event link to record for the event (None: keep what is recorded).
    record: EventLink | None = None
    # Whether the clinic's version is pushed to the event afterwards.
    push_back: bool = False

    @property
    def applied(self) -> bool:
        """Google's change reached the clinic."""
        return isinstance(self.action, (Reschedule, Cancel, Create))

    @property
    def conflict(self) -> bool:
        return isinstance(self.action, PushBack) and self.action.conflict


def decide_pull(
    event: dict[str, Any],
    appointment_id: str,
    recorded: EventLink | None,
    appointment: Appointment | None,
    link: SyncLink,
    clinic: Clinic,
    center_of: Callable[[str], Center | None],
    *,
    adopt_new: bool,
) -> PullDecision:
    """Plan one changed event of the link's calendar and answer what follows from it.

    Raises DomainError when the clinic's side cannot be shown (its centre is gone): the event is left alone.
    """
    assert link.calendar_id
    if marked_by_another_clinic(event, link.clinic_id):
        # Another clinic wrote it (a calendar shared with it from before, or an event moved or copied in
        # from its calendar): its patient and its appointment are that clinic's, never imported here.
        return PullDecision(Ignore("another clinic's event"))
    desired = desired_event(appointment, link.professional_id, clinic, center_of)
    clinic_hash = desired.content_hash if desired is not None else None
    action = plan_pull(event, recorded, appointment, clinic_hash, adopt_new=adopt_new)
    event_id = str(event.get("id"))
    etag = event.get("etag")
    cancelled = event.get("status") == "cancelled"
    if isinstance(action, Ignore):
        return PullDecision(action)
    if isinstance(action, Remember):
        assert recorded is not None
        if cancelled:
            gone = None if recorded.deleted else replace(recorded, etag=None, content_hash=None, deleted=True)
            return PullDecision(action, record=gone)
        return PullDecision(
            action, record=None if action.etag == recorded.etag else replace(recorded, etag=action.etag)
        )
    if isinstance(action, PushBack):
        # Record what Google shows now, so that the push planner sees the difference and rewrites it.
        shown = EventLink(
            appointment_id,
            event_id,
            None if cancelled else etag,
            None if cancelled else remote_hash(event),
            deleted=cancelled,
        )
        return PullDecision(action, record=shown, push_back=True)
    if isinstance(action, Cancel):
        assert appointment is not None
        return PullDecision(
            action,
            write=replace(appointment, status=AppointmentStatus.CANCELLED),
            record=EventLink(appointment_id, event_id, None, None, deleted=True),
        )
    if isinstance(action, Reschedule):
        assert appointment is not None
        moved = replace(appointment, start=action.start, end=action.end)
        now_shown = desired_event(moved, link.professional_id, clinic, center_of)
        content_hash = now_shown.content_hash if now_shown is not None else None
        return PullDecision(
            action,
            write=moved,
            record=EventLink(appointment_id, event_id, etag, content_hash),
            # Google also changed what the clinic owns (the title): the clinic's version goes back.
            push_back=content_hash != remote_hash(event),
        )
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
    # No content hash: the push that follows rewrites the event as the appointment's, with our extended
    # properties, so that a later link of this calendar, or a deletion in the clinic, still finds it.
    return PullDecision(
        action, write=created, record=EventLink(appointment_id, event_id, etag, None), push_back=True
    )
