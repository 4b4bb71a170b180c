"""Calendars and their calendar-list entries: how the API shows them, and what deleting one does.

Google documents that a deleted calendar is gone: every later call naming it answers 404 `notFound`,
and a watch channel on its events gets a last notification with `X-Goog-Resource-State: not_exists`.
After that last message the fake stops the channel (Google documents nothing more about it).
`hidden` and `selected` are the owner's calendar-list settings (calendarList.get/patch, allowed to the
`calendar.app.created` scope for calendars the app created, as the discovery document lists).
"""

from __future__ import annotations

from typing import Any

from .runtime import FakeGoogle
from .store import CalendarRecord

CONFERENCE_PROPERTIES = {"allowedConferenceSolutionTypes": ["hangoutsMeet"]}


def calendar_resource(calendar: CalendarRecord) -> dict[str, Any]:
    """A Calendar resource (calendars.insert/get)."""
    resource: dict[str, Any] = {
        "kind": "calendar#calendar",
        "etag": calendar.etag,
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "conferenceProperties": dict(CONFERENCE_PROPERTIES),
    }
    if calendar.description is not None:
        resource["description"] = calendar.description
    if calendar.location is not None:
        resource["location"] = calendar.location
    return resource


def list_entry(calendar: CalendarRecord) -> dict[str, Any]:
    """The owner's CalendarListEntry for a calendar; Google leaves out `hidden` unless it is true."""
    entry = calendar_resource(calendar)
    entry.update(
        kind="calendar#calendarListEntry",
        colorId="14",
        backgroundColor="#9fe1e7",
        foregroundColor="#000000",
        selected=calendar.selected,
        accessRole="owner",
        defaultReminders=[],
    )
    if calendar.hidden:
        entry["hidden"] = True
    if calendar.summary_override is not None:
        entry["summaryOverride"] = calendar.summary_override
    if calendar.primary:
        entry["primary"] = True
    return entry


def remove(fake: FakeGoogle, calendar: CalendarRecord) -> None:
    """Delete a calendar: its events, sync tokens and page cursors go; its channels get `not_exists`."""
    with fake.store.lock:
        fake.notifier.calendar_changed(calendar.id, "not_exists")
        fake.store.calendars.pop(calendar.id, None)
        fake.store.events.pop(calendar.id, None)
        for channel in fake.store.channels.values():
            if channel.calendar_id == calendar.id:
                channel.stopped = True
        for token in [t for t, s in fake.store.sync_tokens.items() if s.calendar_id == calendar.id]:
            del fake.store.sync_tokens[token]
        for token in [t for t, c in fake.store.page_cursors.items() if c.calendar_id == calendar.id]:
            del fake.store.page_cursors[token]
