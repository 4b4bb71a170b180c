"""What the sync recorded about a link's calendar: its event links (the link's bookkeeping is SyncStatus)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

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

    def event_links_of_series(self, link: SyncLink, series_id: str) -> list[EventLink]:
        """The event links of the recurring series' instances in the calendar: those recorded with the series,
        and those recorded before the series was kept whose id has the form `{series_id}_{start}`."""
        ...

    def instances_by_series(self, link: SyncLink) -> dict[str, list[EventLink]]:
        """The event links of instances recorded with their series, by series, for each series with an
        instance not seen gone (a series whose instances all went is done with): every series of the
        calendar and its records, read together. A record made before the series was kept is not read here:
        any listing or push of its instance records it again, with its series."""
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
