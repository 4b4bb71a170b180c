"""The one place that wires adapters into services.

Each part is built on first use, so a function instance pays only for the clients it touches (a
webhook never loads the Calendar client). Tests pass hand-written fakes or test doubles as overrides:
`build_services(settings, clock=FixedClock(...), queue=InlineQueue(...))`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import cached_property
from typing import Any, cast

from shared import config, logs
from shared.config import Settings
from shared.ports import (
    AccountCalendars,
    CalendarConnector,
    ChannelIndex,
    ClinicDirectory,
    Clock,
    Links,
    Notifier,
    OAuthClient,
    OAuthStates,
    Repairs,
    SealedGrants,
    Secrets,
    SyncRecords,
    SyncStatus,
    TaskQueue,
    TokenCipher,
)
from shared.services.access import Access
from shared.services.channels import ChannelService
from shared.services.linking import LinkingService
from shared.services.pull import PullService
from shared.services.push import PushService
from shared.services.repair import RepairService
from shared.services.tasks import Tasks
from shared.services.upkeep import UpkeepService


class _OnFirstUse:
    """An adapter built when one of its attributes is first used, not when it is wired.

    Adapters that need a secret are wired into services that many functions share; each function's
    account may read only its own secrets (infra/functions.tf), so a secret is fetched only by the call
    that really uses it (sealing a grant, exchanging a code), never by the wiring.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = functools.cache(build)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._build(), name)


