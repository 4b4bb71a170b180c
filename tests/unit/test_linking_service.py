"""Linking, with fakes: each rule, each refusal, each status transition."""

from __future__ import annotations

import pytest

from shared.domain.errors import Conflict, DomainError, Forbidden, InvalidRequest, NotFound
from shared.domain.link import LinkStatus
from shared.services.linking import SCOPE_CALENDAR, CallbackRefused
from tests.unit.conftest import World


def start(world: World, user: str = "pautrave", center: str = "centro-b", **kw: object) -> tuple[str, str]:
    link, url = world.services.linking.start("demo", center, user, kw.get("professional"), True, None)  # type: ignore[arg-type]
    state = url.split("state=")[1]
    return link.id, state


def link_as(world: World, user: str, email: str, center: str = "centro-b", code: str | None = None):  # type: ignore[no-untyped-def]
    _, state = start(world, user, center)
    code = code or f"code-{user}"
    world.consent(code, email)
    return world.services.linking.complete(state, code, None)


def test_non_master_link_waits_for_the_master_who_is_told(world: World) -> None:
    result = link_as(world, "pautrave", "pau@gmail.com")
    assert result.link.status is LinkStatus.PENDING_APPROVAL
    assert result.link.google_email == "pau@gmail.com"
    [notice] = world.notifier.notices
    assert notice.user.id == "admin" and notice.type == "link_approval_requested"
    assert "pau@gmail.com" in notice.text and "Marina Puig" in notice.text and "centro-b" in notice.text
    assert world.queue.tasks == {}


def test_master_link_is_active_at_once_with_its_calendar_and_backfill(world: World) -> None:
    world.directory.users[("demo", "admin")] = world.directory.users[("demo", "admin")].__class__(
        "demo", "admin", "admin@demo.test", "Admin", True, ("marina",)
    )
    result = link_as(world, "admin", "admin@gmail.com", center="centro-a")
    link = result.link
    assert link.status is LinkStatus.ACTIVE and link.approved_by == "admin" and link.activated_at
    assert link.calendar_id in world.calendars.accounts["refresh-admin@gmail.com"].calendars
    assert [payload for _, payload in world.queue.tasks.values()] == [
        {"clinicId": "demo", "linkId": link.id, "backfill": True}
    ]
    assert world.notifier.notices == []


def test_approval_from_the_wrong_centre_is_refused_then_the_right_one_activates(world: World) -> None:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    with pytest.raises(Forbidden) as refused:
        world.services.linking.decide("demo", "centro-a", "admin", link.id, approve=True)
    assert refused.value.code == "wrong_center"
    assert world.store.links[link.id].status is LinkStatus.PENDING_APPROVAL
    active = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    assert active.status is LinkStatus.ACTIVE and active.approved_by == "admin"
    # A retry of the same decision answers the link as it is, doing nothing again; the other is refused.
    tasks = dict(world.queue.tasks)
    assert world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True) == active
    assert world.queue.tasks == tasks
    with pytest.raises(Conflict) as other:
        world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=False)
    assert other.value.code == "link_not_pending"


def test_non_master_cannot_approve_and_other_clinics_do_not_see_the_link(world: World) -> None:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    with pytest.raises(Forbidden) as not_master:
        world.services.linking.decide("demo", "centro-b", "marina", link.id, approve=True)
    assert not_master.value.code == "not_master"
    with pytest.raises(NotFound):
        world.services.linking.decide("other", "c1", "boss", link.id, approve=True)


def test_rejection_frees_the_account_and_tells_the_user(world: World) -> None:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    rejected = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=False)
    assert rejected.status is LinkStatus.REJECTED
    assert world.store.keys == {} and world.store.secrets == {}
    assert world.notifier.notices[-1].user.id == "pautrave"
    assert (
        link_as(world, "pautrave", "pau@gmail.com", code="again").link.status is LinkStatus.PENDING_APPROVAL
    )


def test_one_google_account_syncs_one_agenda(world: World) -> None:
    link_as(world, "pautrave", "shared@gmail.com")
    second = link_as(world, "marina", "Shared@Gmail.com")
    assert second.link.status is LinkStatus.FAILED and second.reason == "email_already_linked"
    assert world.services.grants.encrypted_token(second.link.id) is None


