"""The e-mails Google would send to an event's guests, recorded instead of sent (GET /_fake/mails).

Google documents `sendUpdates` on events.insert, patch, update and delete: `all` (every guest is told),
`externalOnly` (only guests who are not Google Calendar users), `none` (nobody; the default); the older
`sendNotifications=true` means `all`. Any other value is 400 `invalid`.
Choices where Google documents nothing (the fake's rules):
- a guest "uses Google Calendar" when the fake has an account for that e-mail;
- the organizer (the calendar) and an attendee marked `self` or `organizer` are never mailed;
- kinds: `invitation` to guests of a new event and to guests added by a change; `cancellation` to
  guests of a deleted (or cancelled) event and to guests removed by a change; `update` to the other
  guests when the summary, description, location, times, recurrence or status changed.
"""

from __future__ import annotations

from typing import Any

from flask import request

from . import times
from .errors import invalid
from .runtime import FakeGoogle
from .store import CalendarRecord

MODES = ("all", "externalOnly", "none")
SIGNIFICANT_FIELDS = ("summary", "description", "location", "start", "end", "recurrence", "status")


def requested_mode() -> str:
    """The request's `sendUpdates` (or legacy `sendNotifications`), as Google reads them."""
    mode = request.args.get("sendUpdates")
    if mode is None:
        legacy = (request.args.get("sendNotifications") or "").lower()
        return "all" if legacy in ("true", "1") else "none"
    if mode not in MODES:
        raise invalid(
            f"Invalid value for sendUpdates: {mode}", location="sendUpdates", location_type="parameter"
        )
    return mode


def _guests(resource: dict[str, Any] | None, calendar: CalendarRecord) -> dict[str, dict[str, Any]]:
    if not resource or resource.get("status") == "cancelled":
        return {}
    found: dict[str, dict[str, Any]] = {}
    for attendee in resource.get("attendees") or []:
        email = str(attendee.get("email", "")).lower()
        if email and email != calendar.id and not attendee.get("self") and not attendee.get("organizer"):
            found[email] = attendee
    return found


def record(
    fake: FakeGoogle,
    calendar: CalendarRecord,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    mode: str,
) -> None:
    """Record the mails that a change from `before` (None: a new event) to `after` sends under `mode`."""
    if mode == "none":
        return
    old, new = _guests(before, calendar), _guests(after, calendar)
    changed = before is None or any(before.get(f) != after.get(f) for f in SIGNIFICANT_FIELDS)
    kinds: list[tuple[str, str]] = [(email, "invitation") for email in new if email not in old]
    kinds += [(email, "cancellation") for email in old if email not in new]
    if changed and before is not None:
        kinds += [(email, "update") for email in new if email in old]
    at = times.rfc3339_ms(times.now())
    with fake.store.lock:
        for email, kind in kinds:
            if mode == "externalOnly" and email in fake.store.accounts:
                continue
            fake.store.mails.append(
                {
                    "to": email,
                    "kind": kind,
                    "calendarId": calendar.id,
                    "eventId": after["id"],
                    "summary": after.get("summary") or (before or {}).get("summary", ""),
                    "sendUpdates": mode,
                    "at": at,
                }
            )
