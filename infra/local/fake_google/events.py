"""Calendar events: validation, patch/update semantics, representation and list filtering.

Behaviour follows the Calendar API reference and what Google answers in practice:
- times: `start`/`end` need `dateTime` (RFC 3339; without an offset it needs `timeZone`) or `date`, both
  sides of the same kind; `end` before `start` is 400 `timeRangeEmpty`. Returned date-times are rendered
  in the event's `timeZone`, else in the calendar's, as Google renders them (so `...Z` sent for a Madrid
  event comes back as `...+01:00`).
- patch merges objects key by key (so `extendedProperties.private` merges, and a key set to null is
  removed), replaces arrays, and replaces `start`/`end` as a whole; update replaces every writable field.
- deleted events stay as tombstones (`status: cancelled`); in list results a tombstone shows only
  `kind`, `etag`, `id` and `status`, as incremental syncs show deleted events.
- all-day events: `end.date` is exclusive, so it must come after `start.date` (same day: 400
  `timeRangeEmpty`); a timed event may last zero minutes. `transparency` is `opaque` (the default, busy)
  or `transparent` (free); anything else is 400 `invalid`.
- attendees need an `email` (400 `required`); each comes back with `responseStatus` (`needsAction` unless
  given). Recurrence lives in `recurrence.py`, the e-mails to guests in `guest_mail.py`.
Not modelled: attendees' own copies, `fields` partial responses, and `q` beyond a case-insensitive
substring match on summary, description and location.
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from . import recurrence, times
from .errors import invalid, required, time_range_empty
from .store import CalendarRecord, EventRecord

# Event fields a client may write and that the fake keeps as given (besides start/end/status/id).
WRITABLE_FIELDS = frozenset(
    {
        "summary",
        "description",
        "location",
        "extendedProperties",
        "colorId",
        "transparency",
        "visibility",
        "reminders",
        "source",
        "recurrence",
        "attendees",
        "guestsCanModify",
        "guestsCanInviteOthers",
        "guestsCanSeeOtherGuests",
        "anyoneCanAddSelf",
    }
)
STRING_FIELDS = frozenset({"summary", "description", "location", "colorId", "transparency", "visibility"})
STATUSES = frozenset({"confirmed", "tentative", "cancelled"})
TRANSPARENCIES = frozenset({"opaque", "transparent"})
RESPONSE_STATUSES = frozenset({"needsAction", "declined", "tentative", "accepted"})
MINIMAL_FIELDS = ("kind", "etag", "id", "status")


def _check_types(body: dict[str, Any]) -> None:
    for name in STRING_FIELDS & body.keys():
        if body[name] is not None and not isinstance(body[name], str):
            raise invalid("Invalid Value", location=name, location_type="parameter")
    if "status" in body and body["status"] is not None and body["status"] not in STATUSES:
        raise invalid("Invalid Value", location="status", location_type="parameter")
    props = body.get("extendedProperties")
    if props is not None:
        if not isinstance(props, dict):
            raise invalid("Invalid Value", location="extendedProperties", location_type="parameter")
        for kind in ("private", "shared"):
            values = props.get(kind)
            if values is None:
                continue
            if not isinstance(values, dict) or not all(
                isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in values.items()
            ):
                raise invalid(
                    "Invalid Value", location=f"extendedProperties.{kind}", location_type="parameter"
                )
    for name in ("recurrence", "attendees"):
        if body.get(name) is not None and not isinstance(body[name], list):
            raise invalid("Invalid Value", location=name, location_type="parameter")
    if body.get("transparency") is not None and body["transparency"] not in TRANSPARENCIES:
        raise invalid("Invalid Value", location="transparency", location_type="parameter")
    for attendee in body.get("attendees") or []:
        if not isinstance(attendee, dict):
            raise invalid("Invalid Value", location="attendees", location_type="parameter")
        email = attendee.get("email")
        if email is None:
            raise required("Missing attendee email.")
        if not isinstance(email, str) or "@" not in email:
            raise invalid("Invalid attendee email.")
        if attendee.get("responseStatus") not in (None, *RESPONSE_STATUSES):
            raise invalid("Invalid Value", location="attendees.responseStatus", location_type="parameter")


def _normalise_time(value: Any, side: str, calendar_zone: tzinfo) -> tuple[dict[str, Any], datetime, bool]:
    """Validate one EventDateTime; return it as Google returns it, the instant it starts, and all-day-ness."""
    missing = required(f"Missing {side} time.")
    if not isinstance(value, dict):
        raise missing
    zone_name = value.get("timeZone")
    zone: tzinfo | None = None
    if zone_name is not None:
        zone = times.zone(zone_name) if isinstance(zone_name, str) else None
        if zone is None:
            raise invalid(f"Invalid time zone definition for {side} time.")
    if value.get("date") is not None:
        if value.get("dateTime") is not None:
            raise invalid(f"Invalid {side} time.")
        day = times.parse_date(value["date"])
        if day is None:
            raise invalid(f"Invalid {side} time.")
        shown: dict[str, Any] = {"date": day.isoformat()}
        if zone_name is not None:
            shown["timeZone"] = zone_name
        return shown, datetime.combine(day, time(0), zone or calendar_zone), True
    if value.get("dateTime") is not None:
        moment = times.parse_datetime(value["dateTime"], require_offset=False)
        if moment is None:
            raise invalid(f"Invalid {side} time.")
        if moment.tzinfo is None:
            if zone is None:
                raise required(f"Missing time zone definition for {side} time.")
            moment = moment.replace(tzinfo=zone)
        shown = {"dateTime": times.format_in_zone(moment, zone or calendar_zone)}
        if zone_name is not None:
            shown["timeZone"] = zone_name
        return shown, moment, False
    raise missing


def normalise_times(resource: dict[str, Any], calendar: CalendarRecord) -> None:
    """Validate `start`/`end` of an event about to be stored, and render them as Google does."""
    calendar_zone = times.zone(calendar.time_zone) or UTC
    start, start_at, start_all_day = _normalise_time(resource.get("start"), "start", calendar_zone)
    end, end_at, end_all_day = _normalise_time(resource.get("end"), "end", calendar_zone)
    if start_all_day != end_all_day:
        raise invalid("Start and end times must either both be date or both be dateTime.")
    # An all-day end date is exclusive: the day after the last one, so never the start day itself.
    if end_at < start_at or (end_all_day and end_at == start_at):
        raise time_range_empty("end.date" if end_all_day else "end.dateTime")
    resource["start"], resource["end"] = start, end


def _complete(resource: dict[str, Any], calendar: CalendarRecord) -> None:
    """What every stored event goes through: times, recurrence, attendees' defaults, dropped nulls."""
    _drop_nulls(resource.get("extendedProperties"))
    normalise_times(resource, calendar)
    recurrence.check(resource, calendar)
    for attendee in resource.get("attendees") or []:
        attendee["email"] = attendee["email"].strip().lower()
        attendee.setdefault("responseStatus", "needsAction")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE_FIELDS and v is not None}


