"""Which events a list shows, in which order: events.list (full or incremental) and events.instances.

Google's reference for events.list says:
- `singleEvents=true` expands recurring events into their instances and leaves out the series
  themselves; `orderBy=startTime` is allowed only then (400 otherwise).
- `showDeleted`: cancelled instances of recurring events (cancelled exceptions) still come when
  `showDeleted` and `singleEvents` are both false (those of a live series: the Event reference speaks of
  "cancelled exceptions of an uncancelled recurring event"); with both true, only single instances of deleted
  events come, not the underlying recurring events.
- `timeMin` bounds an event's end (exclusive), `timeMax` its start (exclusive); a series matches a
  window when one of its instances does.
- with `syncToken`, `singleEvents` may be given (the other filters may not, see calendar_api.py):
  the changed events come, and with `singleEvents=true` a changed series comes as its instances.
A list is a sequence of ids, frozen when the first page is read; instances without an exception are
computed again when a page shows them (`resolve`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import events as event_model
from . import recurrence
from .store import CalendarRecord, EventRecord

# A list entry's place: by start, by last change, or by insertion, with the id breaking ties.
SortKey = tuple[Any, ...]


def resolve(
    records: Mapping[str, EventRecord], calendar: CalendarRecord, event_id: str
) -> dict[str, Any] | None:
    """The resource a listed id stands for now: a stored event, or an instance computed from its series."""
    record = records.get(event_id)
    if record is not None:
        return record.resource
    found = recurrence.virtual_instance(records, calendar, event_id, verify=False)
    return found[1] if found is not None else None


def _start(resource: dict[str, Any], calendar: CalendarRecord) -> datetime:
    return event_model.bounds(resource, calendar)[0]


def _overlaps(
    resource: dict[str, Any], calendar: CalendarRecord, time_min: datetime | None, time_max: datetime | None
) -> bool:
    if time_min is None and time_max is None:
        return True
    starts, ends = event_model.bounds(resource, calendar)
    if time_min is not None and ends <= time_min and starts < time_min:
        return False
    return time_max is None or starts < time_max


def _series_instances(
    record: EventRecord,
    records: Mapping[str, EventRecord],
    calendar: CalendarRecord,
    time_min: datetime | None,
    time_max: datetime | None,
) -> list[tuple[str, dict[str, Any]]]:
    """(id, resource) of the series' instances in the window that have no exception stored."""
    found = []
    for original in recurrence.occurrences(record.resource, calendar, time_min, time_max):
        resource = recurrence.instance(record.resource, original, calendar)
        if resource["id"] not in records:
            found.append((resource["id"], resource))
    return found


def incremental_ids(
    records: Mapping[str, EventRecord], calendar: CalendarRecord, since: int, *, single_events: bool
) -> list[str]:
    """Ids of what changed after serial `since`, oldest change first."""
    changed = sorted((r for r in records.values() if r.serial > since), key=lambda r: r.serial)
    found: list[str] = []
    for record in changed:
        if single_events and recurrence.is_series(record.resource):
            found += [iid for iid, _ in _series_instances(record, records, calendar, None, None)]
        else:
            found.append(record.id)
    return found


def full_ids(
    records: Mapping[str, EventRecord],
    calendar: CalendarRecord,
    *,
    single_events: bool,
    show_deleted: bool,
    order_by: str | None,
    time_min: datetime | None,
    time_max: datetime | None,
    updated_min: datetime | None,
    matches: Callable[[dict[str, Any]], bool],
) -> list[str]:
    """Ids a full events.list returns, in order; `matches` applies the text and property filters."""
    entries: list[tuple[SortKey, str]] = []

    def add(record: EventRecord, event_id: str, resource: dict[str, Any]) -> None:
        start = _start(resource, calendar)
        if order_by == "startTime":
            key: SortKey = (start, record.order, event_id)
        elif order_by == "updated":
            key = (resource["updated"], record.serial, event_id)
        else:
            key = (record.order, start, event_id)
        entries.append((key, event_id))

    for record in records.values():
        resource = record.resource
        if updated_min is not None and event_model.updated_before(resource, updated_min):
            continue
        if not matches(resource):
            continue
        series = recurrence.is_series(resource)
        if record.cancelled and updated_min is None:
            # Deleted events since updatedMin always come; otherwise showDeleted decides, as documented.
            series_of = records.get(resource.get("recurringEventId", ""))
            cancelled_instance = series_of is not None and not series_of.cancelled
            visible = show_deleted if single_events else show_deleted or cancelled_instance
            if not visible:
                continue
        if single_events and series:
            for instance_id, instance in _series_instances(record, records, calendar, time_min, time_max):
                add(record, instance_id, instance)
            continue
        if series:
            if not recurrence.occurrences(resource, calendar, time_min, time_max, limit=1):
                continue
        elif not _overlaps(resource, calendar, time_min, time_max):
            continue
        add(record, record.id, resource)
    entries.sort(key=lambda entry: entry[0])
    return [event_id for _, event_id in entries]


def instance_ids(
    records: Mapping[str, EventRecord],
    calendar: CalendarRecord,
    series: EventRecord,
    *,
    show_deleted: bool,
    time_min: datetime | None,
    time_max: datetime | None,
    original_start: datetime | None,
) -> list[str]:
    """Ids events.instances returns for a series, by start: its instances and its exceptions.

    Google documents nothing for a non-recurring event; the fake answers the event itself.
    """
    if not recurrence.is_series(series.resource):
        return [series.id]
    entries: list[tuple[datetime, str]] = [
        (_start(resource, calendar), instance_id)
        for instance_id, resource in _series_instances(series, records, calendar, time_min, time_max)
    ]
    for exception in recurrence.exceptions_of(records, series.id):
        if exception.cancelled and not show_deleted:
            continue
        if _overlaps(exception.resource, calendar, time_min, time_max):
            entries.append((_start(exception.resource, calendar), exception.id))
    entries.sort()
    found = [instance_id for _, instance_id in entries]
    if original_start is not None:
        if recurrence.is_all_day(series.resource):
            original_start = datetime.combine(original_start.date(), datetime.min.time())
        wanted = recurrence.instance_id(series.id, original_start)
        found = [instance_id for instance_id in found if instance_id == wanted]
    return found
