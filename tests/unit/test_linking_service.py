"""Linking, with fakes: each rule, each refusal, each status transition."""

from __future__ import annotations

import pytest

from shared.domain.errors import Conflict, DomainError, Forbidden, InvalidRequest, NotFound
from shared.domain.link import LinkStatus, SyncLink
from shared.ports import Grant
from shared.services.linking import SCOPE_CALENDAR, CallbackRefused, CallbackResult
from tests.unit.conftest import World


def start(world: World, user: str = "pautrave", center: str = "centro-b", **kw: object) -> tuple[str, str]:
    link, url = world.services.linking.start("demo", center, user, kw.get("professional"), True, None)  # type: ignore[arg-type]
    state = url.split("state=")[1]
    return link.id, state


def link_as(world: World, user: str, email: str, center: str = "centro-b", code: str | None = None):  # type: ignore[no-untyped-def]
    _, state = start(world, user, center)
    code = code or f"code-{user}"
    world.consent(code, email)
    return redeemed(world, world.services.linking.complete(state, code, None))


def redeemed(world: World, held: CallbackResult) -> CallbackResult:
    """The clinic app redeems the callback's one-time code for the user who started the link."""
    if held.code is None:
        return held
    link = held.link
    return world.services.linking.redeem(link.clinic_id, link.user_id, link.id, held.code)


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
    full = redeemed(world, world.services.linking.complete(state, "full", None))
    assert full.link.status is LinkStatus.PENDING_APPROVAL


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


# --- the consent is bound to the person who started the link -------------------------------------------
def held_consent(world: World, user: str, email: str, code: str, **consent: object) -> CallbackResult:
    _, state = start(world, user)
    world.consent(code, email, **consent)  # type: ignore[arg-type]
    return world.services.linking.complete(state, code, None)


def test_the_callback_holds_the_consent_and_only_its_user_redeems_the_code(world: World) -> None:
    held = held_consent(world, "pautrave", "stranger@gmail.com", "c1")
    assert held.code and held.reason is None
    # Nothing counts yet: no key held, no token stored, nobody told, the link still waits.
    assert held.link.status is LinkStatus.PENDING_OAUTH
    assert world.store.keys == {} and world.store.secrets == {} and world.notifier.notices == []
    assert held.code not in str(world.store.consents)  # only its hash is kept
    # Another user of the clinic (whoever's session the leaked URL's browser lands in) cannot redeem it.
    for user in ("marina", "admin"):
        with pytest.raises(NotFound) as refused:
            world.services.linking.redeem("demo", user, held.link.id, held.code)
        assert refused.value.code == "link_not_found"
    with pytest.raises(NotFound) as wrong:
        world.services.linking.redeem("demo", "pautrave", held.link.id, "not-the-code")
    assert wrong.value.code == "invalid_code"
    # The user who started it does, once.
    done = world.services.linking.redeem("demo", "pautrave", held.link.id, held.code)
    assert (
        done.link.status is LinkStatus.PENDING_APPROVAL and done.link.google_sub == "sub-stranger@gmail.com"
    )
    with pytest.raises(NotFound) as used:
        world.services.linking.redeem("demo", "pautrave", held.link.id, held.code)
    assert used.value.code == "invalid_code"


def test_an_expired_code_fails_the_link_and_revokes_the_grant(world: World) -> None:
    held = held_consent(world, "pautrave", "pau@gmail.com", "c1")
    assert held.code
    world.clock.advance(seconds=world.services.settings.link_code_ttl_seconds)
    late = world.services.linking.redeem("demo", "pautrave", held.link.id, held.code)
    assert (late.link.status, late.reason) == (LinkStatus.FAILED, "code_expired")
    assert world.oauth.revoked == ["refresh-pau@gmail.com"] and world.store.keys == {}


def test_a_refused_consent_revokes_what_google_granted(world: World) -> None:
    link_as(world, "pautrave", "pau@gmail.com")
    taken = link_as(world, "marina", "pau@gmail.com", code="c2")  # the account already syncs an agenda
    assert (taken.link.status, taken.reason) == (LinkStatus.FAILED, "email_already_linked")
    # Not revoked: Google would end the whole grant of the account, the first link's token with it.
    assert world.oauth.revoked == []
    partial = held_consent(world, "marina", "marina@gmail.com", "c3", scopes=frozenset({"openid"}))
    assert partial.reason == "missing_scope"
    assert world.oauth.revoked == ["refresh-marina@gmail.com"]


def test_a_refused_consent_of_an_account_held_by_sub_only_is_not_revoked(world: World) -> None:
    first = link_as(world, "pautrave", "old@gmail.com").link
    world.consent("c2", "new@gmail.com", sub="sub-old@gmail.com")  # the same account, renamed
    _, state = start(world, "marina")
    refused = redeemed(world, world.services.linking.complete(state, "c2", None))
    assert refused.reason == "email_already_linked"  # its `sub` key held: told as the e-mail's
    assert world.oauth.revoked == [] and world.store.links[first.id].holds_keys


