"""In-memory state of the fake Google: accounts, OAuth grants and tokens, calendars, events, channels.

One `Store` per app. Every read-modify-write happens under `store.lock` (a re-entrant lock): the werkzeug
server is threaded and a batch request runs its parts on the thread of the outer request.

Events are never removed, only marked cancelled: the tombstones answer 409 on a repeated insert and come
back in incremental syncs. Each change to an event takes the next value of a store-wide `serial`; a sync
token remembers the serial it was issued at, so "changed since" is `event.serial > token.serial`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from . import ids, times

FULL_CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
APP_CREATED_SCOPE = "https://www.googleapis.com/auth/calendar.app.created"

# The client behind /_fake/token: the user acting in Google Calendar's own UI, not an API project.
UI_CLIENT_ID = "google-calendar-ui"


@dataclass
class Account:
    """A Google account; its primary calendar has the e-mail as id."""

    email: str
    sub: str


@dataclass
class Grant:
    """What one consent gave one client: scopes, and a refresh token when access was offline."""

    id: str
    client_id: str
    email: str
    scopes: frozenset[str]
    refresh_token: str | None
    revoked: bool = False


@dataclass
class AccessToken:
    """A bearer token; it dies with its grant or when it expires."""

    token: str
    grant_id: str
    email: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class AuthCode:
    """An authorization code waiting for its exchange at /token."""

    code: str
    client_id: str
    email: str
    redirect_uri: str
    scopes: frozenset[str]
    offline: bool
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass
class PendingAuthorization:
    """An /o/oauth2/v2/auth request between the account chooser, the consent page and the decision."""

    id: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    offline: bool
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    email: str | None = None


@dataclass
class CalendarRecord:
    """A calendar; `created_by_client` is the OAuth client that made it (None for primary calendars)."""

    id: str
    owner: str
    summary: str
    time_zone: str
    etag: str
    primary: bool = False
    created_by_client: str | None = None
    description: str | None = None
    location: str | None = None
    # The owner's calendar-list entry (calendarList.get/patch, or the user in Google's UI).
    hidden: bool = False
    selected: bool = True
    summary_override: str | None = None


@dataclass
class EventRecord:
    """An event as the API returns it (`resource`), the serial of its last change and its insertion order."""

    calendar_id: str
    resource: dict[str, Any]
    serial: int
    order: int

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"


@dataclass
class Channel:
    """A watch channel on one calendar's events."""

    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    client_id: str
    owner: str
    message_number: int = 0
    stopped: bool = False

    def live(self, at: float) -> bool:
        """Whether the channel still delivers notifications at that moment."""
        return not self.stopped and self.expiration_ms > at * 1000


@dataclass
class SyncToken:
    """What a nextSyncToken stands for: a calendar and the serial of the last change it has seen."""

    calendar_id: str
    serial: int
    owner: str


@dataclass
class PageCursor:
    """The rest of a paged events.list: the matching ids, frozen at the first page, and where we are."""

    calendar_id: str
    event_ids: list[str]
    offset: int
    as_of: int
    owner: str
    incremental: bool
    max_results: int
    show_full_cancelled: bool
    # events.instances pages belong to one series; events.list pages have none.
    series_id: str | None = None


