"""How an appointment and its Google event name each other, and what we last wrote of that event.

Event ids are derived from the clinic and the appointment, so that every push of the same appointment,
including after a link is disabled and redone, addresses the same event: a redo adopts instead of
duplicating. Events made in Google keep their own id; the appointment they become is named after it.
"""

from __future__ import annotations

import base64
import hashlib
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


def appointment_id_of(event: dict[str, Any], clinic_id: str) -> str | None:
    """The appointment an event of ours stands for (None for events made in Google)."""
    private = (event.get("extendedProperties") or {}).get("private") or {}
    if private.get(PROP_CLINIC) == clinic_id and private.get(PROP_APPOINTMENT):
        return str(private[PROP_APPOINTMENT])
    return None