def test_a_user_syncs_one_agenda(world: World) -> None:
    link_as(world, "pautrave", "pau@gmail.com")
    with pytest.raises(Conflict) as refused:
        start(world, "pautrave")
    assert refused.value.code == "user_already_linked"


def test_user_must_be_linked_to_the_professional(world: World) -> None:
    with pytest.raises(Forbidden) as refused:
        world.services.linking.start("demo", "centro-a", "admin", None, False, None)
    assert refused.value.code == "user_not_linked_to_professional"
    with pytest.raises(Forbidden):
        world.services.linking.start("demo", "centro-a", "pautrave", "jordi", False, None)
    with pytest.raises(InvalidRequest) as several:
        world.services.linking.start("demo", "centro-a", "multi", None, False, None)
    assert several.value.code == "professional_required"
    link, _ = world.services.linking.start("demo", "centro-a", "multi", "jordi", False, None)
    assert link.professional_id == "jordi"


@pytest.mark.parametrize(
    ("clinic", "center", "user", "code"),
    [
        ("nope", "centro-a", "pautrave", "clinic_not_found"),
        ("demo", "nope", "pautrave", "center_not_found"),
        ("demo", "centro-a", "nope", "user_not_found"),
        ("other", "c1", "pautrave", "user_not_found"),
    ],
)
def test_unknown_ids_are_refused_and_nothing_is_written(
    world: World, clinic: str, center: str, user: str, code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        world.services.linking.start(clinic, center, user, None, False, None)
    assert refused.value.code == code
    assert world.store.links == {} and world.store.states == {}


def test_state_is_single_use_and_expires(world: World) -> None:
    _, state = start(world)
    world.consent("c1", "pau@gmail.com")
    world.services.linking.complete(state, "c1", None)
    with pytest.raises(NotFound) as replay:
        world.services.linking.complete(state, "c1", None)
    assert replay.value.code == "invalid_state"
    world.store.links.clear()  # a fresh attempt, left to expire
    world.store.keys.clear()
    _, late = start(world)
    world.clock.advance(minutes=11)
    with pytest.raises(CallbackRefused) as expired:
        world.services.linking.complete(late, "c2", None)
    assert (expired.value.code, expired.value.status, expired.value.return_url) == (
        "invalid_state",
        404,
        None,
    )


def test_denied_consent_and_missing_scope_fail_the_link(world: World) -> None:
    _link_id, state = start(world)
    denied = world.services.linking.complete(state, None, "access_denied")
    assert (denied.link.status, denied.reason) == (LinkStatus.FAILED, "access_denied")
    _, state = start(world)
    world.consent("partial", "pau@gmail.com", scopes=frozenset({"openid", "email"}))
    partial = world.services.linking.complete(state, "partial", None)
    assert partial.reason == "missing_scope" and world.store.keys == {}
    _, state = start(world)
    world.consent("full", "pau@gmail.com", scopes=frozenset({SCOPE_CALENDAR}))
    assert world.services.linking.complete(state, "full", None).link.status is LinkStatus.PENDING_APPROVAL


def test_disable_keeps_the_calendar_and_a_redo_adopts_it(world: World) -> None:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    active = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    with pytest.raises(NotFound):
        world.services.linking.disable("demo", "marina", link.id)  # someone else's link
    disabled = world.services.linking.disable("demo", "pautrave", link.id)
    assert disabled.status is LinkStatus.DISABLED
    assert world.store.secrets == {} and world.store.keys == {}
    redo = link_as(world, "pautrave", "pau@gmail.com", code="redo").link
    again = world.services.linking.decide("demo", "centro-b", "admin", redo.id, approve=True)
    assert again.calendar_id == active.calendar_id
    assert len(world.calendars.accounts["refresh-pau@gmail.com"].calendars) == 1


def test_list_links_own_for_users_all_for_masters(world: World) -> None:
    link_as(world, "pautrave", "pau@gmail.com")
    link_as(world, "marina", "marina@gmail.com")
    assert {li.user_id for li in world.services.linking.visible_links("demo", "pautrave")} == {"pautrave"}
    assert {li.user_id for li in world.services.linking.visible_links("demo", "admin")} == {
        "pautrave",
        "marina",
    }
    with pytest.raises(NotFound):
        world.services.linking.visible_links("other", "pautrave")
