"""The ports: what the services need from the outside world, as Protocols, one small module per concern.

Adapters in `shared/adapters/` implement them with Google's client libraries; tests pass hand-written
fakes through `bootstrap.build_services(**overrides)`, and tests/integration/ports/ holds each of our
storage ports to one contract, run against its memory fake and its Firestore adapter alike (see
docs/architecture.md, "Ports"). Every name is importable from `shared.ports`.
"""

from shared.ports import google
from shared.ports.account_calendars import AccountCalendars, KnownCalendar
from shared.ports.channel_index import ChannelIndex
from shared.ports.clinic import AgendaReader, ClinicDirectory
from shared.ports.google import *  # noqa: F403 - Google's side whole: its ports and every typed error
from shared.ports.links import Links, SealedGrants
from shared.ports.notices import Notice, Notifier
from shared.ports.oauth_states import HeldConsent, OAuthState, OAuthStates
from shared.ports.repairs import Repairs
from shared.ports.runtime import Clock, Secrets, TaskQueue, TokenCipher
from shared.ports.sync_records import SyncRecords
from shared.ports.sync_status import SyncStatus

__all__ = [
    *google.__all__,
    "AccountCalendars",
    "AgendaReader",
    "ChannelIndex",
    "ClinicDirectory",
    "Clock",
    "HeldConsent",
    "KnownCalendar",
    "Links",
    "Notice",
    "Notifier",
    "OAuthState",
    "OAuthStates",
    "Repairs",
    "SealedGrants",
    "Secrets",
    "SyncRecords",
    "SyncStatus",
    "TaskQueue",
    "TokenCipher",
]
