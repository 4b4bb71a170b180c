"""What the user does in Google Calendar's own UI, which no API call of the app does for them.

Driven through the admin API (admin.py). Each action changes state as the API would show it to a client:
- delete a calendar: as calendars.delete (every later call on it answers 404; channels get `not_exists`);
- hide or unselect a calendar in the list: the owner's calendar-list entry (`hidden`, `selected`);
- change "this and following events" of a series. Google's UI does it as two API-visible changes:
  the series' rules get an UNTIL just before the chosen instance (a patch of its `recurrence`), and a new
  series (a new event id) starts at that instance with the change applied, copying the rest of the series
  (extended properties included). Google documents neither the UNTIL value nor what happens to the old
  series' exceptions from that instance on: the fake ends the rules one second before the instance
  (UTC, or the day before for all-day series) and cancels those exceptions.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import request

from . import calendar_api, calendars, ids, recurrence, times
from . import events as event_model
from .errors import bad_request, not_found
from .runtime import FakeGoogle
from .store import CalendarRecord, EventRecord


def delete_calendar(fake: FakeGoogle, calendar: CalendarRecord) -> None:
    """The user deletes a calendar (a primary calendar cannot be deleted, only cleared)."""
    if calendar.primary:
        raise bad_request("Cannot delete primary calendar.", reason="cannotDeletePrimaryCalendar")
    calendars.remove(fake, calendar)


def set_list_entry(fake: FakeGoogle, calendar: CalendarRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """The user hides/shows or selects/unselects the calendar in their list."""
    with fake.store.lock:
        for name in ("hidden", "selected"):
            if name in changes:
                if not isinstance(changes[name], bool):
                    raise bad_request(f"'{name}' must be true or false")
                setattr(calendar, name, changes[name])
        calendar.etag = fake.store.etag()
        return calendars.list_entry(calendar)


def split_following(
    fake: FakeGoogle, calendar: CalendarRecord, instance_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """ "This and following events": end the series before the instance, start a new one there.

    Returns `{"original": series after the cut, "following": the new series}`; when the instance is
    the series' first, there is nothing to cut and the change applies to the whole series.
    """
    with fake.store.lock:
        records = fake.store.calendar_events(calendar.id)
        parts = recurrence.split_instance_id(instance_id)
        series = records.get(parts[0]) if parts else None
        if series is None or series.cancelled or not recurrence.is_series(series.resource):
            raise not_found()
        target = records.get(instance_id)
        if target is None:
            found = recurrence.virtual_instance(records, calendar, instance_id)
            if found is None:
                raise not_found()
            template = found[1]
        else:
            template = target.resource
        original = _original_start(template, series.resource, calendar)
        dtstart = recurrence.first_start(series.resource, calendar)
        if original <= dtstart:
            whole = event_model.changed_event(series.resource, changes, calendar, patch=True)
            saved = calendar_api.save(calendar, series, whole)
            return {"original": saved.resource, "following": saved.resource}

        before, after = recurrence.split_rule(series.resource["recurrence"], dtstart, original)
        # Both halves are built (and checked) before anything is stored: a bad change leaves no half-split.
        cut = event_model.changed_event(series.resource, {"recurrence": before}, calendar, patch=True)
        following = _new_series(fake, calendar, series, original, after, changes)
        kept = calendar_api.save(calendar, series, cut)
        for exception in recurrence.exceptions_of(records, series.id):
            later = _original_start(exception.resource, series.resource, calendar) >= original
            if later and not exception.cancelled:
                calendar_api.save(calendar, exception, {**exception.resource, "status": "cancelled"})
        serial = fake.store.next_serial()
        calendar_api.store_change(calendar, EventRecord(calendar.id, following, serial, order=serial))
        return {"original": kept.resource, "following": following}


def _original_start(resource: dict[str, Any], series: dict[str, Any], calendar: CalendarRecord) -> Any:
    """An instance's original start, in the terms of the series' occurrences."""
    parts = recurrence.split_instance_id(resource["id"])
    if parts is None:
        raise not_found()
    original = recurrence.original_of(parts[1], series, calendar)
    if original is None:
        raise not_found()
    return original


def _new_series(
    fake: FakeGoogle,
    calendar: CalendarRecord,
    series: EventRecord,
    original: Any,
    lines: list[str],
    changes: dict[str, Any],
) -> dict[str, Any]:
    """The series that continues from `original`, with the user's change applied (not stored yet)."""
    first = recurrence.instance(series.resource, original, calendar)
    body = {k: copy.deepcopy(v) for k, v in series.resource.items() if k in event_model.WRITABLE_FIELDS}
    body.update(start=first["start"], end=first["end"], recurrence=lines)
    resource = event_model.new_event(
        body, calendar, ids.event_id(), calendar.owner, times.now(), fake.store.etag(), request.host_url
    )
    if changes:
        resource = event_model.changed_event(resource, changes, calendar, patch=True)
    return resource
