"""SealedGrants: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.errors import Conflict
from shared.domain.link import LinkStatus, SyncLink, email_key, link_keys, user_key
from tests.integration.ports.conftest import Backend, a_link

SEALED = {"v": 1, "kid": "k1", "nonce": "bm9uY2U=", "ct": "c2VhbGVk"}


def keys_of(link: SyncLink) -> dict[str, str]:
    """The keys a link claims, by the code of the conflict each one raises (as the linking service does)."""
    return {
        "email_already_linked": email_key(link.google_email or ""),
        "user_already_linked": user_key(link.clinic_id, link.user_id),
    }


def held(user_id: str, email: str, link_id: str, **fields: object) -> SyncLink:
    return a_link(link_id, user_id=user_id, google_email=email, status=LinkStatus.PENDING_APPROVAL, **fields)


def test_claim_holds_the_keys_stores_the_token_and_saves_the_link(backend: Backend) -> None:
    link = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(link, keys_of(link), SEALED)
    assert backend.links.get("demo", "l1") == link
    assert backend.grants.encrypted_token("l1") == SEALED
    rival = held("marina", "pau@gmail.test", "l2")
    with pytest.raises(Conflict) as refused:
        backend.grants.claim(rival, keys_of(rival), SEALED)
    assert refused.value.code == "email_already_linked"


def test_claim_refuses_a_key_held_by_another_link_and_writes_nothing(backend: Backend) -> None:
    first = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(first, keys_of(first), SEALED)
    # Same user, another Google account: the user's key is taken, the account's is free.
    second = held("pautrave", "other@gmail.test", "l2")
    with pytest.raises(Conflict) as refused:
        backend.grants.claim(second, keys_of(second), {"ct": "second"})
    assert refused.value.code == "user_already_linked"
    assert backend.links.get("demo", "l2") is None
    assert backend.grants.encrypted_token("l2") is None
    # The free key was not taken by the refused claim.
    third = held("marina", "other@gmail.test", "l3")
    backend.grants.claim(third, keys_of(third), SEALED)
    assert backend.links.get("demo", "l3") == third


def test_claim_again_of_keys_the_link_holds_is_allowed(backend: Backend) -> None:
    link = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(link, keys_of(link), SEALED)
    approved = replace(link, approved_by="admin")
    backend.grants.claim(approved, keys_of(approved), SEALED)
    assert backend.links.get("demo", "l1") == approved


def test_claim_without_a_token_stores_none(backend: Backend) -> None:
    link = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(link, keys_of(link), None)
    assert backend.grants.encrypted_token("l1") is None
    assert backend.links.get("demo", "l1") == link


def test_release_frees_the_keys_deletes_the_token_and_saves_the_ended_link(backend: Backend) -> None:
    link = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(link, keys_of(link), SEALED)
    assert backend.grants.encrypted_token("l1") == SEALED  # read once: an instance may keep it
    ended = replace(link, status=LinkStatus.DISABLED, reason="disabled_by_user")
    backend.grants.release(ended)
    assert backend.grants.encrypted_token("l1") is None
    assert backend.links.get("demo", "l1") == ended
    # Both keys are free again: the same user with the same Google account can link anew.
    redo = held("pautrave", "pau@gmail.test", "l2")
    backend.grants.claim(redo, keys_of(redo), SEALED)
    assert backend.grants.encrypted_token("l2") == SEALED


def test_release_never_frees_a_key_another_link_holds(backend: Backend) -> None:
    holder = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(holder, keys_of(holder), SEALED)
    # A link that failed before claiming anything, for the same user and account, ends.
    failed = a_link("l0", google_email="pau@gmail.test", status=LinkStatus.FAILED)
    backend.grants.release(failed)
    assert backend.grants.encrypted_token("l1") == SEALED
    rival = held("pautrave", "pau@gmail.test", "l2")
    with pytest.raises(Conflict):
        backend.grants.claim(rival, keys_of(rival), SEALED)


def test_release_of_a_link_without_a_google_account_frees_its_users_key(backend: Backend) -> None:
    link = a_link("l1", google_email=None, status=LinkStatus.PENDING_APPROVAL)
    backend.grants.claim(link, {"user_already_linked": user_key("demo", "pautrave")}, None)
    backend.grants.release(replace(link, status=LinkStatus.DISABLED))
    redo = held("pautrave", "pau@gmail.test", "l2")
    backend.grants.claim(redo, keys_of(redo), SEALED)
    assert backend.links.get("demo", "l2") == redo


def test_encrypted_token_is_none_for_an_unknown_link(backend: Backend) -> None:
    assert backend.grants.encrypted_token("nope") is None


def test_release_frees_the_accounts_sub_key(backend: Backend) -> None:
    link = held("pautrave", "old@gmail.test", "l1", google_sub="1001")
    backend.grants.claim(link, link_keys(link), SEALED)
    # The same account (its `sub`) under another e-mail is refused while the link holds it...
    renamed = held("marina", "new@gmail.test", "l2", google_sub="1001")
    with pytest.raises(Conflict) as refused:
        backend.grants.claim(renamed, link_keys(renamed), SEALED)
    assert refused.value.code == "account_already_linked"
    # ...and free once it ended.
    backend.grants.release(replace(link, status=LinkStatus.DISABLED))
    backend.grants.claim(renamed, link_keys(renamed), SEALED)
    assert backend.links.get("demo", "l2") == renamed


def test_holder_names_the_link_holding_a_key_until_it_is_released(backend: Backend) -> None:
    key = email_key("pau@gmail.test")
    assert backend.grants.holder(key) is None
    link = held("pautrave", "pau@gmail.test", "l1")
    backend.grants.claim(link, keys_of(link), SEALED)
    assert backend.grants.holder(key) == "l1"
    assert backend.grants.holder(user_key("demo", "pautrave")) == "l1"
    rival = held("marina", "pau@gmail.test", "l2")
    with pytest.raises(Conflict):
        backend.grants.claim(rival, keys_of(rival), SEALED)
    assert backend.grants.holder(key) == "l1"  # a refused claim takes nothing
    backend.grants.release(replace(link, status=LinkStatus.DISABLED))
    assert backend.grants.holder(key) is None
