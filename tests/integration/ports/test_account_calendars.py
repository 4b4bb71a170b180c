"""AccountCalendars: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from datetime import timedelta

from shared.domain.link import account_key
from shared.ports import KnownCalendar
from tests.integration.ports.conftest import T0, Backend


def test_an_account_never_remembered_has_no_calendar(backend: Backend) -> None:
    assert backend.accounts.remembered_calendar("clinic-1", account_key("pau@gmail.test")) is None


def test_remember_calendar_stores_and_replaces_the_accounts_calendar(backend: Backend) -> None:
    account = account_key("pau@gmail.test")
    created = KnownCalendar("cal-1@group.calendar.google.com")
    backend.accounts.remember_calendar("clinic-1", account, created)
    assert backend.accounts.remembered_calendar("clinic-1", account) == created
    pulled = KnownCalendar("cal-1@group.calendar.google.com", last_pull_at=T0 + timedelta(hours=1))
    backend.accounts.remember_calendar("clinic-1", account, pulled)
    assert backend.accounts.remembered_calendar("clinic-1", account) == pulled
    assert backend.accounts.remembered_calendar("clinic-1", account_key("other@gmail.test")) is None


def test_each_clinic_remembers_its_own_calendar_in_a_shared_account(backend: Backend) -> None:
    account = account_key("pau@gmail.test")
    backend.accounts.remember_calendar("clinic-1", account, KnownCalendar("cal-1@group.calendar.google.com"))
    assert backend.accounts.remembered_calendar("clinic-2", account) is None
    backend.accounts.remember_calendar("clinic-2", account, KnownCalendar("cal-2@group.calendar.google.com"))
    assert backend.accounts.remembered_calendar("clinic-1", account) == KnownCalendar(
        "cal-1@group.calendar.google.com"
    )
    assert backend.accounts.remembered_calendar("clinic-2", account) == KnownCalendar(
        "cal-2@group.calendar.google.com"
    )
