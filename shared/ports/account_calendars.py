"""The calendar this service created in each Google account for each clinic, remembered across links.

A calendar and the records of what we wrote there belong to one clinic: the same Google account linked at
two clinics gets one calendar per clinic, so that neither clinic ever reads the other's events.
"""

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
    """So that a redo of a clinic in the same Google account reuses its calendar instead of creating another."""

    def remembered_calendar(self, clinic_id: str, account: str) -> KnownCalendar | None:
        """What remember_calendar last stored for the clinic and the account, or None (another clinic's
        calendar in the same account is never answered)."""
        ...

    def remember_calendar(self, clinic_id: str, account: str, calendar: KnownCalendar) -> None:
        """Store (replace) the clinic's calendar in the account."""
        ...
