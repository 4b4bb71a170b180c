"""Recurring events: their `recurrence` lines, their instances, and the ids Google gives instances.

What Google documents (Calendar API v3, Event resource and "Recurring events" guide):
- `recurrence` is a list of RRULE, EXRULE, RDATE and EXDATE lines (RFC 5545); DTSTART/DTEND lines are not
  allowed (the event's `start`/`end` are the first instance). Timed recurring events need `timeZone` on
  `start` and `end`: it is the zone the recurrence is expanded in.
- an instance is the series at one occurrence: same fields, `recurringEventId` = the series id,
  `originalStartTime` = where the rule put it (same shape as `start`), and an id `{seriesId}_{stamp}`:
  `YYYYMMDDTHHMMSSZ` (UTC) for timed events, `YYYYMMDD` for all-day ones.
- a changed or deleted instance is an exception: an event of its own with that id (a deleted one is
  `status: cancelled`).
Expansion is python-dateutil's (`rrulestr`, `rruleset`); only the iCalendar content line
(`NAME;PARAM=V:VALUE`) is split here. Choices where Google documents nothing:
- a timed rule whose UNTIL is a date or a floating time is read in the series' zone, and a bare date
  UNTIL includes that whole day; RDATE/EXDATE without TZID are read in the series' zone;
- a series without an end (no COUNT/UNTIL) is expanded at most `MAX_INSTANCES` times, and no list walks
  more than `MAX_STEPS` of its occurrences to reach a window.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from dateutil.parser import isoparse
from dateutil.rrule import rrule, rruleset, rrulestr

from . import times
from .errors import invalid, required
from .store import CalendarRecord, EventRecord

MAX_INSTANCES = 730
# Occurrences walked to reach a window: keeps a minutely rule without end from walking for ever.
MAX_STEPS = 20_000
_PROPERTIES = ("RRULE", "EXRULE", "RDATE", "EXDATE")
_TIMED_STAMP = re.compile(r"\d{8}T\d{6}Z")
_DAY_STAMP = re.compile(r"\d{8}")


def is_series(resource: Mapping[str, Any]) -> bool:
    """Whether the event is a recurring series (not one of its exceptions)."""
    return bool(resource.get("recurrence")) and "recurringEventId" not in resource


def is_all_day(resource: Mapping[str, Any]) -> bool:
    """Whether the event's start is a `date` (all-day)."""
    return "date" in (resource.get("start") or {})


def _bad_rule() -> Exception:
    return invalid("Invalid recurrence rule.")


def _series_zone(resource: Mapping[str, Any], calendar: CalendarRecord) -> tzinfo:
    return times.zone(resource["start"].get("timeZone") or calendar.time_zone) or UTC


def first_start(resource: Mapping[str, Any], calendar: CalendarRecord) -> datetime:
    """DTSTART of the series: aware in its zone for timed events, a naive midnight for all-day ones."""
    start = resource["start"]
    if "date" in start:
        return datetime.fromisoformat(start["date"])
    moment = datetime.fromisoformat(start["dateTime"].replace("Z", "+00:00"))
    return moment.astimezone(_series_zone(resource, calendar))


def _content_line(line: str) -> tuple[str, dict[str, str], str]:
    """`NAME;P=V:VALUE` -> (NAME, {P: V}, VALUE), as RFC 5545 section 3.1 writes a content line."""
    head, sep, value = line.partition(":")
    if not sep or not value:
        raise _bad_rule()
    name, *params = head.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, eq, val = param.partition("=")
        if not eq:
            raise _bad_rule()
        parsed[key.upper()] = val
    return name.upper(), parsed, value


def _dates(value: str, params: dict[str, str], dtstart: datetime) -> list[datetime]:
    """RDATE/EXDATE values, in the awareness of DTSTART (so that dateutil can compare them)."""
    zone = times.zone(params["TZID"]) if "TZID" in params else None
    if "TZID" in params and zone is None:
        raise _bad_rule()
    found = []
    for raw in value.split(","):
        try:
            moment = isoparse(raw.strip())
        except ValueError:
            raise _bad_rule() from None
        if dtstart.tzinfo is None:
            moment = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        elif moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone or dtstart.tzinfo)
        found.append(moment)
    return found


def _rule(value: str, dtstart: datetime) -> rrule:
    """One RRULE/EXRULE, parsed by dateutil; UNTIL is brought to DTSTART's awareness when it differs."""
    try:
        parsed = rrulestr("RRULE:" + value, dtstart=dtstart)
    except ValueError as error:
        if "UNTIL" not in str(error):
            raise _bad_rule() from None
        # dateutil insists that UNTIL and DTSTART are both aware or both naive; RFC 5545 clients do not.
        other = dtstart.replace(tzinfo=None) if dtstart.tzinfo else dtstart.replace(tzinfo=UTC)
        try:
            loose = rrulestr("RRULE:" + value, dtstart=other)
        except ValueError:
            raise _bad_rule() from None
        until: datetime = loose._until  # dateutil keeps UNTIL only here
        if dtstart.tzinfo is not None:
            if until.time() == time(0):
                until = until + timedelta(days=1) - timedelta(seconds=1)  # a bare date: the whole day
            until = until.replace(tzinfo=dtstart.tzinfo)
        else:
            until = until.replace(tzinfo=None)
        parsed = loose.replace(dtstart=dtstart, until=until)
    if not isinstance(parsed, rrule):
        raise _bad_rule()
    return parsed


