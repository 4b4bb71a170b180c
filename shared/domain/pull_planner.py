"""The pull planner: decide what one event changed in Google means for the clinic (two-way links).

The clinic is the source of truth: Google's change is applied only when the clinic did not change the
appointment since our last sync; otherwise the clinic's version is pushed back and the conflict counted.
Our own writes come back from Google as notifications too: an event whose content hash is the one we
recorded is our echo, and costs nothing.

Of an event made in Google only the times are ours (the clinic may move them), and only they are hashed;
its title, description and location are the person's, and Google is their source of truth: whenever they
differ from the appointment's, the appointment takes them, whatever the echo check says of the times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.clinic import Appointment, AppointmentStatus, Center, Clinic, EventOrigin
from shared.domain.errors import DomainError
from shared.domain.event import GOOGLE_MADE_OWNED, desired_event, made_in_google, remote_hash
from shared.domain.event_link import EventLink, marked_by_another_clinic, series_id_of
from shared.domain.link import SyncLink

UTC_ZONE = ZoneInfo("UTC")


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
class Shape:
    """What an event made in Google brings to its appointment: times, and what people typed there."""

    start: datetime
    end: datetime
    title: str
    notes: str | None = None
    location: str | None = None
    all_day: bool = False

    def onto(self, appointment: Appointment) -> Appointment:
        """The appointment as this event shows it (patient, service and origin are kept)."""
        return replace(
            appointment,
            start=self.start,
            end=self.end,
            title=self.title or None,
            notes=self.notes,
            location=self.location,
            all_day=self.all_day,
        )

    def texts_onto(self, appointment: Appointment) -> Appointment:
        """The appointment with this event's title, description and location, and its own times."""
        return replace(appointment, title=self.title or None, notes=self.notes, location=self.location)


@dataclass(frozen=True)
class Create:
    """Made in Google: a new appointment without patient in the link's agenda."""

    shape: Shape


@dataclass(frozen=True)
class Update:
    """An event made in Google changed there: its appointment takes the event's times, title, description
    and location (also back from a cancellation, when a free event turns busy again)."""

    shape: Shape


@dataclass(frozen=True)
class PushBack:
    """The clinic's version wins; `conflict` when both sides had changed."""

    conflict: bool


PullAction = Ignore | Remember | Reschedule | Cancel | Create | Update | PushBack


