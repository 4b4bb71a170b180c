"""Wiring reads no secret: each is fetched by the call that uses it, so that a function granted only some
secrets (infra/functions.tf) never asks for another. And the local identity tokens the front door checks."""

from __future__ import annotations

import pytest

from infra.local.identity import InvalidToken, mint, verify
from shared.adapters.token_cipher import new_keyring
from shared.bootstrap import Services, build_services
from shared.config import SECRET_OAUTH_CLIENT_SECRET, SECRET_TOKEN_KEYS, SECRET_WEBHOOK_KEY, Settings
from tests.fakes import FixedClock, MemoryDirectory, MemoryStore, RecordingNotifier, RecordingQueue


class GrantedSecrets:
    """The secrets one function's account may read; asking for another fails, as Secret Manager refuses."""

    def __init__(self, **granted: str) -> None:
        self.granted = granted
        self.asked: list[str] = []

    def get(self, name: str) -> str:
        self.asked.append(name)
        if name not in self.granted:
            raise KeyError(f"secret {name} is not granted")
        return self.granted[name]


def wired(secrets: GrantedSecrets) -> Services:
    return build_services(
        Settings(),
        secrets=secrets,
        directory=MemoryDirectory(),
        **MemoryStore().ports(),
        queue=RecordingQueue(),
        notifier=RecordingNotifier(),
        clock=FixedClock(),
    )


def test_wiring_every_service_reads_no_secret() -> None:
    secrets = GrantedSecrets()
    services = wired(secrets)

    assert services.linking and services.push and services.pull and services.channels and services.access
    assert secrets.asked == []


def test_the_consent_url_needs_no_secret_and_the_code_exchange_reads_the_client_secret() -> None:
    secrets = GrantedSecrets()
    services = wired(secrets)

    url, verifier = services.oauth.authorization_url("state-1")
    assert "state=state-1" in url and verifier
    assert secrets.asked == []


def test_the_keyring_is_read_when_a_grant_is_sealed() -> None:
    secrets = GrantedSecrets(**{SECRET_TOKEN_KEYS: new_keyring()})
    services = wired(secrets)

    sealed = services.cipher.encrypt("refresh-token", "link-1")
    assert services.cipher.decrypt(sealed, "link-1") == "refresh-token"
    assert secrets.asked == [SECRET_TOKEN_KEYS]  # once, then kept


def test_a_secret_that_is_not_granted_fails_where_it_is_used() -> None:
    secrets = GrantedSecrets(**{SECRET_WEBHOOK_KEY: "k"})
    services = wired(secrets)

    assert services.channels.token_for("channel-1")
    with pytest.raises(KeyError):
        services.cipher.encrypt("refresh-token", "link-1")
    with pytest.raises(KeyError):
        services.calendars.connect("refresh-token")
    assert SECRET_OAUTH_CLIENT_SECRET in secrets.asked


def test_identity_tokens_name_their_account_for_one_audience_until_they_expire() -> None:
    token = mint("key", "tasks@p.iam.gserviceaccount.com", "http://h/push_worker", now=1000)

    assert verify("key", token, "http://h/push_worker", now=1000) == "tasks@p.iam.gserviceaccount.com"
    for key, audience, now in (
        ("other-key", "http://h/push_worker", 1000),
        ("key", "http://h/pull_worker", 1000),
        ("key", "http://h/push_worker", 1000 + 3601),
    ):
        with pytest.raises(InvalidToken):
            verify(key, token, audience, now=now)
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidToken):
        verify("key", f"{header}.{payload[:-2]}AA.{signature}", "http://h/push_worker", now=1000)
    with pytest.raises(InvalidToken):
        verify("key", "not-a-token", "http://h/push_worker", now=1000)
