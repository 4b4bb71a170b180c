"""Google's side: OAuth consent and Calendar, and Google's failures as typed errors.

Google's failures reach the services as the typed errors below, translated once at the adapter, so that a
service reacts to a kind, never to a status code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain.link import Channel
from shared.domain.planner import PushAction

__all__ = [
    "DAILY_QUOTA_REASONS",
    "AdminBlocked",
    "AlreadyExists",
    "AuthRevoked",
    "CalendarConnector",
    "CalendarDeleted",
    "CalendarGateway",
    "ClientDeleted",
    "EventPage",
    "GoogleError",
    "Grant",
    "OAuthClient",
    "Permanent",
    "PreconditionFailed",
    "PushOutcome",
    "RemoteMissing",
    "SyncTokenExpired",
    "Transient",
]


# --- Google's failures, by what the caller should do about them -------------------------------------
class GoogleError(Exception):
    """A call to Google failed; `reason` is Google's own word for it (never a token)."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


# Google's reasons for an allowance spent for the day or for hours, not the minute (Calendar's "Handle API
# errors" guide): 403 `dailyLimitExceeded` ("Daily Limit Exceeded": the project's courtesy limit is
# reached) and 403 `quotaExceeded` ("Calendar usage limits exceeded.": the user reached one of Calendar's
# usage limits). Both use the domain `usageLimits`.
DAILY_QUOTA_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded"})


class Transient(GoogleError):
    """Rate limits, 5xx, timeouts: try again later, with backoff."""

    @property
    def quota(self) -> bool:
        """Refused for a usage quota (403/429 rateLimitExceeded): only the quota's minute passing helps."""
        return self.status in (403, 429)

    @property
    def daily(self) -> bool:
        """Refused for a daily allowance (see DAILY_QUOTA_REASONS): minutes will not do, hours might."""
        return self.status == 403 and self.reason in DAILY_QUOTA_REASONS


class AuthRevoked(GoogleError):
    """The grant is gone (invalid_grant, or 401 after a refresh): the user must reconnect."""


class AdminBlocked(GoogleError):
    """Token refresh refused by the account's organization (`admin_policy_enforced`, `org_internal`): a
    Google Workspace administrator does not allow the app, and only they can change it."""


class ClientDeleted(GoogleError):
    """Token refresh refused because our OAuth client is gone or no longer allowed (`deleted_client`,
    `unauthorized_client`): no grant of it works until the operator restores the client."""


class CalendarDeleted(GoogleError):
    """The link's calendar no longer exists (the user deleted it): a 404 confirmed with calendars.get, or
    the watch channel's last `not_exists` notification."""


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
    # Google's stable account id (userinfo's `sub`); None only when Google did not answer one.
    subject: str | None = None


class OAuthClient(Protocol):
    def authorization_url(self, state: str) -> tuple[str, str]:
        """Google's consent URL for `state`, and the PKCE code verifier to keep for the callback."""
        ...

    def exchange(self, code: str, code_verifier: str) -> Grant:
        """Trade an authorization code for tokens and the account's e-mail and `sub`."""
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

    def calendar_shown(self, calendar_id: str) -> str:
        """How the calendar shows in the account's calendar list: `shown`, `hidden` or `unselected`."""
        ...

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]: ...

    def apply(self, calendar_id: str, actions: Sequence[PushAction]) -> list[PushOutcome]:
        """Carry out push actions (in batch requests when there are several); never raises per action."""
        ...

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None,
        time_min: datetime | None,
        page_token: str | None,
        time_max: datetime | None = None,
    ) -> EventPage:
        """Changes since `sync_token`, or (without one) every event between `time_min` and `time_max`,
        cancelled ones too. A page token must come with the same window as the request that gave it."""
        ...

    def list_instances(
        self, calendar_id: str, series_id: str, time_min: datetime, time_max: datetime
    ) -> list[dict[str, Any]]:
        """The series' instances (exceptions included, cancelled ones not) overlapping [time_min, time_max),
        every page; RemoteMissing when the series is gone."""
        ...

    def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str, ttl_seconds: int
    ) -> Channel: ...

    def stop_channel(self, channel_id: str, resource_id: str) -> None: ...


class CalendarConnector(Protocol):
    def connect(self, refresh_token: str) -> CalendarGateway:
        """A gateway acting with this grant (access tokens are refreshed, and cached, by the adapter)."""
        ...