def test_disable_and_reject_revoke_the_grant(world: World) -> None:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    world.services.linking.disable("demo", "pautrave", link.id)
    assert world.oauth.revoked == ["refresh-pau@gmail.com"]
    other = link_as(world, "marina", "marina@gmail.com").link
    world.services.linking.decide("demo", "centro-b", "admin", other.id, approve=False)
    assert world.oauth.revoked == ["refresh-pau@gmail.com", "refresh-marina@gmail.com"]
    assert world.store.secrets == {}


def test_the_same_account_under_a_new_email_keeps_its_keys(world: World) -> None:
    first = link_as(world, "pautrave", "old@gmail.com").link
    world.consent("c2", "new@gmail.com", sub="sub-old@gmail.com")  # the same account, renamed
    _, state = start(world, "marina")
    second = redeemed(world, world.services.linking.complete(state, "c2", None))
    assert (second.link.status, second.reason) == (LinkStatus.FAILED, "email_already_linked")
    assert world.store.links[first.id].status is LinkStatus.PENDING_APPROVAL


# --- reconnecting a link ---------------------------------------------------------------------------------
def needing_reconnect(world: World) -> SyncLink:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    active = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    world.store.update(active, status=LinkStatus.NEEDS_RECONNECT, channel=None)
    world.queue.take()
    return world.store.links[link.id]


def reconnect(
    world: World, user: str, link_id: str, email: str, code: str, **consent: object
) -> CallbackResult:
    _, url = world.services.linking.start("demo", "centro-b", user, None, True, None, reconnect=link_id)
    world.consent(code, email, **consent)  # type: ignore[arg-type]
    held = world.services.linking.complete(url.split("state=")[1], code, None)
    assert held.code, held
    return world.services.linking.redeem("demo", user, link_id, held.code)


def test_the_same_user_and_account_repair_a_link_in_place(world: World) -> None:
    broken = needing_reconnect(world)
    notices = len(world.notifier.notices)
    repaired = reconnect(world, "pautrave", broken.id, "pau@gmail.com", "again")
    assert repaired.reason is None and repaired.link.id == broken.id
    assert repaired.link.status is LinkStatus.ACTIVE and repaired.link.calendar_id == broken.calendar_id
    assert repaired.link.approved_by == "admin" and len(world.notifier.notices) == notices  # no new approval
    assert len(world.calendars.accounts["refresh-pau@gmail.com"].calendars) == 1
    assert len(world.store.links) == 1


def test_another_account_or_user_cannot_repair_a_link(world: World) -> None:
    broken = needing_reconnect(world)
    other = reconnect(world, "pautrave", broken.id, "someone@gmail.com", "other")
    assert (other.link.status, other.reason) == (LinkStatus.NEEDS_RECONNECT, "other_account")
    assert world.oauth.revoked == ["refresh-someone@gmail.com"]
    assert world.store.links[broken.id] == broken
    with pytest.raises(NotFound):
        world.services.linking.start("demo", "centro-b", "marina", None, True, None, reconnect=broken.id)
    active = link_as(world, "marina", "marina@gmail.com").link
    with pytest.raises(Conflict) as not_broken:
        world.services.linking.start("demo", "centro-b", "marina", None, True, None, reconnect=active.id)
    assert not_broken.value.code == "link_not_reconnectable"


# --- races ---------------------------------------------------------------------------------------------
def test_a_disable_during_activation_is_not_undone(world: World) -> None:
    link = link_as(world, "pautrave", "pau@gmail.com").link
    google = world.calendars.connect("refresh-pau@gmail.com")
    create = google.create_calendar

    def disabled_meanwhile(summary: str, time_zone: str) -> str:
        world.services.linking.disable("demo", "pautrave", link.id)
        return create(summary, time_zone)

    google.create_calendar = disabled_meanwhile  # type: ignore[method-assign]
    answered = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    assert answered.status is LinkStatus.DISABLED
    assert world.store.links[link.id].status is LinkStatus.DISABLED
    assert world.queue.tasks == {}  # no backfill for a disabled link
    assert world.store.keys == {} and world.store.secrets == {}


def test_an_email_change_keeps_the_accounts_calendar(world: World) -> None:
    link = link_as(world, "pautrave", "old@gmail.com").link
    active = world.services.linking.decide("demo", "centro-b", "admin", link.id, approve=True)
    world.services.linking.disable("demo", "pautrave", link.id)
    # The same Google account (same `sub`, same calendars) now answers another e-mail.
    world.oauth.grants["renamed"] = Grant(
        "refresh-old@gmail.com", "access", frozenset({SCOPE_CALENDAR}), "new@gmail.com", "sub-old@gmail.com"
    )
    _, state = start(world)
    redo = redeemed(world, world.services.linking.complete(state, "renamed", None)).link
    again = world.services.linking.decide("demo", "centro-b", "admin", redo.id, approve=True)
    assert again.google_email == "new@gmail.com" and again.calendar_id == active.calendar_id
    assert len(world.calendars.accounts["refresh-old@gmail.com"].calendars) == 1
