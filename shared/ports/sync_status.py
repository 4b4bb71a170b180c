"""The fields of a link that only the sync writes: its last error, pull and full sync bookkeeping, health."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from shared.domain.link import FullSyncProgress, SyncLink


class SyncStatus(Protocol):
    """Writes of one link's bookkeeping, each touching only its own fields (the rest of the link is the
    Links port's, and may be changed by others at the same time)."""

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        """Record the link's last error, touching no other field."""
        ...

    def save_pushed_privacy(self, link: SyncLink, privacy: str) -> None:
        """Record the privacy choices a backfill wrote the link's events with, touching no other field."""
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
