"""The services wired with hand-written fakes, over the seed's demo clinic."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from shared.adapters.secrets import EnvSecrets
from shared.adapters.token_cipher import AesGcmCipher, new_keyring
from shared.bootstrap import Services, build_services
from shared.config import Settings
from shared.domain.clinic import Center, Clinic, Professional, User
from shared.ports import Grant
from shared.services.linking import SCOPE_CALENDAR
from tests.fakes import (
    FakeCalendars,
    FakeOAuth,
    FixedClock,
    MemoryDirectory,
    MemoryStore,
    RecordingNotifier,
    RecordingQueue,
)


@dataclass
class World:
    services: Services
    directory: MemoryDirectory
    store: MemoryStore
    oauth: FakeOAuth
    calendars: FakeCalendars
    queue: RecordingQueue
    notifier: RecordingNotifier
    clock: FixedClock

    def consent(
        self,
        code: str,
        email: str,
        scopes: frozenset[str] = frozenset({"openid", SCOPE_CALENDAR}),
        sub: str | None = None,
    ) -> None:
        """Script what Google gives for `code`; the refresh token names the account (one calendar each),
        whose `sub` is its e-mail's unless given (an e-mail change keeps the `sub`)."""
        self.oauth.grants[code] = Grant(f"refresh-{email}", "access", scopes, email, sub or f"sub-{email}")


def demo_directory() -> MemoryDirectory:
    d = MemoryDirectory()
    d.clinics["demo"] = Clinic("demo", "Clínica Demo")
    for center in ("centro-a", "centro-b"):
        d.centers[("demo", center)] = Center("demo", center, center, "Europe/Madrid")
    d.professionals[("demo", "marina")] = Professional("demo", "marina", "Marina Puig")
    d.professionals[("demo", "jordi")] = Professional("demo", "jordi", "Jordi Vila")
    d.users[("demo", "admin")] = User("demo", "admin", "admin@demo.test", "Admin", True, ())
    d.users[("demo", "pautrave")] = User("demo", "pautrave", "pau@demo.test", "Pau Trave", False, ("marina",))
    d.users[("demo", "marina")] = User("demo", "marina", "marina@demo.test", "Marina", False, ("marina",))
    d.users[("demo", "multi")] = User("demo", "multi", "multi@demo.test", "Multi", False, ("marina", "jordi"))
    d.clinics["other"] = Clinic("other", "Otra")
    d.centers[("other", "c1")] = Center("other", "c1", "c1", "Europe/Madrid")
    d.users[("other", "boss")] = User("other", "boss", "boss@other.test", "Boss", True, ())
    return d


@pytest.fixture
def world() -> World:
    directory, store, oauth = demo_directory(), MemoryStore(), FakeOAuth()
    clock = FixedClock()
    calendars, queue, notifier = FakeCalendars(clock), RecordingQueue(), RecordingNotifier()
    services = build_services(
        Settings(),
        directory=directory,
        **store.ports(),
        oauth=oauth,
        calendars=calendars,
        queue=queue,
        notifier=notifier,
        clock=clock,
        cipher=AesGcmCipher(new_keyring()),
        secrets=EnvSecrets({"SECRET_WEBHOOK_TOKEN_KEY": "unit-webhook-key"}),
    )
    return World(services, directory, store, oauth, calendars, queue, notifier, clock)
