"""What the clinic app owns, as we read it: clinics, centres, professionals, users, appointments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.errors import InvalidRequest


class Privacy(StrEnum):
    """How much of the patient an event in Google shows."""

    NONE = "none"
    INITIALS = "initials"
    FULL = "full"


@dataclass(frozen=True)
class Clinic:
    id: str
    name: str = ""
    privacy: Privacy = Privacy.NONE
    # Clinical notes leave the clinic only when the clinic opts in.
    share_notes: bool = False


@dataclass(frozen=True)
class Center:
    clinic_id: str
    id: str
    name: str = ""
    time_zone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.time_zone)


@dataclass(frozen=True)
class Professional:
    clinic_id: str
    id: str
    name: str = ""


@dataclass(frozen=True)
class User:
    clinic_id: str
    id: str
    email: str = ""
    name: str = ""
    is_master: bool = False
    professional_ids: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class EventOrigin:
    """The Google event an appointment was created from."""

    calendar_id: str
    event_id: str


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Appointment:
    clinic_id: str
    id: str
    professional_id: str
    center_id: str
    start: datetime
    end: datetime
    status: AppointmentStatus = AppointmentStatus.SCHEDULED
    patient_name: str | None = None
    service: str | None = None
    notes: str | None = None
    # Set on appointments created from an event made in Google: the title it had there, and the event.
    title: str | None = None
    origin: EventOrigin | None = None
    # Where it takes place, as typed in Google (events made there only).
    location: str | None = None
    # An all-day block made in Google: start and end are local midnights of the centre (end exclusive).
    all_day: bool = False
    # When the clinic app last wrote it (its `updatedAt`): what the drift check looks for changes by.
    updated_at: datetime | None = None

    @property
    def is_live(self) -> bool:
        """Whether the appointment should have an event: scheduled, with a real time range."""
        return self.status is AppointmentStatus.SCHEDULED and self.end > self.start


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or InvalidRequest when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"unknown time zone {name!r}", code="invalid_time_zone") from None


@dataclass(frozen=True)
class AppointmentChange:
    """One write of an appointment, as the trigger saw it, in the terms the push needs."""

    clinic_id: str
    appointment_id: str
    # The agendas that showed the appointment before the write or show it after (one, or two on a move).
    professional_ids: tuple[str, ...]
    # The link whose pull made this write (its own calendar already shows it), None for the clinic's writes.
    written_by_link: str | None
    # When Firestore applied the write: with the appointment, it tells one write from a repeated delivery.
    update_time: datetime | None