def _drop_nulls(props: dict[str, Any] | None) -> None:
    for kind in ("private", "shared"):
        values = (props or {}).get(kind)
        if isinstance(values, dict):
            for key in [k for k, v in values.items() if v is None]:
                del values[key]


def new_event(
    body: dict[str, Any],
    calendar: CalendarRecord,
    event_id: str,
    creator_email: str,
    at: float,
    etag: str,
    base_url: str,
) -> dict[str, Any]:
    """The resource of an event being inserted (body already checked for a valid, unused id)."""
    _check_types(body)
    resource: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": etag,
        "id": event_id,
        "status": body.get("status") or "confirmed",
        "htmlLink": html_link(base_url, calendar.id, event_id),
        "created": times.rfc3339_ms(at),
        "updated": times.rfc3339_ms(at),
        **_writable(body),
        "creator": {"email": creator_email},
        "organizer": {"email": calendar.id, "displayName": calendar.summary, "self": True},
        "start": body.get("start"),
        "end": body.get("end"),
        "iCalUID": body.get("iCalUID") if isinstance(body.get("iCalUID"), str) else f"{event_id}@google.com",
        "sequence": 0,
        "reminders": body.get("reminders")
        if isinstance(body.get("reminders"), dict)
        else {"useDefault": True},
        "eventType": "default",
    }
    if calendar.primary:
        resource["organizer"] = {"email": calendar.id, "self": True}
        resource["creator"] = {"email": creator_email, "self": creator_email == calendar.id}
    _complete(resource, calendar)
    return resource


