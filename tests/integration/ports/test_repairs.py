"""Repairs: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shared.domain.link import LinkStatus
from shared.domain.repair import DeadLetter, LostWork, letter_key
from tests.integration.ports.conftest import T0, Backend, a_link

LOST = T0 + timedelta(minutes=12)
ERROR = {"code": "dead_letter", "message": "push failed 10 attempts (retry_later)", "at": LOST.isoformat()}


def letter(appointment_id: str | None, kind: LostWork = LostWork.PUSH, minutes: int = 0) -> DeadLetter:
    return DeadLetter(kind, appointment_id, "retry_later", 10, LOST + timedelta(minutes=minutes))


def test_a_dead_letter_is_kept_counted_once_and_set_as_the_last_error(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0, sync_token="tok", conflicts=2)
    backend.links.save(link)
    assert backend.repairs.add_dead_letter(link, letter("a1"), ERROR) is True
    assert backend.repairs.add_dead_letter(link, letter("a2", minutes=1), ERROR) is True
    # The same appointment lost again replaces its letter and is not counted twice.
    assert backend.repairs.add_dead_letter(link, replace(letter("a1"), attempts=11), ERROR) is False
    assert backend.links.get("demo", "l1") == replace(link, last_error=ERROR, pending_failures=2)
    assert backend.repairs.dead_letters(link) == [replace(letter("a1"), attempts=11), letter("a2", minutes=1)]


def test_letters_of_a_backfill_and_a_pull_are_one_each(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    for _ in range(2):
        backend.repairs.add_dead_letter(link, letter(None, LostWork.BACKFILL), ERROR)
        backend.repairs.add_dead_letter(link, letter(None, LostWork.PULL, minutes=1), ERROR)
    found = backend.repairs.dead_letters(link)
    assert [lost.key for lost in found] == ["backfill", "pull"]
    assert backend.links.get("demo", "l1").pending_failures == 2  # type: ignore[union-attr]


def test_removing_letters_takes_only_those_that_exist_off_the_count(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    backend.repairs.add_dead_letter(link, letter("a1"), ERROR)
    backend.repairs.add_dead_letter(link, letter("a2"), ERROR)
    keys = [letter_key(LostWork.PUSH, "a1"), letter_key(LostWork.PUSH, "a9"), "backfill"]
    assert backend.repairs.remove_dead_letters(link, keys) == 1
    assert backend.repairs.remove_dead_letters(link, keys) == 0  # healed already: nothing twice
    assert backend.repairs.remove_dead_letters(link, []) == 0
    assert [lost.appointment_id for lost in backend.repairs.dead_letters(link)] == ["a2"]
    assert backend.links.get("demo", "l1").pending_failures == 1  # type: ignore[union-attr]


def test_letters_are_kept_per_link(backend: Backend) -> None:
    first, second = a_link("l1"), a_link("l2", user_id="other")
    backend.links.save(first)
    backend.links.save(second)
    backend.repairs.add_dead_letter(first, letter("a1"), ERROR)
    assert backend.repairs.dead_letters(second) == []
    assert backend.repairs.remove_dead_letters(second, [letter_key(LostWork.PUSH, "a1")]) == 0
    assert backend.links.get("demo", "l2") == second


def test_save_drift_check_records_its_token_and_time_and_touches_nothing_else(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0, sync_token="pull-token", last_error={"code": "quota"})
    backend.links.save(link)
    stale = replace(link, status=LinkStatus.DISABLED)  # what the caller holds may be old
    backend.repairs.save_drift_check(stale, "drift-token", LOST)
    assert backend.links.get("demo", "l1") == replace(
        link, drift_sync_token="drift-token", drift_checked_at=LOST
    )
    backend.repairs.save_drift_check(link, None, LOST + timedelta(minutes=30))
    assert backend.links.get("demo", "l1") == replace(
        link, drift_sync_token=None, drift_checked_at=LOST + timedelta(minutes=30)
    )