def event_times(event: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """Start and end of a timed event; None for all-day events (see `event_shape`)."""
    try:
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None
    return start, end


def all_day_span(event: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """An all-day event's span in the centre's zone: local midnight of its first day to local midnight of
    `end.date`, which Google documents as exclusive (so one day's event ends at the next midnight)."""
    try:
        first = date.fromisoformat(event["start"]["date"])
        after = date.fromisoformat(event["end"]["date"])
    except (KeyError, TypeError, ValueError):
        return None
    return datetime.combine(first, time(), zone), datetime.combine(after, time(), zone)


def event_shape(event: dict[str, Any], zone: ZoneInfo) -> Shape | None:
    """The appointment an event made in Google stands for; None when it has neither times nor dates."""
    title = str(event.get("summary") or "").strip()
    notes = str(event.get("description") or "").strip() or None
    location = str(event.get("location") or "").strip() or None
    times = event_times(event)
    if times is not None:
        return Shape(times[0], times[1], title, notes, location)
    span = all_day_span(event, zone)
    if span is not None:
        return Shape(span[0], span[1], title, notes, location, all_day=True)
    return None


def is_free(event: dict[str, Any]) -> bool:
    """Marked "free" in Google (`transparency: transparent`): it blocks no time in the agenda."""
    return event.get("transparency") == "transparent"


def plan_pull(
    event: dict[str, Any],
    recorded: EventLink | None,
    appointment: Appointment | None,
    clinic_hash: str | None,
    *,
    adopt_new: bool,
    zone: ZoneInfo = UTC_ZONE,
    horizon: datetime | None = None,
) -> PullAction:
    """What to do about one changed event.

    `clinic_hash` is the content hash the appointment should show now (None when it must not show);
    `adopt_new` is False during a baseline full sync, when events we never saw are not new appointments;
    `zone` is the link's centre's (all-day events' midnights); instances of a series starting at or after
    `horizon` are left for a later pull (the sync's horizon moves on with time).
    """
    cancelled = event.get("status") == "cancelled"
    if appointment is None and recorded is None:
        if cancelled or not adopt_new:
            return Ignore("not ours, and not new")
        if is_free(event):
            return Ignore("free time blocks nothing")
        shape = event_shape(event, zone)
        if shape is None:
            return Ignore("neither times nor dates")
        if horizon is not None and series_id_of(event) is not None and shape.start >= horizon:
            return Ignore("an instance beyond the horizon")
        return Create(shape)
    if recorded is None:
        # Ours, but not pushed through this link yet (e.g. a backfill still running): the push will come.
        return Ignore("not pushed through this link yet")
    if recorded.event_id != str(event.get("id")):
        # The appointment is shown by another event now: an instance deleted in Google that the clinic kept
        # comes back under the appointment's own id (Google takes no insert under an instance's id). The old
        # instance, listed again cancelled (a full sync, a series change), no longer speaks for it: applying
        # it would cancel the appointment and leave the event that shows it behind.
        return Ignore("no longer the appointment's event")
    made_here = made_in(appointment, event)
    if made_here and recorded.deleted and not cancelled and appointment is not None:
        # Cancelled here because it was free (or deleted) in Google, and busy again there: it comes back.
        shape = event_shape(event, zone)
        if is_free(event) or shape is None or appointment.status is not AppointmentStatus.CANCELLED:
            return Ignore("still free, or the clinic holds it")
        return Update(shape)
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
    remote = shown_hash(event, recorded.appointment_id, appointment)
    turned_free = made_here and is_free(event)  # transparency is no part of the content hash
    if not recorded.deleted and remote == recorded.content_hash and not turned_free:
        return Remember(event.get("etag"))
    if clinic_hash is None:
        # The clinic cancelled it: Google's copy goes.
        return PushBack(conflict=ours and not recorded.deleted)
    if clinic_changed:
        return PushBack(conflict=ours)
    if made_here:
        shape = event_shape(event, zone)
        if turned_free:
            return Cancel()  # marked free in Google: it blocks nothing any more
        if shape is None:
            return Ignore("neither times nor dates")
        return Update(shape)
    times = event_times(event)
    if times is None:
        # One of the clinic's appointments made all-day in Google: appointments keep their times, so the
        # clinic's version goes back, and both sides now differ.
        return PushBack(conflict=True)
    return Reschedule(times[0], times[1])


def shown_hash(event: dict[str, Any], appointment_id: str, appointment: Appointment | None) -> str | None:
    """The content hash of what the event shows of the fields we own, to compare with the one recorded.

    Of an appointment made in Google we own the times only (see `EventContent.owned`), also before our
    first write marks the event so: its record holds the hash of its times, which Google's echo of the
    unchanged event and the marked event both hash to (text typed there is no part of it)."""
    if made_in_google(appointment_id) or (appointment is not None and appointment.origin is not None):
        return remote_hash(event, GOOGLE_MADE_OWNED)
    return remote_hash(event)


def texts_from_google(
    event: dict[str, Any], appointment: Appointment | None, zone: ZoneInfo
) -> Appointment | None:
    """The appointment made from this event with the title, description and location the event has now,
    when they differ from the appointment's (None otherwise, or when it was not made from it)."""
    if appointment is None or not made_in(appointment, event) or event.get("status") == "cancelled":
        return None
    shape = event_shape(event, zone)
    if shape is None:
        return None
    retexted = shape.texts_onto(appointment)
    return None if retexted == appointment else retexted


def made_in(appointment: Appointment | None, event: dict[str, Any]) -> bool:
    """Whether the appointment was made from this very event in Google (its title and notes come from it)."""
    return (
        appointment is not None
        and appointment.origin is not None
        and appointment.origin.event_id == str(event.get("id"))
    )


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
    # The appointment takes the text typed in Google (its times left to the action).
    retexted: bool = False

    @property
    def applied(self) -> bool:
        """Google's change reached the clinic."""
        return self.retexted or isinstance(self.action, (Reschedule, Cancel, Create, Update))

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
    horizon: datetime | None = None,
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
    center = center_of(appointment.center_id if appointment is not None else link.center_id)
    if center is None and "date" in (event.get("start") or {}):
        # An all-day event's midnights are the centre's: without it they cannot be placed.
        raise DomainError("the link's centre does not exist", code="center_not_found")
    zone = center.zone if center is not None else UTC_ZONE
    action = plan_pull(
        event, recorded, appointment, clinic_hash, adopt_new=adopt_new, zone=zone, horizon=horizon
    )
    # Google's text of an event made there reaches its appointment whatever the times' echo check says:
    # only the times are hashed, and the clinic's version of the times still goes back when it wins. (An
    # appointment gone, cancelled or shown in no calendar of this link takes nothing.)
    retexted = texts_from_google(event, appointment, zone) if clinic_hash is not None else None
    event_id = str(event.get("id"))
    etag = event.get("etag")
    cancelled = event.get("status") == "cancelled"
    # The series an instance belongs to, kept on its record: its id is opaque. A cancelled instance that
    # does not name its series keeps the one recorded.
    series = series_id_of(event) or (recorded.series_id if recorded is not None else None)
    if isinstance(action, Ignore):
        return PullDecision(action)
    if isinstance(action, Remember):
        assert recorded is not None
        # The record keeps its series, and takes it when it was made before the series was kept.
        if cancelled:
            gone = replace(recorded, etag=None, content_hash=None, deleted=True, series_id=series)
            return PullDecision(action, record=None if gone == recorded else gone)
        kept = replace(recorded, etag=action.etag, series_id=series)
        return PullDecision(
            action,
            write=retexted,
            record=None if kept == recorded else kept,
            retexted=retexted is not None,
        )
    if isinstance(action, PushBack):
        # Record what Google shows now, so that the push planner sees the difference and rewrites it. An
        # event made in Google that we never wrote keeps no hash: the push marks it first, then writes the
        # times if they are not the clinic's (its guests hear of a change only when there is one).
        unmarked = recorded is not None and recorded.content_hash is None and not recorded.deleted
        shown = EventLink(
            appointment_id,
            event_id,
            None if cancelled else etag,
            None if cancelled or unmarked else shown_hash(event, appointment_id, appointment),
            deleted=cancelled,
            series_id=series,
        )
        return PullDecision(
            action, write=retexted, record=shown, push_back=True, retexted=retexted is not None
        )
    if isinstance(action, Cancel):
        assert appointment is not None
        return PullDecision(
            action,
            write=replace(appointment, status=AppointmentStatus.CANCELLED),
            record=EventLink(appointment_id, event_id, None, None, deleted=True, series_id=series),
        )
    if isinstance(action, Reschedule):
        assert appointment is not None
        # Moved to times of a day: an all-day block shown by an event of ours (its Google event went and the
        # clinic kept it) is no longer all-day, or its times and its flag would disagree.
        moved = replace(appointment, start=action.start, end=action.end, all_day=False)
        now_shown = desired_event(moved, link.professional_id, clinic, center_of)
        content_hash = now_shown.content_hash if now_shown is not None else None
        return PullDecision(
            action,
            write=moved,
            record=EventLink(appointment_id, event_id, etag, content_hash, series_id=series),
            # Google also changed what the clinic owns (the title): the clinic's version goes back.
            push_back=content_hash != remote_hash(event),
        )
    if isinstance(action, Update):
        assert appointment is not None
        shape = action.shape
        updated = shape.onto(replace(appointment, status=AppointmentStatus.SCHEDULED))
        now_shown = desired_event(updated, link.professional_id, clinic, center_of)
        return PullDecision(
            action,
            write=updated,
            # Only the times of an event made in Google are ours, and they are Google's now: nothing goes back.
            record=EventLink(
                appointment_id,
                event_id,
                etag,
                now_shown.content_hash if now_shown else None,
                series_id=series,
            ),
        )
    assert isinstance(action, Create)
    shape = action.shape
    created = shape.onto(
        Appointment(
            clinic_id=link.clinic_id,
            id=appointment_id,
            professional_id=link.professional_id,
            center_id=link.center_id,
            start=shape.start,
            end=shape.end,
            origin=EventOrigin(link.calendar_id, event_id),
        )
    )
    if shape.all_day or series_id_of(event) is not None:
        # Left as Google shows it: a push would turn an all-day event into a timed one, and each instance of
        # a series into an exception (later changes to the whole series would no longer reach them). Its
        # record holds what the clinic now shows, so that only later changes on either side differ.
        as_shown = desired_event(created, link.professional_id, clinic, center_of)
        content_hash = as_shown.content_hash if as_shown is not None else None
        return PullDecision(
            action,
            write=created,
            record=EventLink(appointment_id, event_id, etag, content_hash, series_id=series),
        )
    # No content hash: the push that follows rewrites the event as the appointment's, with our extended
    # properties, so that a later link of this calendar, or a deletion in the clinic, still finds it.
    return PullDecision(
        action,
        write=created,
        record=EventLink(appointment_id, event_id, etag, None, series_id=series),
        push_back=True,
    )