def changed_event(
    current: dict[str, Any], body: dict[str, Any], calendar: CalendarRecord, *, patch: bool
) -> dict[str, Any]:
    """The resource after a patch (merge) or an update (replace), validated; `current` is left untouched."""
    _check_types(body)
    result = copy.deepcopy(current)
    if patch:
        changes = {k: v for k, v in body.items() if k in WRITABLE_FIELDS or k in ("start", "end", "status")}
        for side in ("start", "end"):
            # A new start/end replaces the old one whole: merging `date` into a `dateTime` makes no sense.
            if isinstance(changes.get(side), dict):
                result[side] = copy.deepcopy(changes.pop(side))
        _merge(result, changes)
    else:
        for name in WRITABLE_FIELDS:
            result.pop(name, None)
        result.update(_writable(body))
        result["start"], result["end"] = body.get("start"), body.get("end")
        # Updating a cancelled event without a status restores it, as at Google.
        result["status"] = body.get("status") or "confirmed"
        result.setdefault("reminders", {"useDefault": True})
    if not result.get("status"):
        result["status"] = "confirmed"
    _complete(result, calendar)
    if (result["start"], result["end"]) != (current.get("start"), current.get("end")):
        result["sequence"] = int(current.get("sequence", 0)) + 1
    return result


def html_link(base_url: str, calendar_id: str, event_id: str) -> str:
    """A link in Google's `eid` style (base64 of "eventId calendarId")."""
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode().rstrip("=")
    return f"{base_url.rstrip('/')}/calendar/event?eid={eid}"


def representation(record: EventRecord, *, minimal_if_cancelled: bool) -> dict[str, Any]:
    """The event as an API response shows it."""
    return shown(record.resource, minimal_if_cancelled=minimal_if_cancelled)


def shown(resource: dict[str, Any], *, minimal_if_cancelled: bool) -> dict[str, Any]:
    """An event resource (stored or an instance) as an API response shows it.

    A cancelled instance keeps `recurringEventId` and `originalStartTime` in its short form, so that a
    client knows which occurrence went away.
    """
    if minimal_if_cancelled and resource.get("status") == "cancelled":
        fields = (*MINIMAL_FIELDS, "recurringEventId", "originalStartTime")
        return {k: copy.deepcopy(resource[k]) for k in fields if k in resource}
    return copy.deepcopy(resource)


def bounds(resource: dict[str, Any], calendar: CalendarRecord) -> tuple[datetime, datetime]:
    """The instants an event starts and ends, for timeMin/timeMax and orderBy=startTime."""
    calendar_zone = times.zone(calendar.time_zone) or UTC

    def instant(value: dict[str, Any]) -> datetime:
        zone = times.zone(value.get("timeZone") or "") or calendar_zone
        if "date" in value:
            day = date.fromisoformat(value["date"])
            return datetime.combine(day, time(0), zone)
        moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    return instant(resource["start"]), instant(resource["end"])


def updated_before(resource: dict[str, Any], moment: datetime) -> bool:
    """Whether the event was last changed before `moment` (for `updatedMin`)."""
    updated = times.parse_datetime(resource["updated"], require_offset=True)
    return updated is not None and updated < moment


def matches_private_properties(resource: dict[str, Any], constraints: list[str]) -> bool:
    """Whether the event's private extended properties satisfy every `name=value` constraint."""
    private = (resource.get("extendedProperties") or {}).get("private") or {}
    for constraint in constraints:
        name, _, value = constraint.partition("=")
        if private.get(name) != value:
            return False
    return True


def matches_text(resource: dict[str, Any], query: str) -> bool:
    """A case-insensitive match of every term of `q` in summary, description or location."""
    haystack = " ".join(str(resource.get(k, "")) for k in ("summary", "description", "location")).lower()
    return all(term in haystack for term in query.lower().split())
