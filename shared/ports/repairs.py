"""What a link lost and where its drift check stands: dead letters and the drift checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.domain.link import SyncLink
from shared.domain.repair import DeadLetter


class Repairs(Protocol):
    """A link's dead letters (clinics/{c}/syncLinks/{l}/deadLetters/{key}) with the link's count of them
    (`pendingFailures`), and the drift check's checkpoint on the link. Only their own fields of the link
    document are written, never the whole link."""

    def add_dead_letter(self, link: SyncLink, letter: DeadLetter, error: dict[str, Any]) -> bool:
        """Atomically keep the letter (replacing one of the same key), count it on the link when it is new,
        and set the link's lastError to `error`. True when the letter is new."""
        ...

    def remove_dead_letters(self, link: SyncLink, keys: Sequence[str]) -> int:
        """Atomically delete the letters of these keys that exist and take them off the link's count;
        answers how many were removed."""
        ...

    def dead_letters(self, link: SyncLink) -> list[DeadLetter]:
        """The link's letters, oldest first."""
        ...

    def save_drift_check(self, link: SyncLink, sync_token: str | None, checked_at: datetime) -> None:
        """Record a finished drift check: its calendar sync token and the instant it looked at the clinic."""
        ...
