"""What was lost and what drifted: dead letters, and the drift planner.

A task that fails its queue's last attempt is dropped by Cloud Tasks; before it answers, the worker turns it
into a dead letter (what was lost, for which link), so that the link shows it and the drift check heals it.
The drift planner decides, from what changed on either side since the last check, which appointments of a
link must be pushed again, and which recorded event links must first be corrected to what Google holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.event_link import EventLink, appointment_id_of, series_id_of


class LostWork(StrEnum):
    """What kind of work a dead letter holds."""

    PUSH = "push"  # one appointment's push
    BACKFILL = "backfill"  # a link's whole agenda
    PULL = "pull"  # a two-way link's pull


@dataclass(frozen=True)
class DeadLetter:
    """Work that failed every attempt its queue allows; kept on the link until healed."""

    kind: LostWork
    appointment_id: str | None
    code: str
    attempts: int
    at: datetime

    @property
    def key(self) -> str:
        """One letter per lost thing: a second loss of the same appointment replaces the first."""
        return letter_key(self.kind, self.appointment_id)


def letter_key(kind: LostWork, appointment_id: str | None = None) -> str:
    return f"{kind.value}-{appointment_id}" if kind is LostWork.PUSH else kind.value


def is_last_attempt(retry_count: int | None, max_attempts: int) -> bool:
    """Whether a task whose delivery says it was retried `retry_count` times is on its queue's last attempt.

    Cloud Tasks' X-CloudTasks-TaskRetryCount is 0 on the first attempt; the queue's max_attempts counts
    the first one too. Without the header (not delivered by Cloud Tasks) nothing is the last attempt.
    """
    return retry_count is not None and retry_count + 1 >= max_attempts


@dataclass(frozen=True)
class DriftPlan:
    """What a drift check of one link repairs."""

    # Event links rewritten to what the calendar holds, so that the push plans from the truth.
    corrections: tuple[EventLink, ...] = ()
    # Appointments to push again.
    appointments: tuple[str, ...] = ()
    backfill: bool = False
    pull: bool = False

    @property
    def empty(self) -> bool:
        return not (self.corrections or self.appointments or self.backfill or self.pull)


def cancelled_ids(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ids of the deleted events among a listing's changes (Google lists a deleted event with little more
    than its id: which appointment it was is found by its id in the event links)."""
    return [str(event["id"]) for event in events if event.get("status") == "cancelled"]


def calendar_drift(
    events: Iterable[Mapping[str, Any]],
    clinic_id: str,
    recorded: Mapping[str, EventLink],
    deleted: Mapping[str, EventLink],
) -> list[EventLink]:
    """Events of ours the calendar shows otherwise than we recorded, as event links of what it holds.

    `events` are the calendar's changes since the last check (cancelled ones too); `recorded` the event
    links of the appointments of our live events, `deleted` those of the cancelled events, by event id. Our
    own writes carry the etag we recorded and are left out. An event deleted in Google is recorded deleted
    (the push inserts it again, restoring it); one changed, or present where we recorded none or a deletion,
    is recorded with its etag and no content hash (the push patches it back, or deletes it if its
    appointment must not show).
    """
    found: list[EventLink] = []
    for event in events:
        event_id, etag = str(event["id"]), event.get("etag")
        if event.get("status") == "cancelled":
            gone = deleted.get(event_id)
            if gone is not None and not gone.deleted:
                series = series_id_of(dict(event)) or gone.series_id
                found.append(
                    EventLink(gone.appointment_id, event_id, None, None, deleted=True, series_id=series)
                )
            continue
        appointment_id = appointment_id_of(dict(event), clinic_id)
        if appointment_id is None:
            continue  # made in Google: not ours to keep in line
        known = recorded.get(appointment_id)
        if known is None or known.deleted or known.event_id != event_id or known.etag != etag:
            found.append(EventLink(appointment_id, event_id, etag, None, series_id=series_id_of(dict(event))))
    return found


def plan_drift(
    *,
    corrections: Iterable[EventLink],
    stale: Iterable[str],
    letters: Iterable[DeadLetter],
    two_way: bool,
) -> DriftPlan:
    """The repairs of one link: the calendar's corrections, the appointments whose recorded push differs from
    what they should show (`stale`), and whatever its dead letters hold."""
    corrected = tuple(corrections)
    appointments = [c.appointment_id for c in corrected] + list(stale)
    backfill = pull = False
    for letter in letters:
        if letter.kind is LostWork.PUSH and letter.appointment_id:
            appointments.append(letter.appointment_id)
        elif letter.kind is LostWork.BACKFILL:
            backfill = True
        elif letter.kind is LostWork.PULL:
            pull = two_way
    return DriftPlan(corrected, tuple(dict.fromkeys(appointments)), backfill, pull)
