"""Decide what one event changed in Google means for the clinic (two-way links).

The clinic is the source of truth: Google's change is applied only when the clinic did not change the
appointment since our last sync; otherwise the clinic's version is pushed back and the conflict counted.
Our own writes come back from Google as notifications too: an event whose content hash is the one we
recorded is our echo, and costs nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.clinic import Appointment
from shared.domain.event import PROP_APPOINTMENT, PROP_CLINIC, remote_hash
from shared.domain.planner import EventLink


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


def appointment_id_for_event(calendar_id: str, event_id: str) -> str:
    """The appointment an event made in Google becomes: the same one however often it is pulled."""
    return "gcal-" + hashlib.sha256(f"{calendar_id}/{event_id}".encode()).hexdigest()[:32]


def appointment_id_of(event: dict[str, Any], clinic_id: str) -> str | None:
    """The appointment an event of ours stands for (None for events made in Google)."""
    private = (event.get("extendedProperties") or {}).get("private") or {}
    if private.get(PROP_CLINIC) == clinic_id and private.get(PROP_APPOINTMENT):
        return str(private[PROP_APPOINTMENT])
    return None


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
