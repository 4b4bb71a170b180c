"""The ports: what the services need from the outside world, as Protocols.

Adapters in `shared/adapters/` implement them with Google's client libraries; tests pass hand-written
fakes through `bootstrap.build_services(**overrides)`. Google's failures reach the services as the typed
errors below, translated once at the adapter, so that a service reacts to a kind, never to a status code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.domain.clinic import Appointment, Center, Clinic, Professional, User
from shared.domain.link import Channel, SyncLink
from shared.domain.planner import EventLink, PushAction


# --- Google's failures, by what the caller should do about them -------------------------------------
class GoogleError(Exception):
    """A call to Google failed; `reason` is Google's own word for it (never a token)."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class Transient(GoogleError):
    """Rate limits, 5xx, timeouts: try again later, with backoff."""

    @property
    def quota(self) -> bool:
        """Refused for a usage quota (403/429 rateLimitExceeded): only the quota's minute passing helps."""
        return self.status in (403, 429)


class AuthRevoked(GoogleError):
    """The grant is gone (invalid_grant, or 401 after a refresh): the user must reconnect."""


class RemoteMissing(GoogleError):
    """404/410: the calendar or event does not exist (any more)."""


class AlreadyExists(GoogleError):
    """409 on insert: an event with that id exists, possibly cancelled."""


class PreconditionFailed(GoogleError):
    """412: the event changed since the etag we hold."""


class SyncTokenExpired(GoogleError):
    """410 on an incremental list: start again with a full sync."""


class Permanent(GoogleError):
    """Any other 4xx: retrying will not help."""


# --- Google ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grant:
    """What a finished OAuth consent gave us."""

    refresh_token: str | None
    access_token: str
    scopes: frozenset[str]
    email: str


class OAuthClient(Protocol):
    def authorization_url(self, state: str) -> tuple[str, str]:
        """Google's consent URL for `state`, and the PKCE code verifier to keep for the callback."""
        ...

    def exchange(self, code: str, code_verifier: str) -> Grant:
        """Trade an authorization code for tokens and the account's e-mail."""
        ...

    def revoke(self, token: str) -> None:
        """Revoke a grant at Google (best effort)."""
        ...


@dataclass(frozen=True)
class EventPage:
    items: list[dict[str, Any]]
    next_page_token: str | None = None
    next_sync_token: str | None = None


@dataclass(frozen=True)
class PushOutcome:
    """What Google answered to one push action: the event it holds now, or the error."""

    action: PushAction
    event: dict[str, Any] | None = None
    error: GoogleError | None = None


class CalendarGateway(Protocol):
    """Google Calendar, acting as one Google account."""

    def create_calendar(self, summary: str, time_zone: str) -> str: ...

    def calendar_exists(self, calendar_id: str) -> bool: ...

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]: ...

    def apply(self, calendar_id: str, actions: Sequence[PushAction]) -> list[PushOutcome]:
        """Carry out push actions (in batch requests when there are several); never raises per action."""
        ...

    def list_events(
        self, calendar_id: str, *, sync_token: str | None, time_min: datetime | None, page_token: str | None
    ) -> EventPage:
        """Changes since `sync_token`, or (without one) every event from `time_min`, cancelled ones too."""
        ...

    def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str, ttl_seconds: int
    ) -> Channel: ...

    def stop_channel(self, channel_id: str, resource_id: str) -> None: ...


class CalendarConnector(Protocol):
    def connect(self, refresh_token: str) -> CalendarGateway:
        """A gateway acting with this grant (access tokens are refreshed, and cached, by the adapter)."""
        ...


# --- Our own state --------------------------------------------------------------------------------
@dataclass(frozen=True)
class OAuthState:
    """The single-use `state` of one consent round trip."""

    id: str
    clinic_id: str
    link_id: str
    code_verifier: str
    expires_at: datetime


@dataclass(frozen=True)
class KnownCalendar:
    """The calendar this service created in a Google account, and when it was last pulled."""

    calendar_id: str
    last_pull_at: datetime | None = None


@dataclass(frozen=True)
class Notice:
    """Something a clinic user must know: an in-app notification and an e-mail."""

    clinic_id: str
    user: User
    type: str
    link_id: str
    center_id: str
    subject: str
    text: str
    details: Mapping[str, str] = field(default_factory=dict)


