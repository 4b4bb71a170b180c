"""OAuthStates: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.errors import ExpiredState, NotFound
from shared.domain.link import LinkStatus
from shared.ports import HeldConsent, OAuthState
from tests.integration.ports.conftest import T0, Backend, a_link


def a_state(state_id: str = "st1", ttl: timedelta = timedelta(minutes=10)) -> OAuthState:
    return OAuthState(state_id, "demo", "l1", "verifier-" + state_id, T0 + ttl)


def test_create_with_state_writes_the_link_and_its_state(backend: Backend) -> None:
    link = a_link("l1", status=LinkStatus.PENDING_OAUTH, google_email=None, calendar_id=None)
    state = a_state()
    backend.states.create_with_state(link, state)
    assert backend.links.get("demo", "l1") == link
    assert backend.states.take_state("st1", T0) == state


def test_take_state_is_single_use(backend: Backend) -> None:
    backend.states.create_with_state(a_link("l1", status=LinkStatus.PENDING_OAUTH), a_state())
    backend.states.take_state("st1", T0)
    with pytest.raises(NotFound) as second:
        backend.states.take_state("st1", T0)
    assert second.value.code == "invalid_state"


def test_take_state_refuses_and_consumes_an_expired_state(backend: Backend) -> None:
    backend.states.create_with_state(
        a_link("l1", status=LinkStatus.PENDING_OAUTH), a_state(ttl=timedelta(minutes=10))
    )
    with pytest.raises(NotFound) as expired:
        backend.states.take_state("st1", T0 + timedelta(minutes=10))  # expiry is exclusive
    assert expired.value.code == "invalid_state"
    # It still names its link, so the callback can send the person back to where the clinic app asked.
    assert isinstance(expired.value, ExpiredState)
    assert (expired.value.clinic_id, expired.value.link_id) == ("demo", "l1")
    with pytest.raises(NotFound):
        backend.states.take_state("st1", T0)  # gone, even for a clock that lags


def test_take_state_accepts_a_state_just_before_it_expires(backend: Backend) -> None:
    backend.states.create_with_state(a_link("l1", status=LinkStatus.PENDING_OAUTH), a_state())
    taken = backend.states.take_state("st1", T0 + timedelta(minutes=10) - timedelta(seconds=1))
    assert taken.code_verifier == "verifier-st1" and taken.link_id == "l1"


def test_take_state_refuses_an_unknown_state(backend: Backend) -> None:
    with pytest.raises(NotFound) as unknown:
        backend.states.take_state("never-issued", T0)
    assert unknown.value.code == "invalid_state"


def a_consent(link_id: str = "l1", code_hash: str = "h" * 64) -> HeldConsent:
    return HeldConsent(
        "demo", link_id, code_hash, T0 + timedelta(minutes=5), {"ct": "sealed"}, "pau@gmail.test", "1001"
    )


def test_create_state_writes_a_state_for_a_stored_link(backend: Backend) -> None:
    link = a_link("l1", status=LinkStatus.NEEDS_RECONNECT)
    backend.links.save(link)
    backend.states.create_state(a_state())
    assert backend.states.take_state("st1", T0).link_id == "l1"
    assert backend.links.get("demo", "l1") == link


def test_a_held_consent_is_taken_once_with_its_code(backend: Backend) -> None:
    consent = a_consent()
    backend.states.hold_consent(consent)
    # Another code, or another clinic, consumes nothing.
    for clinic, code_hash in (("demo", "x" * 64), ("other", consent.code_hash)):
        with pytest.raises(NotFound) as wrong:
            backend.states.take_consent(clinic, "l1", code_hash)
        assert wrong.value.code == "invalid_code"
    assert backend.states.take_consent("demo", "l1", consent.code_hash) == consent
    with pytest.raises(NotFound) as used:
        backend.states.take_consent("demo", "l1", consent.code_hash)
    assert used.value.code == "invalid_code"


def test_a_new_consent_replaces_the_one_the_link_held(backend: Backend) -> None:
    backend.states.hold_consent(a_consent(code_hash="a" * 64))
    backend.states.hold_consent(a_consent(code_hash="b" * 64))
    with pytest.raises(NotFound):
        backend.states.take_consent("demo", "l1", "a" * 64)
    assert backend.states.take_consent("demo", "l1", "b" * 64).code_hash == "b" * 64
