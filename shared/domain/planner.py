"""The push planner: decide first, act second, for one event of one linked calendar.

Before a push, `plan_push` compares what the appointment should look like (`event.desired_event`) with
what we last recorded for its event (`EventLink`) and answers one action. After Google answered it,
`after_push` says what follows: record the event as it is now, try again with another action, read the
event's etag first, or give up. Google's failures reach it already judged (`Refusal`, by the access
module); failures that concern the whole link (access lost, Google busy) never reach it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from shared.domain.event import EventContent, made_in_google, remote_hash
from shared.domain.event_link import (
    EventLink,
    appointment_id_for_event,
    appointment_id_of,
    insertable,
    marked_by_another_clinic,
    series_id_of,
)
from shared.domain.event_link import event_id as derived_event_id


@dataclass(frozen=True)
class Insert:
    event_id: str
    content: EventContent

    @property
    def tells_guests(self) -> bool:
        return False  # a new event of ours has no guests


@dataclass(frozen=True)
class Patch:
    event_id: str
    content: EventContent
    etag: str | None
    # Only our private properties: the first write to an event made in Google, which marks it as its
    # appointment's without touching what it shows (its guests are not told of a change that is none).
    mark_only: bool = False

    @property
    def tells_guests(self) -> bool:
        """The clinic changed an event a person made in Google: whoever they invited hears of it."""
        return self.content.made_in_google and not self.mark_only

    def body(self) -> dict[str, Any]:
        return self.content.mark_body() if self.mark_only else self.content.body()


@dataclass(frozen=True)
class Delete:
    event_id: str
    etag: str | None
    # The event was made in Google: its guests hear that it is cancelled.
    made_in_google: bool = False

    @property
    def tells_guests(self) -> bool:
        return self.made_in_google


@dataclass(frozen=True)
class Nothing:
    reason: str


PushAction = Insert | Patch | Delete | Nothing


def plan_push(desired: EventContent | None, event_id: str, recorded: EventLink | None) -> PushAction:
    """The one action that makes the calendar show `desired` (None: the appointment must not show)."""
    present = recorded is not None and not recorded.deleted
    if desired is None:
        if not present:
            return Nothing("no event to remove")
        assert recorded is not None
        return Delete(recorded.event_id, recorded.etag, made_in_google(recorded.appointment_id))
    if not present:
        return _insert(event_id, desired)
    assert recorded is not None
    if recorded.content_hash == desired.content_hash:
        return Nothing("event already up to date")
    if desired.made_in_google and recorded.content_hash is None:
        # Pulled, never written: mark it first; `after_push` follows with the times if they differ.
        return Patch(recorded.event_id, desired, recorded.etag, mark_only=True)
    return Patch(recorded.event_id, desired, recorded.etag)


def _insert(event_id: str, desired: EventContent) -> Insert:
    """The insert that shows `desired` again where its event is missing. An instance made in Google whose
    event went (deleted there, or its series cut, retimed or deleted) and that the clinic keeps comes back
    as an event of its own, under the appointment's derived id: Google takes no insert under an instance's
    id. Decided by the id's form Google takes on insert, not by the form of instance ids, which Google says
    to treat as opaque."""
    if not insertable(event_id):
        return Insert(derived_event_id(desired.clinic_id, desired.appointment_id), desired)
    return Insert(event_id, desired)


# --- after Google answered ----------------------------------------------------------------------------
class Refusal(StrEnum):
    """What Google's refusal of one action says about that one event."""

    EXISTS = "exists"  # an insert found an event of that id (possibly cancelled)
    MISSING = "missing"  # the event does not exist (any more)
    CHANGED = "changed"  # the event changed since the etag we sent
    REFUSED = "refused"  # anything else: retrying will not help


@dataclass(frozen=True)
class Record:
    """Done: this is what the calendar holds now."""

    event_link: EventLink


@dataclass(frozen=True)
class Retry:
    """Send this action instead, in the next round."""

    action: PushAction


@dataclass(frozen=True)
class Refresh:
    """Someone changed the event since our etag: read its etag, then send `action` again with it."""

    action: Patch | Delete


@dataclass(frozen=True)
class GiveUp:
    """Leave this event as it is; `failed` when the link must show the error."""

    failed: bool


Step = Record | Retry | Refresh | GiveUp


