"""What the sync recorded about a link's calendar: event links, and the link's push/pull bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.domain.event_link import EventLink
from shared.domain.link import FullSyncProgress, SyncLink


class SyncRecords(Protocol):
    """Event links (what we last wrote to a Google calendar per appointment) and the fields of a link that
    only the sync writes.

    Event links are kept per calendar, not per link: a later link in the same account and calendar reads
    what an earlier one recorded. A link without a calendar has no event links.
    """

    def event_link(self, link: SyncLink, appointment_id: str) -> EventLink | None: ...

    def event_links_for(self, link: SyncLink, appointment_ids: Sequence[str]) -> dict[str, EventLink]:
        """The recorded event links of these appointments (those that have one), read together."""
        ...

    def event_link_by_event(self, link: SyncLink, event_id: str) -> EventLink | None:
        """The event link of the calendar's event `event_id`, or None."""
        ...

    def event_links_by_events(self, link: SyncLink, event_ids: Sequence[str]) -> dict[str, EventLink]:
        """The event links of these events of the calendar (those recorded), by event id, read together: a
        page of a full sync costs one read per event found, not one query per event."""
        ...

    def record_event_links(
        self, link: SyncLink, event_links: Sequence[EventLink], pushed_at: datetime | None
    ) -> None:
        """Save event links (replacing those of the same appointments), and the link's lastPushAt when given
        (else it is left as it was) and then the link's health cleared, in one write batch. Nothing is written
        when there are no event links."""
        ...

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        """Record the link's last error, touching no other field."""
        ...

    def save_pull(self, link: SyncLink, sync_token: str | None, pulled_at: datetime, conflicts: int) -> None:
        """Record a finished pull: the new sync token, lastPullAt, and conflicts added to the count; the
        full sync's progress and the link's health cleared; no other field is touched."""
        ...

    def save_full_sync(self, link: SyncLink, progress: FullSyncProgress, conflicts: int) -> None:
        """Checkpoint a full sync between pages (what it applied is recorded already) and add the conflicts
        of the pages applied to the count, touching no other field: the next task goes on from there, and so
        does a retry after a crash."""
        ...

    def save_health(self, link: SyncLink, health: Mapping[str, Any]) -> None:
        """Mark why the link is held back ({code, message, at, until}), touching no other field."""
        ...
