"""Decide first, act second: what one push must do to bring one event in line with its appointment.

The planner compares what the appointment should look like with what we last recorded for its event
(`EventLink`), and returns one action; the push service carries it out and records the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.event import EventContent


@dataclass(frozen=True)
class EventLink:
    """What we last wrote to Google for one appointment in one linked calendar."""

    appointment_id: str
    event_id: str
    etag: str | None
    content_hash: str | None
    deleted: bool = False
    synced_at: datetime | None = None


@dataclass(frozen=True)
class Insert:
    event_id: str
    content: EventContent


@dataclass(frozen=True)
class Patch:
    event_id: str
    content: EventContent
    etag: str | None


@dataclass(frozen=True)
class Delete:
    event_id: str
    etag: str | None


@dataclass(frozen=True)
class Nothing:
    reason: str


PushAction = Insert | Patch | Delete | Nothing


def plan_push(desired: EventContent | None, event_id: str, recorded: EventLink | None) -> PushAction:
    """The one action that makes the calendar show `desired` (None: the appointment must not show)."""
    present = recorded is not None and not recorded.deleted
    if desired is None:
        if not present:
            return Nothing("no event to remove")
        assert recorded is not None
        return Delete(recorded.event_id, recorded.etag)
    if not present:
        return Insert(event_id, desired)
    assert recorded is not None
    if recorded.content_hash == desired.content_hash:
        return Nothing("event already up to date")
    return Patch(recorded.event_id, desired, recorded.etag)
