"""What the sync recorded about a link's calendar: event links, and the link's push/pull bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.domain.event_link import EventLink
from shared.domain.link import SyncLink


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

    def event_links_of_series(self, link: SyncLink, series_id: str) -> list[EventLink]:
        """The event links of the recurring series' instances in the calendar (ids `{series_id}_...`)."""
        ...

    def series_of_instances(self, link: SyncLink) -> set[str]:
        """The recurring series of which the calendar has instances recorded."""
        ...

    def record_event_links(
        self, link: SyncLink, event_links: Sequence[EventLink], pushed_at: datetime | None
    ) -> None:
        """Save event links (replacing those of the same appointments), and the link's lastPushAt when given
        (else it is left as it was), in one write batch. Nothing is written when there are no event links."""
        ...

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        """Record the link's last error, touching no other field."""
        ...

    def save_pushed_privacy(self, link: SyncLink, privacy: str) -> None:
        """Record the privacy choices a backfill wrote the link's events with, touching no other field."""
        ...

    def save_pull(self, link: SyncLink, sync_token: str | None, pulled_at: datetime, conflicts: int) -> None:
        """Record a finished pull: the new sync token, lastPullAt, and conflicts added to the count; no
        other field is touched."""
        ...