class Services:
    """Lazily built adapters and services; any attribute can be given as an override."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self.settings = settings
        unknown = set(overrides) - _PARTS
        if unknown:
            raise TypeError(f"unknown overrides: {sorted(unknown)}")
        self.__dict__.update(overrides)

    # --- adapters ----------------------------------------------------------------------------------
    @cached_property
    def db(self) -> Any:
        from google.cloud import firestore

        return firestore.Client(project=self.settings.project_id)

    @cached_property
    def secrets(self) -> Secrets:
        from shared.adapters.secrets import EnvSecrets, SecretManagerSecrets

        if self.settings.secrets_backend == "env":
            return EnvSecrets()
        return SecretManagerSecrets(self.settings.project_id)

    @cached_property
    def directory(self) -> ClinicDirectory:
        from shared.adapters.firestore.directory import FirestoreDirectory

        return FirestoreDirectory(self.db, cache_seconds=self.settings.cache_seconds)

    @cached_property
    def links(self) -> Links:
        from shared.adapters.firestore.links import FirestoreLinks

        return FirestoreLinks(self.db)

    @cached_property
    def grants(self) -> SealedGrants:
        from shared.adapters.firestore.sealed_grants import FirestoreSealedGrants

        return FirestoreSealedGrants(self.db, cache_seconds=self.settings.cache_seconds)

    @cached_property
    def repairs(self) -> Repairs:
        from shared.adapters.firestore.repairs import FirestoreRepairs

        return FirestoreRepairs(self.db)

    @cached_property
    def records(self) -> SyncRecords:
        from shared.adapters.firestore.sync_records import FirestoreSyncRecords

        return FirestoreSyncRecords(self.db)

    @cached_property
    def status(self) -> SyncStatus:
        from shared.adapters.firestore.sync_status import FirestoreSyncStatus

        return FirestoreSyncStatus(self.db)

    @cached_property
    def channel_index(self) -> ChannelIndex:
        from shared.adapters.firestore.channel_index import FirestoreChannelIndex

        return FirestoreChannelIndex(self.db, cache_seconds=self.settings.cache_seconds)

    @cached_property
    def states(self) -> OAuthStates:
        from shared.adapters.firestore.oauth_states import FirestoreOAuthStates

        return FirestoreOAuthStates(self.db)

    @cached_property
    def accounts(self) -> AccountCalendars:
        from shared.adapters.firestore.account_calendars import FirestoreAccountCalendars

        return FirestoreAccountCalendars(self.db)

    @cached_property
    def notifier(self) -> Notifier:
        from shared.adapters.firestore.notifier import FirestoreNotifier

        return FirestoreNotifier(self.db)

    @cached_property
    def oauth(self) -> OAuthClient:
        from shared.adapters.google_oauth import GoogleOAuth

        return GoogleOAuth(self.settings, lambda: self.secrets.get(config.SECRET_OAUTH_CLIENT_SECRET))

    @cached_property
    def calendars(self) -> CalendarConnector:
        from shared.adapters.google_calendar import GoogleCalendarConnector

        return cast(
            CalendarConnector,
            _OnFirstUse(
                lambda: GoogleCalendarConnector(
                    self.settings, self.secrets.get(config.SECRET_OAUTH_CLIENT_SECRET)
                )
            ),
        )

    @cached_property
    def cipher(self) -> TokenCipher:
        from shared.adapters.token_cipher import AesGcmCipher

        return cast(
            TokenCipher, _OnFirstUse(lambda: AesGcmCipher(self.secrets.get(config.SECRET_TOKEN_KEYS)))
        )

    @cached_property
    def queue(self) -> TaskQueue:
        from shared.adapters.cloud_tasks import CloudTasksQueue

        return CloudTasksQueue(self.settings)

    @cached_property
    def clock(self) -> Clock:
        from shared.adapters.clock import SystemClock

        return SystemClock()

    # --- services ----------------------------------------------------------------------------------
    @cached_property
    def access(self) -> Access:
        return Access(
            links=self.links,
            grants=self.grants,
            directory=self.directory,
            cipher=self.cipher,
            calendars=self.calendars,
            notifier=self.notifier,
            clock=self.clock,
            status=self.status,
        )

    @cached_property
    def linking(self) -> LinkingService:
        return LinkingService(
            settings=self.settings,
            directory=self.directory,
            links=self.links,
            grants=self.grants,
            states=self.states,
            accounts=self.accounts,
            oauth=self.oauth,
            access=self.access,
            cipher=self.cipher,
            notifier=self.notifier,
            tasks=self.tasks,
            clock=self.clock,
            channels=self.channels,
        )

    @cached_property
    def tasks(self) -> Tasks:
        return Tasks(self.settings, self.queue, self.clock)

    @cached_property
    def push(self) -> PushService:
        return PushService(
            settings=self.settings,
            directory=self.directory,
            links=self.links,
            records=self.records,
            status=self.status,
            repairs=self.repairs,
            access=self.access,
            tasks=self.tasks,
            clock=self.clock,
        )

    @cached_property
    def repair(self) -> RepairService:
        return RepairService(
            settings=self.settings,
            directory=self.directory,
            links=self.links,
            records=self.records,
            repairs=self.repairs,
            access=self.access,
            linking=self.linking,
            tasks=self.tasks,
            clock=self.clock,
        )

    @cached_property
    def pull(self) -> PullService:
        return PullService(
            settings=self.settings,
            directory=self.directory,
            links=self.links,
            records=self.records,
            status=self.status,
            access=self.access,
            push=self.push,
            tasks=self.tasks,
            clock=self.clock,
        )

    @cached_property
    def channels(self) -> ChannelService:
        return ChannelService(
            settings=self.settings,
            links=self.links,
            channel_index=self.channel_index,
            access=self.access,
            tasks=self.tasks,
            clock=self.clock,
            webhook_key=functools.cache(lambda: self.secrets.get(config.SECRET_WEBHOOK_KEY)),
        )

    @cached_property
    def upkeep(self) -> UpkeepService:
        return UpkeepService(channels=self.channels, linking=self.linking, push=self.push)


_PARTS = {name for name, value in vars(Services).items() if isinstance(value, cached_property)}


def build_services(settings: Settings | None = None, **overrides: Any) -> Services:
    """Wire the services for `settings` (default: from the environment), with parts replaced by overrides."""
    return Services(settings or Settings.from_env(), **overrides)


@functools.cache
def services() -> Services:
    """The process-wide services of a function instance, built from the environment on first use."""
    logs.configure()
    return build_services()