@dataclass
class Occurrences:
    """A series' occurrences: dateutil's set of RRULEs, RDATEs and EXDATEs, and the EXRULEs apart.

    EXRULEs are applied one occurrence at a time (not inside dateutil's set) so that a walk over the
    occurrences always advances: a set whose EXRULE removes everything would never yield at all.
    """

    included: rruleset
    excluded: list[rrule]

    def walk(self, steps: int) -> Iterator[datetime]:
        """The occurrences in order, looking at no more than `steps` candidates."""
        removals = [iter(rule) for rule in self.excluded]
        heads: list[datetime | None] = [next(removal, None) for removal in removals]
        for seen, moment in enumerate(self.included):
            if seen >= steps:
                return
            removed = False
            for index, removal in enumerate(removals):
                while heads[index] is not None and heads[index] < moment:  # type: ignore[operator]
                    heads[index] = next(removal, None)
                removed = removed or heads[index] == moment
            if not removed:
                yield moment

    def has(self, moment: datetime) -> bool:
        """Whether the series has an occurrence starting exactly then."""
        if self.included.after(moment, inc=True) != moment:
            return False
        return all(rule.after(moment, inc=True) != moment for rule in self.excluded)


def rule_set(lines: Iterable[str], dtstart: datetime) -> Occurrences:
    """The occurrences that `recurrence` lines give from DTSTART (400 `invalid` when they do not parse)."""
    result = rruleset()
    excluded: list[rrule] = []
    has_rule = False
    for line in lines:
        if not isinstance(line, str):
            raise _bad_rule()
        name, params, value = _content_line(line.strip())
        if name not in _PROPERTIES:
            raise _bad_rule()
        if name == "RRULE":
            result.rrule(_rule(value, dtstart))
            has_rule = True
        elif name == "EXRULE":
            excluded.append(_rule(value, dtstart))
        elif name == "RDATE":
            for moment in _dates(value, params, dtstart):
                result.rdate(moment)
            has_rule = True
        else:
            for moment in _dates(value, params, dtstart):
                result.exdate(moment)
    if not has_rule:
        raise _bad_rule()
    # As RFC 5545 says, DTSTART is the first instance even when the rule would not produce it.
    result.rdate(dtstart)
    return Occurrences(result, excluded)


def check(resource: dict[str, Any], calendar: CalendarRecord) -> None:
    """Validate the `recurrence` of an event about to be stored (its start/end already normalised)."""
    lines = resource.get("recurrence")
    if not lines:
        resource.pop("recurrence", None)
        return
    if "recurringEventId" in resource:
        raise invalid("Invalid Value", location="recurrence", location_type="parameter")
    if not is_all_day(resource):
        for side in ("start", "end"):
            if not resource[side].get("timeZone"):
                raise required(f"Missing time zone definition for {side} time.")
    try:
        rule_set(lines, first_start(resource, calendar))
    except (TypeError, ValueError, OverflowError):
        raise _bad_rule() from None


