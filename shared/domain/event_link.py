"""How an appointment and its Google event name each other, and what we last wrote of that event.

Event ids are derived from the clinic and the appointment, so that every push of the same appointment,
including after a link is disabled and redone, addresses the same event: a redo adopts instead of
duplicating. Events made in Google keep their own id; the appointment they become is named after it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.clinic import Appointment
from shared.domain.event import GOOGLE_MADE_PREFIX, PROP_APPOINTMENT, PROP_CLINIC


@dataclass(frozen=True)
class EventLink:
    """What we last wrote to Google for one appointment in one linked calendar."""

    appointment_id: str
    event_id: str
    etag: str | None
    content_hash: str | None
    deleted: bool = False
    synced_at: datetime | None = None
    # The recurring series the event is an instance of (its `recurringEventId`; None for a single event, a
    # series itself, or a record made before the series was kept): instance ids are opaque.
    series_id: str | None = None


# The ids Google takes on insert: base32hex characters (lower case a-v and digits), 5 to 1024 of them
# (the Event resource's `id`). The ids Google forms for instances of a series are not of them.
INSERTABLE_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")


def insertable(event_id: str) -> bool:
    """Whether an event can be created under this id (an instance's id, whatever its form, cannot)."""
    return INSERTABLE_EVENT_ID.fullmatch(event_id) is not None


def event_id(clinic_id: str, appointment_id: str) -> str:
    """A Calendar event id (base32hex, lower case, 5-1024 chars) that only this appointment has."""
    digest = hashlib.sha256(f"{clinic_id}/{appointment_id}".encode()).digest()
    return "cc" + base64.b32hexencode(digest).decode().rstrip("=").lower()


def event_id_for(appointment: Appointment, calendar_id: str) -> str:
    """The event an appointment has in a calendar: the one it came from, or its derived id."""
    origin = appointment.origin
    if origin is not None and origin.calendar_id == calendar_id:
        return origin.event_id
    return event_id(appointment.clinic_id, appointment.id)


def event_id_of(
    clinic_id: str, appointment_id: str, appointment: Appointment | None, calendar_id: str
) -> str:
    """The event an appointment has in a calendar, also when the appointment is gone (its derived id)."""
    if appointment is None:
        return event_id(clinic_id, appointment_id)
    return event_id_for(appointment, calendar_id)


def appointment_id_for_event(calendar_id: str, event_id: str) -> str:
    """The appointment an event made in Google becomes: the same one however often it is pulled."""
    return GOOGLE_MADE_PREFIX + hashlib.sha256(f"{calendar_id}/{event_id}".encode()).hexdigest()[:32]


# Firestore's rules for a document id: not `.` or `..`, no `/`, at most 1,500 bytes, not `__.*__`.
_RESERVED_ID = re.compile(r"__.*__", re.DOTALL)
MAX_DOCUMENT_ID_BYTES = 1500
_INSTANCE_STAMP = re.compile(r"\d{8}(T\d{6}Z)?")


def is_document_id(value: str) -> bool:
    """Whether `value` may name a Firestore document (read from Google, it is anyone's text until checked)."""
    return (
        bool(value)
        and value not in (".", "..")
        and "/" not in value
        and len(value.encode()) <= MAX_DOCUMENT_ID_BYTES
        and _RESERVED_ID.fullmatch(value) is None
    )


def marked_clinic(event: Mapping[str, Any]) -> str | None:
    """The clinic whose mark an event carries in our private extended properties (None: unmarked)."""
    private = (event.get("extendedProperties") or {}).get("private") or {}
    clinic = private.get(PROP_CLINIC) if isinstance(private, Mapping) else None
    return str(clinic) if clinic else None


def marked_by_another_clinic(event: Mapping[str, Any], clinic_id: str) -> bool:
    """Whether another clinic wrote this event: it is that clinic's, never imported nor adopted here (a
    calendar shared with it from before, or an event moved or copied in from its calendar)."""
    clinic = marked_clinic(event)
    return clinic is not None and clinic != clinic_id


def appointment_id_of(event: dict[str, Any], clinic_id: str) -> str | None:
    """The appointment an event claims to stand for (None for events made in Google, or a malformed id).

    A claim only: anyone who can edit the calendar can copy these private properties onto another event.
    `claim_holds` says whether the event is the one that appointment has.
    """
    private = (event.get("extendedProperties") or {}).get("private") or {}
    claimed = private.get(PROP_APPOINTMENT)
    if private.get(PROP_CLINIC) == clinic_id and isinstance(claimed, str) and is_document_id(claimed):
        return claimed
    return None


def claim_holds(
    event_id: str,
    clinic_id: str,
    appointment_id: str,
    appointment: Appointment | None,
    recorded: EventLink | None,
    calendar_id: str,
) -> bool:
    """Whether `event_id` is the event of the appointment its private properties name: the one we recorded
    for it, or the one its id derives to. A copy of the event (same properties, another id) is not."""
    if recorded is not None and recorded.event_id == event_id:
        return True
    return event_id_of(clinic_id, appointment_id, appointment, calendar_id) == event_id


def series_id_of(event: dict[str, Any]) -> str | None:
    """The recurring series an instance belongs to (None for single events and series themselves)."""
    series = event.get("recurringEventId")
    return str(series) if series else None


def series_of_instance_id(event_id: str) -> str | None:
    """The series an instance id names: Google forms them `{seriesId}_{original start}` (a date, or a UTC
    date-time ending in Z); our own ids and those of single events have no such part."""
    series, _, stamp = event_id.rpartition("_")
    if series and _INSTANCE_STAMP.fullmatch(stamp):
        return series
    return None
