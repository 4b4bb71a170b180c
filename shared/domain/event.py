"""What an appointment looks like as a Google Calendar event, and the id it always has there.

The event id is derived from the clinic and the appointment, so that every push of the same appointment,
including after a link is disabled and redone, addresses the same event: a redo adopts instead of duplicating.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.clinic import Appointment, Center, Clinic, Privacy

DEFAULT_TITLE = "Cita"
# Keys in the event's extendedProperties.private that tell our events apart and suppress echoes on pull.
PROP_APPOINTMENT = "appointmentId"
PROP_CLINIC = "clinicId"
PROP_HASH = "contentHash"


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


def initials(name: str) -> str:
    return "".join(f"{part[0].upper()}." for part in name.split() if part)


@dataclass(frozen=True)
class EventContent:
    """The fields of the event we own; `content_hash` identifies them for change and echo detection."""

    summary: str
    description: str | None
    start: datetime
    end: datetime
    time_zone: str
    appointment_id: str
    clinic_id: str

    @property
    def content_hash(self) -> str:
        # Times count as the instants they stand for, so that an event read back from Google in another
        # offset hashes the same (see remote_hash).
        fields = [
            self.summary,
            self.description or "",
            _instant(self.start),
            _instant(self.end),
            self.time_zone,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:24]

    def body(self) -> dict[str, Any]:
        """The event resource for insert, update or patch (every field we own, restoring a cancelled one)."""
        tz = ZoneInfo(self.time_zone)
        return {
            "summary": self.summary,
            "description": self.description or "",
            "start": {"dateTime": self.start.astimezone(tz).isoformat(), "timeZone": self.time_zone},
            "end": {"dateTime": self.end.astimezone(tz).isoformat(), "timeZone": self.time_zone},
            "status": "confirmed",
            "extendedProperties": {
                "private": {
                    PROP_APPOINTMENT: self.appointment_id,
                    PROP_CLINIC: self.clinic_id,
                    PROP_HASH: self.content_hash,
                }
            },
        }


def event_content(appointment: Appointment, clinic: Clinic, center: Center) -> EventContent:
    """The event an appointment should have, by the clinic's privacy choices, in the centre's time zone."""
    _ = center.zone  # an unknown time zone is refused before anything is written
    title = appointment.service or appointment.title or DEFAULT_TITLE
    patient = (appointment.patient_name or "").strip()
    if patient and clinic.privacy is Privacy.INITIALS:
        title = f"{title} · {initials(patient)}"
    elif patient and clinic.privacy is Privacy.FULL:
        title = f"{title} · {patient}"
    description = appointment.notes if clinic.share_notes and appointment.notes else None
    return EventContent(
        summary=title,
        description=description,
        start=appointment.start,
        end=appointment.end,
        time_zone=center.time_zone,
        appointment_id=appointment.id,
        clinic_id=appointment.clinic_id,
    )


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def remote_hash(event: dict[str, Any]) -> str | None:
    """The content hash of an event as Google returns it, to compare with what we pushed (echo check)."""
    try:
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None
    time_zone = event["start"].get("timeZone", "")
    fields = [
        event.get("summary", ""),
        event.get("description") or "",
        _instant(start),
        _instant(end),
        time_zone,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:24]
