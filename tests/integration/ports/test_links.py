"""Links: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from shared.domain.link import LinkStatus, SyncLink
from tests.integration.ports.conftest import T0, Backend, a_channel, a_link


def test_get_reads_back_the_whole_link_saved(backend: Backend) -> None:
    link = a_link(
        "l1",
        return_url="https://clinic.test/back",
        activated_at=T0,
        approved_by="admin",
        last_push_at=T0 + timedelta(minutes=1),
        last_pull_at=T0 + timedelta(minutes=2),
        last_error={"code": "quota", "message": "más tarde"},
        channel=a_channel("ch1", timedelta(days=7)),
        sync_token="tok-1",
        conflicts=2,
        reason="superseded",
        adopt_since=T0 - timedelta(days=1),
    )
    backend.links.save(link)
    assert backend.links.get("demo", "l1") == link


def test_get_is_none_for_an_unknown_link_or_another_clinic(backend: Backend) -> None:
    backend.links.save(a_link("l1"))
    assert backend.links.get("demo", "nope") is None
    assert backend.links.get("other", "l1") is None


def test_save_replaces_the_link(backend: Backend) -> None:
    link = a_link("l1", status=LinkStatus.PENDING_APPROVAL, last_error={"code": "x"})
    backend.links.save(link)
    ended = replace(link, status=LinkStatus.DISABLED, last_error=None, reason="disabled_by_user")
    backend.links.save(ended)
    assert backend.links.get("demo", "l1") == ended


def test_links_of_user_are_that_users_in_that_clinic_whatever_their_status_oldest_first(
    backend: Backend,
) -> None:
    newer = a_link("new", status=LinkStatus.ACTIVE, created_minutes=10)
    older = a_link("old", status=LinkStatus.FAILED, created_minutes=1)
    for link in (
        newer,
        older,
        a_link("someone-else", user_id="marina"),
        a_link("elsewhere", clinic_id="other"),
    ):
        backend.links.save(link)
    assert backend.links.links_of_user("demo", "pautrave") == [older, newer]
    assert backend.links.links_of_user("demo", "nobody") == []


def test_links_of_clinic_are_every_link_of_that_clinic_oldest_first(backend: Backend) -> None:
    links = [
        a_link("b", user_id="marina", status=LinkStatus.REJECTED, created_minutes=5),
        a_link("a", created_minutes=7),
        a_link("c", user_id="multi", status=LinkStatus.PENDING_OAUTH, created_minutes=2),
    ]
    for link in [*links, a_link("x", clinic_id="other")]:
        backend.links.save(link)
    assert [li.id for li in backend.links.links_of_clinic("demo")] == ["c", "b", "a"]
    assert backend.links.links_of_clinic("empty") == []


def test_active_links_of_professional_are_the_active_ones_of_both_kinds(backend: Backend) -> None:
    for link in (
        a_link("two-way"),
        a_link("one-way", user_id="marina", bidirectional=False),
        a_link("pending", user_id="multi", status=LinkStatus.PENDING_APPROVAL),
        a_link("lost", user_id="admin", status=LinkStatus.NEEDS_RECONNECT),
        a_link("jordi", user_id="jordi", professional_id="jordi"),
        a_link("elsewhere", clinic_id="other"),
    ):
        backend.links.save(link)
    found = backend.links.active_links_of_professional("demo", "marina")
    assert sorted(li.id for li in found) == ["one-way", "two-way"]


def test_links_awaiting_activation_are_approved_pending_links_whose_activation_waits(
    backend: Backend,
) -> None:
    waiting = {"code": "activation_pending", "message": "Google no responde"}
    for link in (
        a_link("waits", status=LinkStatus.PENDING_APPROVAL, approved_by="admin", last_error=waiting),
        a_link(
            "waits-elsewhere",
            clinic_id="other",
            status=LinkStatus.PENDING_APPROVAL,
            approved_by="boss",
            last_error=waiting,
        ),
        a_link("unapproved", user_id="marina", status=LinkStatus.PENDING_APPROVAL, last_error=waiting),
        a_link(
            "other-error",
            user_id="multi",
            status=LinkStatus.PENDING_APPROVAL,
            approved_by="admin",
            last_error={"code": "quota"},
        ),
        a_link("active", user_id="admin", approved_by="admin", last_error=waiting),
    ):
        backend.links.save(link)
    assert sorted(li.id for li in backend.links.links_awaiting_activation()) == ["waits", "waits-elsewhere"]


def test_active_links_and_active_two_way_links_are_those_of_every_clinic(backend: Backend) -> None:
    for link in (
        a_link("here"),
        a_link("there", clinic_id="other"),
        a_link("one-way", user_id="marina", bidirectional=False),
        a_link("ended", user_id="multi", status=LinkStatus.DISABLED),
        a_link("lost", user_id="admin", status=LinkStatus.NEEDS_RECONNECT),
    ):
        backend.links.save(link)
    assert sorted(li.id for li in backend.links.active_two_way_links()) == ["here", "there"]
    assert sorted(li.id for li in backend.links.active_links()) == ["here", "one-way", "there"]


def test_move_writes_what_change_answers_from_the_stored_link(backend: Backend) -> None:
    backend.links.save(a_link("l1", status=LinkStatus.PENDING_APPROVAL, approved_by=None))
    seen: list[LinkStatus] = []

    def approve(stored: SyncLink) -> SyncLink | None:
        seen.append(stored.status)
        return replace(stored, approved_by="admin") if not stored.approved_by else None

    moved, written = backend.links.move("demo", "l1", approve)
    assert written and moved is not None and moved.approved_by == "admin"
    assert backend.links.get("demo", "l1") == moved
    # Decided again on the stored link: nothing to write, the stored link answered.
    again, written = backend.links.move("demo", "l1", approve)
    assert not written and again == moved
    assert seen[-1] is LinkStatus.PENDING_APPROVAL
    assert backend.links.move("demo", "nope", approve) == (None, False)
    assert backend.links.move("other", "l1", approve) == (None, False)


def test_concurrent_moves_each_decide_on_the_link_as_stored(backend: Backend) -> None:
    backend.links.save(a_link("l1", status=LinkStatus.PENDING_APPROVAL, approved_by=None))
    start = threading.Barrier(4)
    outcomes: list[bool] = []

    def approve(master: str) -> None:
        start.wait()
        _, written = backend.links.move(
            "demo", "l1", lambda s: replace(s, approved_by=master) if not s.approved_by else None
        )
        outcomes.append(written)

    threads = [threading.Thread(target=approve, args=(f"m{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, True]
    stored = backend.links.get("demo", "l1")
    assert stored is not None and stored.approved_by in {"m0", "m1", "m2", "m3"}