def _duration(resource: Mapping[str, Any]) -> timedelta:
    """How long each instance lasts: the first one's length."""
    if is_all_day(resource):
        return datetime.fromisoformat(resource["end"]["date"]) - datetime.fromisoformat(
            resource["start"]["date"]
        )
    start = datetime.fromisoformat(resource["start"]["dateTime"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(resource["end"]["dateTime"].replace("Z", "+00:00"))
    return end - start


def _local(moment: datetime | None, resource: Mapping[str, Any], calendar: CalendarRecord) -> datetime | None:
    """A window bound in the terms of the series' occurrences (naive calendar-local for all-day)."""
    if moment is None or not is_all_day(resource):
        return moment
    zone = times.zone(calendar.time_zone) or UTC
    return moment.astimezone(zone).replace(tzinfo=None)


def occurrences(
    resource: Mapping[str, Any],
    calendar: CalendarRecord,
    time_min: datetime | None = None,
    time_max: datetime | None = None,
    limit: int = MAX_INSTANCES,
) -> list[datetime]:
    """Original starts of the series' instances that overlap [time_min, time_max), in order."""
    rules = rule_set(resource["recurrence"], first_start(resource, calendar))
    duration = _duration(resource)
    low, high = _local(time_min, resource, calendar), _local(time_max, resource, calendar)
    found: list[datetime] = []
    for original in rules.walk(MAX_STEPS):
        if high is not None and original >= high:
            break
        if low is not None and original + duration <= low and original < low:
            continue  # ended by time_min (Google's timeMin bounds the end, exclusively)
        found.append(original)
        if len(found) >= limit:
            break
    return found


def instance_id(series_id: str, original: datetime) -> str:
    """Google's id of the instance that starts (originally) at `original`."""
    if original.tzinfo is None:
        return f"{series_id}_{original:%Y%m%d}"
    return f"{series_id}_{original.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def split_instance_id(value: str) -> tuple[str, str] | None:
    """(series id, stamp) of an instance id, or None when the id is not an instance's."""
    series_id, sep, stamp = value.rpartition("_")
    if not sep or not series_id:
        return None
    if _TIMED_STAMP.fullmatch(stamp) or _DAY_STAMP.fullmatch(stamp):
        return series_id, stamp
    return None


def original_of(stamp: str, resource: Mapping[str, Any], calendar: CalendarRecord) -> datetime | None:
    try:
        if is_all_day(resource):
            return datetime.strptime(stamp, "%Y%m%d") if _DAY_STAMP.fullmatch(stamp) else None
        if not _TIMED_STAMP.fullmatch(stamp):
            return None
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.astimezone(_series_zone(resource, calendar))


def _event_time(moment: datetime, template: Mapping[str, Any], calendar: CalendarRecord) -> dict[str, Any]:
    """An EventDateTime like `template` (date, or dateTime in its zone) at `moment`."""
    if "date" in template:
        shown: dict[str, Any] = {"date": moment.date().isoformat()}
    else:
        zone = times.zone(template.get("timeZone") or calendar.time_zone) or UTC
        shown = {"dateTime": times.format_in_zone(moment, zone)}
    if template.get("timeZone"):
        shown["timeZone"] = template["timeZone"]
    return shown


def instance(series: Mapping[str, Any], original: datetime, calendar: CalendarRecord) -> dict[str, Any]:
    """The series at one occurrence, as events.instances and singleEvents lists show it."""
    resource = copy.deepcopy(dict(series))
    resource.pop("recurrence", None)
    resource["id"] = instance_id(series["id"], original)
    resource["recurringEventId"] = series["id"]
    resource["start"] = _event_time(original, series["start"], calendar)
    resource["end"] = _event_time(original + _duration(series), series["end"], calendar)
    resource["originalStartTime"] = dict(resource["start"])
    return resource


def virtual_instance(
    records: Mapping[str, EventRecord], calendar: CalendarRecord, event_id: str, *, verify: bool = True
) -> tuple[EventRecord, dict[str, Any]] | None:
    """(series record, instance) for an instance id that has no exception stored, or None.

    With `verify`, the stamp must be one of the series' occurrences (as for get/patch/delete by id).
    """
    parts = split_instance_id(event_id)
    if parts is None:
        return None
    series = records.get(parts[0])
    if series is None or not is_series(series.resource):
        return None
    original = original_of(parts[1], series.resource, calendar)
    if original is None:
        return None
    if verify:
        try:
            rules = rule_set(series.resource["recurrence"], first_start(series.resource, calendar))
            if not rules.has(original):
                return None
        except (TypeError, ValueError):
            return None
    return series, instance(series.resource, original, calendar)


def exceptions_of(records: Mapping[str, EventRecord], series_id: str) -> list[EventRecord]:
    """The stored exceptions (changed or cancelled instances) of a series."""
    return [r for r in records.values() if r.resource.get("recurringEventId") == series_id]


def split_rule(lines: list[str], dtstart: datetime, at: datetime) -> tuple[list[str], list[str]]:
    """`recurrence` lines of a series cut before the occurrence `at`, and of the series that follows it.

    The first keeps its rules with UNTIL just before `at` (COUNT dropped); the second starts at `at`, with
    COUNT lowered by the instances already past. Other lines (RDATE/EXDATE) go where their dates fall.
    """
    before: list[str] = []
    after: list[str] = []
    until = at - timedelta(seconds=1)
    if until.tzinfo is not None:
        until = until.astimezone(UTC)
    for line in lines:
        name, params, value = _content_line(line.strip())
        if name in ("RRULE", "EXRULE"):
            rule = _rule(value, dtstart)
            ended = rule.replace(count=None, until=until)
            before.append(_rule_line(name, ended, until))
            count = rule._count  # dateutil keeps COUNT only here
            if count is not None:
                spent = len(rule.between(dtstart - timedelta(seconds=1), at, inc=False))
                following = rule.replace(dtstart=at, count=max(count - spent, 1))
            else:
                following = rule.replace(dtstart=at)
            after.append(_rule_line(name, following, None))
        else:
            moments = _dates(value, params, dtstart)
            (after if any(m >= at for m in moments) else before).append(line)
    return before, after


def _rule_line(name: str, rule: rrule, until: datetime | None) -> str:
    """The rule as a `recurrence` line (dateutil writes `DTSTART:...\\nRRULE:...`).

    dateutil writes UNTIL as a floating time; Google writes it in UTC (`...Z`) for timed events and as a
    date for all-day ones, so the value it wrote is replaced by that form.
    """
    for line in str(rule).splitlines():
        if line.startswith("RRULE:"):
            text = name + line.removeprefix("RRULE")
            if until is not None:
                google_until = f"{until:%Y%m%dT%H%M%S}Z" if until.tzinfo else f"{until:%Y%m%d}"
                text = text.replace(f"UNTIL={until:%Y%m%dT%H%M%S}", f"UNTIL={google_until}")
            return text
    raise ValueError("dateutil wrote no RRULE line")
