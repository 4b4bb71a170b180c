"""What an appointment looks like as a Google Calendar event: the one rule for what it shows.

The event's identity (its id, and the record of what we wrote) lives in `event_link`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.domain.clinic import Appointment, Center, Clinic, Privacy
from shared.domain.errors import DomainError

DEFAULT_TITLE = "Cita"
# Keys in the event's extendedProperties.private that tell our events apart and suppress echoes on pull.
PROP_APPOINTMENT = "appointmentId"
PROP_CLINIC = "clinicId"
PROP_HASH = "contentHash"


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
    # An all-day block (made in Google): shown with dates, its local midnights' days (end exclusive).
    all_day: bool = False

    @property
    def content_hash(self) -> str:
        # Times count as the instants they stand for, so that an event read back from Google in another
        # offset hashes the same (see remote_hash); an all-day event's count as its dates.
        if self.all_day:
            tz = ZoneInfo(self.time_zone)
            first, after = (
                _day(moment.astimezone(tz).date().isoformat()) for moment in (self.start, self.end)
            )
            return _hash(self.summary, self.description, first, after, "")
        return _hash(self.summary, self.description, _instant(self.start), _instant(self.end), self.time_zone)

    def body(self) -> dict[str, Any]:
        """The event resource for insert, update or patch (every field we own, restoring a cancelled one)."""
        tz = ZoneInfo(self.time_zone)
        if self.all_day:
            start: dict[str, str] = {"date": self.start.astimezone(tz).date().isoformat()}
            end: dict[str, str] = {"date": self.end.astimezone(tz).date().isoformat()}
        else:
            start = {"dateTime": self.start.astimezone(tz).isoformat(), "timeZone": self.time_zone}
            end = {"dateTime": self.end.astimezone(tz).isoformat(), "timeZone": self.time_zone}
        return {
            "summary": self.summary,
            "description": self.description or "",
            "start": start,
            "end": end,
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
        all_day=appointment.all_day,
    )


def privacy_key(clinic: Clinic) -> str:
    """The clinic's choices that change what its events show ("full", "none+notes"...): the events
    already in Google are rewritten when it changes (see the push service's privacy upkeep)."""
    return clinic.privacy.value + ("+notes" if clinic.share_notes else "")


def desired_event(
    appointment: Appointment | None,
    professional_id: str,
    clinic: Clinic,
    center_of: Callable[[str], Center | None],
) -> EventContent | None:
    """What a calendar linked to `professional_id`'s agenda should show for an appointment: the one rule that
    both the push (what to write) and the pull (what the clinic holds now) apply.

    None when it must not show: gone, cancelled, without a real time range, or in another agenda. The
    appointment's centre (its time zone) is asked of `center_of` only when the event shows; an appointment
    whose centre does not exist cannot be shown, and is refused (`center_not_found`) rather than taken for
    a cancellation.
    """
    if appointment is None or not appointment.is_live or appointment.professional_id != professional_id:
        return None
    center = center_of(appointment.center_id)
    if center is None:
        raise DomainError("the appointment's centre does not exist", code="center_not_found")
    return event_content(appointment, clinic, center)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(date: str) -> str:
    return f"date:{date}"


def _hash(summary: str, description: str | None, start: str, end: str, time_zone: str) -> str:
    fields = [summary, description or "", start, end, time_zone]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:24]


def remote_hash(event: dict[str, Any]) -> str | None:
    """The content hash of an event as Google returns it, to compare with what we pushed (echo check)."""
    summary, description = event.get("summary", ""), event.get("description")
    try:
        if "date" in event["start"]:  # all-day: end.date is exclusive, as Google documents
            return _hash(summary, description, _day(event["start"]["date"]), _day(event["end"]["date"]), "")
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None
    return _hash(summary, description, _instant(start), _instant(end), event["start"].get("timeZone", ""))
