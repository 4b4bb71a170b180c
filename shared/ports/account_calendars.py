"""The calendar this service created in each Google account, remembered across links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class KnownCalendar:
    """The calendar this service created in a Google account, and when it was last pulled."""

    calendar_id: str
    last_pull_at: datetime | None = None


class AccountCalendars(Protocol):
    """So that a redo in the same Google account reuses its calendar instead of creating another."""

    def remembered_calendar(self, account: str) -> KnownCalendar | None:
        """What remember_calendar last stored for the account, or None."""
        ...

    def remember_calendar(self, account: str, calendar: KnownCalendar) -> None:
        """Store (replace) the account's calendar."""
        ...
