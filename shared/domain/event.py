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
# Which fields of the event are ours (comma-separated), so that an event read back hashes over the fields
# we wrote and nothing a person typed in Google makes it differ from what we recorded.
PROP_OWNED = "owned"
# The appointments an event made in Google becomes are named with this prefix (see event_link).
GOOGLE_MADE_PREFIX = "gcal-"
# Every field an event made by an older version of the sync was written and hashed with.
LEGACY_OWNED = ("summary", "description", "start", "end")
# The fields we own of an event made in Google: its times, which the clinic may move.
GOOGLE_MADE_OWNED = ("start", "end")


def made_in_google(appointment_id: str) -> bool:
    """Whether an appointment stands for an event a person made in Google (not one we created)."""
    return appointment_id.startswith(GOOGLE_MADE_PREFIX)


def initials(name: str) -> str:
    return "".join(f"{part[0].upper()}." for part in name.split() if part)


@dataclass(frozen=True)
class EventContent:
    """What an appointment shows in its event; `owned` names the fields we write, and `content_hash`
    identifies their values for change and echo detection.

    What people typed in Google stays in Google: a write carries only the fields we own, and Google's
    patch leaves the others (description, location, guests, reminders, colour) as they are. Of an event
    we created we own the title and the times, and the description only while the clinic shares the
    appointment's notes; of an event made in Google (`made_in_google`), only the times, which the clinic
    may move. Either way our private extended properties, which Google's patch merges key by key.
    """

    summary: str
    description: str | None
    start: datetime
    end: datetime
    time_zone: str
    appointment_id: str
    clinic_id: str
    # An all-day block (made in Google): shown with dates, its local midnights' days (end exclusive).
    all_day: bool = False
    made_in_google: bool = False
    # The clinic stopped sharing notes: the description we wrote is emptied once, though it is not ours now.
    clear_description: bool = False

    @property
    def owned(self) -> tuple[str, ...]:
        if self.made_in_google:
            return GOOGLE_MADE_OWNED
        if self.description is None:
            return ("summary", "start", "end")
        return LEGACY_OWNED

    @property
    def content_hash(self) -> str:
        # Times count as the instants they stand for, so that an event read back from Google in another
        # offset hashes the same (see remote_hash); an all-day block's count as its dates.
        start, end, zone = self._times()
        values = {"summary": self.summary, "description": self.description or "", "start": start, "end": end}
        return _hash(self.owned, values, zone)

    def _times(self) -> tuple[str, str, str]:
        """Start, end and time zone as hashed: instants for a timed event, local dates for an all-day one."""
        if self.all_day:
            tz = ZoneInfo(self.time_zone)
            first, after = (
                _day(moment.astimezone(tz).date().isoformat()) for moment in (self.start, self.end)
            )
            return first, after, ""
        return _instant(self.start), _instant(self.end), self.time_zone

    def body(self) -> dict[str, Any]:
        """The patch of an existing event: only the fields we own, restoring it if it was cancelled."""
        tz = ZoneInfo(self.time_zone)
        if self.all_day:
            start: dict[str, str] = {"date": self.start.astimezone(tz).date().isoformat()}
            end: dict[str, str] = {"date": self.end.astimezone(tz).date().isoformat()}
        else:
            start = {"dateTime": self.start.astimezone(tz).isoformat(), "timeZone": self.time_zone}
            end = {"dateTime": self.end.astimezone(tz).isoformat(), "timeZone": self.time_zone}
        shown: dict[str, Any] = {
            "summary": self.summary,
            "description": self.description or "",
            "start": start,
            "end": end,
        }
        cleared = {"description": ""} if self.clear_description and "description" not in self.owned else {}
        return {
            **cleared,
            **{name: shown[name] for name in self.owned},
            "status": "confirmed",
            "extendedProperties": {
                "private": {
                    PROP_APPOINTMENT: self.appointment_id,
                    PROP_CLINIC: self.clinic_id,
                    PROP_HASH: self.content_hash,
                    PROP_OWNED: ",".join(self.owned),
                }
            },
        }

    def mark_body(self) -> dict[str, Any]:
        """A patch that marks an event as this appointment's, and changes nothing it shows."""
        return {"extendedProperties": self.body()["extendedProperties"]}

    def new_body(self) -> dict[str, Any]:
        """A new event: the patch's fields, and the title also where it is not ours to keep in line (an
        event made in Google that was deleted there and comes back from the clinic)."""
        body = self.body()
        body.setdefault("summary", self.summary)
        return body


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
        made_in_google=appointment.origin is not None or made_in_google(appointment.id),
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


def _hash(owned: tuple[str, ...], values: dict[str, str], time_zone: str) -> str:
    if owned == LEGACY_OWNED:
        # The fields in the order every version of the sync hashed them: recorded hashes stay valid.
        fields = [*(values[name] for name in owned), time_zone]
    elif "summary" not in owned:
        # Only the times of an event made in Google are ours: the instants, whatever zone it was made in.
        fields = [",".join(owned), *(values[name] for name in owned)]
    else:
        fields = [",".join(owned), *(values[name] for name in owned), time_zone]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:24]


def owned_fields(event: dict[str, Any]) -> tuple[str, ...]:
    """The fields of an event that we wrote, by the mark we left on it (older events: every field)."""
    private = (event.get("extendedProperties") or {}).get("private") or {}
    marked = tuple(name for name in str(private.get(PROP_OWNED) or "").split(",") if name)
    return marked if marked and set(marked) <= set(LEGACY_OWNED) else LEGACY_OWNED


def remote_hash(event: dict[str, Any], owned: tuple[str, ...] | None = None) -> str | None:
    """The content hash of an event as Google returns it, over the fields we own of it, to compare with
    what we pushed (echo check): a change a person made to any other field leaves it as it was.

    `owned` names those fields when they are known whatever the event's mark says: an event made in Google
    that we never wrote carries no mark, yet only its times are ours (`GOOGLE_MADE_OWNED`)."""
    try:
        if "date" in event["start"]:  # all-day: end.date is exclusive, as Google documents
            start, end, zone = _day(event["start"]["date"]), _day(event["end"]["date"]), ""
        else:
            start = _instant(datetime.fromisoformat(event["start"]["dateTime"]))
            end = _instant(datetime.fromisoformat(event["end"]["dateTime"]))
            zone = event["start"].get("timeZone", "")
    except (KeyError, TypeError, ValueError):
        return None
    values = {
        "summary": event.get("summary", ""),
        "description": event.get("description") or "",
        "start": start,
        "end": end,
    }
    return _hash(owned or owned_fields(event), values, zone)