def after_push(
    appointment_id: str, action: PushAction, event: Mapping[str, Any] | None, refusal: Refusal | None
) -> Step:
    """What follows Google's answer to one action: `event` when it was carried out, else the refusal."""
    if refusal is None:
        if isinstance(action, Patch) and action.mark_only and not _shows(event, action.content):
            # Marked, but its times are not the clinic's: write them, over the etag it has now.
            return Retry(replace(action, mark_only=False, etag=(event or {}).get("etag")))
        return Record(_done(appointment_id, action, event))
    if isinstance(action, Insert) and refusal is Refusal.EXISTS:
        # Ours from before (a redo, or a lost response): adopt it, restoring it if it was cancelled.
        return Retry(Patch(action.event_id, action.content, etag=None))
    if isinstance(action, Delete) and refusal is Refusal.MISSING:
        return Record(EventLink(appointment_id, action.event_id, None, None, deleted=True))
    if isinstance(action, Patch) and refusal is Refusal.MISSING:
        # Gone from Google since we recorded it (an instance may have gone with its series, cut or retimed,
        # before a pull could say so): the clinic keeps the appointment, so it is shown again.
        return Retry(_insert(action.event_id, action.content))
    if isinstance(action, (Patch, Delete)) and refusal is Refusal.CHANGED:
        # The clinic is the source of truth: write again over whatever changed it.
        return Refresh(action)
    return GiveUp(failed=refusal is Refusal.REFUSED)


def refreshed(step: Refresh, etag: str | None) -> Retry:
    """The retry of a refreshed action, with the etag the event has now (None: it is gone)."""
    return Retry(replace(step.action, etag=etag))


def refresh_refused(step: Refresh, refusal: Refusal) -> Step:
    """What follows when Google refused to read the event's etag: gone meanwhile, the action is sent
    again without an etag (and its own refusal says what follows); otherwise the event is left as it is."""
    if refusal is Refusal.MISSING:
        return refreshed(step, None)
    return GiveUp(failed=refusal is Refusal.REFUSED)


def _shows(event: Mapping[str, Any] | None, content: EventContent) -> bool:
    return remote_hash(dict(event or {})) == content.content_hash


def _done(appointment_id: str, action: PushAction, event: Mapping[str, Any] | None) -> EventLink:
    etag = (event or {}).get("etag")
    if isinstance(action, Delete):
        # Google answers a delete with no event: its series is not known here, and a deleted record is
        # never looked for by series (an instance gone is not cancelled twice).
        return EventLink(appointment_id, action.event_id, etag, None, deleted=True)
    assert isinstance(action, (Insert, Patch))
    # The event Google answers names its series when it is an instance (`recurringEventId`).
    series = series_id_of(dict(event or {}))
    return EventLink(appointment_id, action.event_id, etag, action.content.content_hash, series_id=series)


# --- adopting a calendar on activation ----------------------------------------------------------------
@dataclass(frozen=True)
class Listed:
    """One live event of the calendar, with the appointment it stands for and whether it carries our mark."""

    appointment_id: str
    event: Mapping[str, Any]
    marked: bool


def listed(events: Iterable[Mapping[str, Any]], clinic_id: str, calendar_id: str) -> list[Listed]:
    """The live events of a calendar, each named after its appointment (ours) or its own id (made in Google)."""
    found: list[Listed] = []
    for event in events:
        if event.get("status") == "cancelled" or marked_by_another_clinic(event, clinic_id):
            continue  # another clinic's event is that clinic's, never adopted here
        eid = str(event["id"])
        own_id = appointment_id_for_event(calendar_id, eid)
        ours = appointment_id_of(dict(event), clinic_id)
        # Ours only where the id is the appointment's: derived from it, or the one it was made from here. A
        # copy (the same private properties on another event) is made in Google, never the original.
        if ours is not None and eid != derived_event_id(clinic_id, ours) and ours != own_id:
            ours = None
        appointment_id = ours or own_id
        found.append(Listed(appointment_id, event, ours is not None))
    return found


def plan_adoption(
    events: Iterable[Listed], recorded: Mapping[str, EventLink]
) -> tuple[list[str], list[EventLink]]:
    """Which listed events are ours to keep in line (their appointments), and the event links to record.

    Ours are the events marked with our extended properties, and the events made in Google that a link of
    this calendar pulled before (recorded under their id) but may not have marked yet: a link disabled
    between the pull and the marking must not leave the event behind for good. Events made in Google and
    never pulled are left to the pull, which decides whether they are new appointments.
    """
    adopted: list[str] = []
    fresh: list[EventLink] = []
    for item in events:
        known = recorded.get(item.appointment_id)
        if not item.marked and (known is None or known.event_id != item.event["id"]):
            continue
        adopted.append(item.appointment_id)
        if known is None:
            event = dict(item.event)
            fresh.append(
                EventLink(
                    item.appointment_id,
                    str(event["id"]),
                    event.get("etag"),
                    remote_hash(event),
                    series_id=series_id_of(event),
                )
            )
    return adopted, fresh
