"""Google push-notification channels: which link each live channel belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.domain.link import Channel, SyncLink


class ChannelIndex(Protocol):
    """A link's watch channel, and the index from a channel id (all a notification carries) to its link."""

    def save_channel(self, link: SyncLink, old: Channel | None) -> None:
        """Store the link's (new, or no) channel and its index entry, touching no other field of the link;
        drop the old channel's entry."""
        ...

    def channel_owner(self, channel_id: str) -> tuple[str, str] | None:
        """(clinicId, linkId) of a live channel, or None when unknown, replaced or stopped."""
        ...

    def save_calendar_shown(self, link: SyncLink, shown: str) -> None:
        """Store how the link's calendar shows in its user's calendar list, touching no other field."""
        ...

    def links_to_renew(self, before: datetime) -> list[SyncLink]:
        """Active two-way links, in every clinic, whose channel expires before `before`, or that have none."""
        ...