@dataclass
class Store:
    """All state of one fake Google instance."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    accounts: dict[str, Account] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    pending: dict[str, PendingAuthorization] = field(default_factory=dict)
    calendars: dict[str, CalendarRecord] = field(default_factory=dict)
    events: dict[str, dict[str, EventRecord]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    sync_tokens: dict[str, SyncToken] = field(default_factory=dict)
    page_cursors: dict[str, PageCursor] = field(default_factory=dict)
    # E-mails Google would have sent to guests (guest_mail.py), oldest first.
    mails: list[dict[str, Any]] = field(default_factory=list)
    # Account e-mail -> the OAuth error its refresh tokens get (set through the admin API).
    refresh_failures: dict[str, str] = field(default_factory=dict)
    serial: int = 0
    default_time_zone: str = "UTC"

    def reset(self) -> None:
        """Forget everything (the lock stays: other threads may be waiting on it)."""
        with self.lock:
            for name in (
                "accounts",
                "grants",
                "access_tokens",
                "refresh_tokens",
                "codes",
                "pending",
                "calendars",
                "events",
                "channels",
                "sync_tokens",
                "page_cursors",
                "mails",
                "refresh_failures",
            ):
                getattr(self, name).clear()
            self.serial = 0

    def next_serial(self) -> int:
        """The next change number; every mutation of an event or calendar takes one."""
        with self.lock:
            self.serial += 1
            return self.serial

    def etag(self) -> str:
        """A fresh etag, quoted as Google quotes them (`"3412345678901000"`)."""
        return f'"{3_000_000_000_000_000 + self.next_serial() * 1000}"'

    # Accounts -----------------------------------------------------------------------------------------

    def ensure_account(self, email: str) -> Account:
        """The account for that e-mail, created with its primary calendar on first use."""
        email = email.strip().lower()
        with self.lock:
            account = self.accounts.get(email)
            if account is None:
                account = Account(email=email, sub=ids.numeric())
                self.accounts[email] = account
                self.calendars[email] = CalendarRecord(
                    id=email,
                    owner=email,
                    summary=email,
                    time_zone=self.default_time_zone,
                    etag=self.etag(),
                    primary=True,
                )
                self.events[email] = {}
            return account

    # Grants and tokens -------------------------------------------------------------------------------

    def create_grant(self, client_id: str, email: str, scopes: frozenset[str], offline: bool) -> Grant:
        """Record a consent; with offline access it carries a refresh token."""
        with self.lock:
            grant = Grant(
                id=ids.opaque("g-", 12),
                client_id=client_id,
                email=email,
                scopes=scopes,
                refresh_token=ids.opaque("1//", 32) if offline else None,
            )
            self.grants[grant.id] = grant
            if grant.refresh_token:
                self.refresh_tokens[grant.refresh_token] = grant.id
            return grant

    def issue_access_token(self, grant: Grant, ttl_seconds: int) -> AccessToken:
        """A new bearer token for that grant."""
        with self.lock:
            token = AccessToken(
                token=ids.opaque("ya29.", 32),
                grant_id=grant.id,
                email=grant.email,
                client_id=grant.client_id,
                scopes=grant.scopes,
                expires_at=times.now() + ttl_seconds,
            )
            self.access_tokens[token.token] = token
            return token

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant: its refresh token and every access token issued from it stop working."""
        with self.lock:
            grant = self.grants.get(grant_id)
            if grant is None:
                return
            grant.revoked = True
            for token in [t for t in self.access_tokens.values() if t.grant_id == grant_id]:
                del self.access_tokens[token.token]

    def revoke_account_grants(self, client_id: str, email: str) -> int:
        """What /revoke does with any one token: every live grant that account gave that client ends (its
        refresh token and its access tokens), not only the consent the token came from. How many ended."""
        with self.lock:
            live = [
                g
                for g in self.grants.values()
                if g.client_id == client_id and g.email == email and not g.revoked
            ]
            for grant in live:
                self.revoke_grant(grant.id)
            return len(live)

    def valid_access_token(self, token: str) -> AccessToken | None:
        """The live access token with that value, or None (unknown, expired or revoked)."""
        with self.lock:
            found = self.access_tokens.get(token)
            if found is None or found.expires_at <= times.now():
                return None
            grant = self.grants.get(found.grant_id)
            if grant is None or grant.revoked:
                return None
            return found

    # Calendars and events ------------------------------------------------------------------------------

    def calendar_events(self, calendar_id: str) -> dict[str, EventRecord]:
        """The events of a calendar by id (tombstones included)."""
        with self.lock:
            return self.events.setdefault(calendar_id, {})

    def snapshot(self) -> dict[str, Any]:
        """Everything worth seeing, as JSON-ready data (for GET /_fake/state)."""
        with self.lock:
            return {
                "accounts": [{"email": a.email, "sub": a.sub} for a in self.accounts.values()],
                "grants": [
                    {
                        "email": g.email,
                        "clientId": g.client_id,
                        "scopes": sorted(g.scopes),
                        "offline": g.refresh_token is not None,
                        "revoked": g.revoked,
                    }
                    for g in self.grants.values()
                ],
                "calendars": [
                    {
                        "id": c.id,
                        "owner": c.owner,
                        "summary": c.summary,
                        "timeZone": c.time_zone,
                        "primary": c.primary,
                        "createdByClient": c.created_by_client,
                        "hidden": c.hidden,
                        "selected": c.selected,
                    }
                    for c in self.calendars.values()
                ],
                "events": [
                    {"calendarId": record.calendar_id, **record.resource}
                    for calendar in self.events.values()
                    for record in sorted(calendar.values(), key=lambda r: r.order)
                ],
                "channels": [
                    {
                        "id": ch.id,
                        "resourceId": ch.resource_id,
                        "resourceUri": ch.resource_uri,
                        "calendarId": ch.calendar_id,
                        "address": ch.address,
                        "token": ch.token,
                        "expiration": str(ch.expiration_ms),
                        "stopped": ch.stopped,
                        "live": ch.live(times.now()),
                    }
                    for ch in self.channels.values()
                ],
                "mails": [dict(mail) for mail in self.mails],
                "refreshFailures": dict(self.refresh_failures),
            }