class ClinicDirectory(Protocol):
    """The clinic app's documents, read-only except for the appointment writes of two-way links."""

    def clinic(self, clinic_id: str) -> Clinic | None: ...

    def center(self, clinic_id: str, center_id: str) -> Center | None: ...

    def professional(self, clinic_id: str, professional_id: str) -> Professional | None: ...

    def user(self, clinic_id: str, user_id: str) -> User | None: ...

    def masters(self, clinic_id: str) -> list[User]: ...

    def appointment(self, clinic_id: str, appointment_id: str) -> Appointment | None: ...

    def upcoming_appointments(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]: ...

    def write_appointment(self, appointment: Appointment, source_link_id: str) -> None:
        """Write a change that came from a linked Google calendar, marked with that link (syncSource)."""
        ...


class LinkStore(Protocol):
    """Our documents: links, their uniqueness keys, OAuth states, secrets, event links, channels."""

    def get(self, clinic_id: str, link_id: str) -> SyncLink | None: ...

    def save(self, link: SyncLink) -> None: ...

    def links_of_user(self, clinic_id: str, user_id: str) -> list[SyncLink]: ...

    def links_of_clinic(self, clinic_id: str) -> list[SyncLink]: ...

    def active_links_of_professional(self, clinic_id: str, professional_id: str) -> list[SyncLink]: ...

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        """Write a new link and its OAuth state together."""
        ...

    def take_state(self, state_id: str, now: datetime) -> OAuthState:
        """Consume a state once: NotFound when unknown, already used or expired."""
        ...

    def claim(
        self, link: SyncLink, keys: Mapping[str, str], encrypted_token: Mapping[str, Any] | None
    ) -> None:
        """Atomically: refuse if a key (code -> key) is held by another link, else hold the keys, store the
        encrypted refresh token and save the link. Raises Conflict with the key's code."""
        ...

    def release(self, link: SyncLink) -> None:
        """Atomically save an ended link, free the keys it held and delete its stored token."""
        ...

    def encrypted_token(self, link_id: str) -> Mapping[str, Any] | None: ...

    def remembered_calendar(self, account: str) -> KnownCalendar | None: ...

    def remember_calendar(self, account: str, calendar: KnownCalendar) -> None: ...

    def event_link(self, link: SyncLink, appointment_id: str) -> EventLink | None: ...

    def event_links_for(self, link: SyncLink, appointment_ids: Sequence[str]) -> dict[str, EventLink]:
        """The recorded event links of these appointments (those that have one), read together."""
        ...

    def event_link_by_event(self, link: SyncLink, event_id: str) -> EventLink | None: ...

    def record_event_links(
        self, link: SyncLink, event_links: Sequence[EventLink], pushed_at: datetime | None
    ) -> None:
        """Save event links, and the link's lastPushAt when given, in one write batch."""
        ...

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        """Record the link's last error, touching no other field."""
        ...

    def save_pull(self, link: SyncLink, sync_token: str | None, pulled_at: datetime, conflicts: int) -> None:
        """Record a finished pull: the new sync token, lastPullAt, and conflicts added to the count."""
        ...

    def save_channel(self, link: SyncLink, old: Channel | None) -> None:
        """Store the link's (new) channel and its index entry; drop the old channel's entry."""
        ...

    def channel_owner(self, channel_id: str) -> tuple[str, str] | None:
        """(clinicId, linkId) of a live channel, or None when unknown or stopped."""
        ...

    def links_to_renew(self, before: datetime) -> list[SyncLink]:
        """Active two-way links whose channel expires before `before`, or that have none."""
        ...

    def links_awaiting_activation(self) -> list[SyncLink]:
        """Approved links whose activation failed transiently."""
        ...

    def active_two_way_links(self) -> list[SyncLink]: ...


class Notifier(Protocol):
    def notify(self, notice: Notice) -> None: ...


class TokenCipher(Protocol):
    def encrypt(self, plaintext: str, context: str) -> dict[str, Any]: ...

    def decrypt(self, sealed: Mapping[str, Any], context: str) -> str: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class TaskQueue(Protocol):
    def enqueue(self, queue: str, name: str, payload: Mapping[str, Any], delay_seconds: float = 0) -> bool:
        """Schedule `payload` for the queue's worker under a deterministic task name.

        Returns False when a task of that name already exists (a duplicate delivery), True otherwise.
        """
        ...


class Secrets(Protocol):
    def get(self, name: str) -> str:
        """The latest value of a secret; raises KeyError when it does not exist."""
        ...
