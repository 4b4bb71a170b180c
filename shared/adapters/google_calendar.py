"""Google Calendar through google-api-python-client, with Google's errors translated once, here.

The discovery document is the one bundled with the library (no fetch at run time); the resources built
from it are built once per process and shared by every account's gateway; access tokens are cached per
grant so that a warm instance does not refresh on every call.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from cachetools import TLRUCache

from shared.config import Settings
from shared.domain.link import Channel
from shared.domain.planner import Insert, Nothing, Patch, PushAction
from shared.ports import (
    DAILY_QUOTA_REASONS,
    AdminBlocked,
    AlreadyExists,
    AuthRevoked,
    CalendarDeleted,
    ClientDeleted,
    EventPage,
    GoogleError,
    Permanent,
    PreconditionFailed,
    PushOutcome,
    RemoteMissing,
    SyncTokenExpired,
    Transient,
)

BATCH_SIZE = 50  # Google's advice for Calendar batches (the hard limit is 1000)
# Batches of one account in flight at once: a backfill of 2,000 events is 40 batches, and a batch's round
# trip is mostly waiting for Google. Few, so that one calendar is not written too fast (Google answers
# rateLimitExceeded to bursts of writes on one calendar).
BATCH_CONCURRENCY = 4
HTTP_TIMEOUT = 15
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "backendError", *DAILY_QUOTA_REASONS}
# OAuth errors of a refused token refresh, by whom they call to act. Google's OAuth guides name them:
# `admin_policy_enforced` (a Workspace administrator's API access policy), `org_internal` (an app limited
# to its own organization), `deleted_client` (the OAuth client was deleted), `unauthorized_client`.
ADMIN_REFUSALS = {"admin_policy_enforced", "org_internal"}
CLIENT_REFUSALS = {"deleted_client", "unauthorized_client"}


@functools.cache
def _discovery() -> dict[str, Any]:
    from importlib import resources

    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / "calendar.v3.json"
    return json.loads(path.read_text())


class _Unbound:
    """The http of the shared resources: none of their requests may run without its account's own."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a Calendar request must run with its gateway's http")


@functools.cache
def _resources(endpoint: str) -> dict[str, Any]:
    """The Calendar resources, built from the discovery document once per process and endpoint: building
    them took ~4 ms of CPU, and every task opens a gateway. Their requests are bound to a
    gateway's account by `_Bound`."""
    from googleapiclient.discovery import build_from_document

    api = build_from_document(_discovery(), http=_Unbound(), client_options={"api_endpoint": endpoint})
    return {
        "events": api.events(),
        "calendars": api.calendars(),
        "calendarList": api.calendarList(),
        "channels": api.channels(),
    }


class _Bound:
    """One shared resource whose requests run with one account's http (and, in a batch, its credentials)."""

    def __init__(self, resource: Any, http: Any) -> None:
        self._resource, self._http = resource, http

    def __getattr__(self, method: str) -> Callable[..., Any]:
        build = getattr(self._resource, method)

        def bound(**params: Any) -> Any:
            request = build(**params)
            request.http = self._http
            return request

        return bound


def _reason(content: bytes | str | None) -> str | None:
    try:
        error = json.loads(content or b"{}")["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(error, str):
        return error  # OAuth endpoints answer {"error": "invalid_grant"}
    errors = error.get("errors") or [{}]
    return errors[0].get("reason") or error.get("status")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def translate(exc: BaseException, *, listing: bool = False) -> GoogleError:
    """Google's failure as the typed error the services react to."""
    from google.auth.exceptions import RefreshError, TransportError
    from googleapiclient.errors import HttpError

    if isinstance(exc, GoogleError):
        return exc
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        reason = _reason(exc.content)
        message = f"Google answered {status} {reason or ''}".strip()
        if status == 401:
            return AuthRevoked(message, status, reason)
        if status == 429 or status >= 500 or (status == 403 and reason in RATE_REASONS):
            return Transient(message, status, reason)
        if status == 410 and listing:
            return SyncTokenExpired(message, status, reason)
        if status in (404, 410):
            return RemoteMissing(message, status, reason)
        if status == 409:
            return AlreadyExists(message, status, reason)
        if status == 412:
            return PreconditionFailed(message, status, reason)
        return Permanent(message, status, reason)
    if isinstance(exc, RefreshError):
        error = _refresh_error(exc)
        if error in ADMIN_REFUSALS:
            return AdminBlocked(f"Google refused the token refresh ({error})", 400, error)
        if error in CLIENT_REFUSALS:
            return ClientDeleted(f"Google refused the token refresh ({error})", None, error)
        if error == "invalid_grant":
            return AuthRevoked("Google refused the grant (invalid_grant)", 400, "invalid_grant")
        return Transient("token refresh failed", None, "refresh")
    if isinstance(exc, (TransportError, socket.timeout, TimeoutError, ConnectionError, OSError)):
        return Transient(f"network: {type(exc).__name__}", None, "network")
    return Permanent(f"unexpected: {type(exc).__name__}", None, "unexpected")


def _refresh_error(exc: BaseException) -> str | None:
    """The OAuth `error` of a refused refresh: google-auth passes the token endpoint's answer as the
    exception's second argument, and names the error first in its message."""
    answer = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return str(answer["error"])
    text = str(exc.args[0]) if exc.args else ""
    known = ADMIN_REFUSALS | CLIENT_REFUSALS | {"invalid_grant"}
    return next((error for error in sorted(known) if error in text), None)


# Access tokens an instance keeps: one per grant it served recently, far more than an instance holds at once.
TOKEN_CACHE_SIZE = 1024
# A token that came without an expiry is kept for the hour Google's access tokens live.
TOKEN_DEFAULT_SECONDS = 3600.0


def _token_expiry(_grant: str, kept: tuple[str, datetime | None], now: float) -> float:
    """When a kept access token is dropped: at its expiry (google-auth refreshes a little before it)."""
    expiry = kept[1]
    if expiry is None:
        return now + TOKEN_DEFAULT_SECONDS
    aware = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)  # google-auth's expiry is naive UTC
    return aware.timestamp()


class _TokenCache:
    """Access tokens by grant (keyed by a hash: no token is ever a key or a log field), each dropped when it
    expires and the least recently used first when the cache is full."""

    def __init__(self, timer: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._tokens: TLRUCache[str, tuple[str, datetime | None]] = TLRUCache(
            maxsize=TOKEN_CACHE_SIZE, ttu=_token_expiry, timer=timer
        )

    def get(self, grant: str) -> tuple[str, datetime | None] | None:
        with self._lock:
            return self._tokens.get(grant)

    def put(self, grant: str, token: str | None, expiry: datetime | None) -> None:
        if token:
            with self._lock:
                self._tokens[grant] = (token, expiry)


class GoogleCalendarConnector:
    """CalendarConnector: a gateway per grant, sharing the parsed discovery document and a token cache."""

    def __init__(self, settings: Settings, client_secret: str) -> None:
        self.settings = settings
        self.client_secret = client_secret
        self.tokens = _TokenCache()

    def connect(self, refresh_token: str) -> GoogleCalendarGateway:
        from google.oauth2.credentials import Credentials

        grant = hashlib.sha256(refresh_token.encode()).hexdigest()
        cached = self.tokens.get(grant)
        credentials = Credentials(
            token=cached[0] if cached else None,
            expiry=cached[1].replace(tzinfo=None) if cached and cached[1] else None,
            refresh_token=refresh_token,
            token_uri=self.settings.google.token_uri,
            client_id=self.settings.oauth_client_id,
            client_secret=self.client_secret,
        )
        return GoogleCalendarGateway(
            self.settings, credentials, lambda c: self.tokens.put(grant, c.token, c.expiry)
        )


class GoogleCalendarGateway:
    """CalendarGateway for one Google account."""

    def __init__(self, settings: Settings, credentials: Any, remember: Callable[[Any], None]) -> None:
        import google_auth_httplib2
        import httplib2

        self.settings = settings
        self.credentials = credentials
        self.remember = remember
        self.http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=HTTP_TIMEOUT))
        shared = _resources(settings.google.calendar_endpoint)
        self.events = _Bound(shared["events"], self.http)
        self.calendars = _Bound(shared["calendars"], self.http)
        self.calendar_list = _Bound(shared["calendarList"], self.http)
        self.channels = _Bound(shared["channels"], self.http)
        self._threads = threading.local()  # httplib2 connections are not thread-safe: one per thread

    def _run(self, request: Any, *, listing: bool = False) -> Any:
        try:
            # No retry here: a worker answers 503 and Cloud Tasks retries with backoff (one mechanism).
            return request.execute(num_retries=0)
        except Exception as exc:
            raise translate(exc, listing=listing) from None
        finally:
            self.remember(self.credentials)

    def create_calendar(self, summary: str, time_zone: str) -> str:
        created = self._run(self.calendars.insert(body={"summary": summary, "timeZone": time_zone}))
        return str(created["id"])

    def calendar_exists(self, calendar_id: str) -> bool:
        try:
            self._run(self.calendars.get(calendarId=calendar_id))
        except RemoteMissing:
            return False
        return True

    def calendar_shown(self, calendar_id: str) -> str:
        # calendarList.get is allowed with calendar.app.created for the calendars the app made. Google's
        # reference: `hidden` and `selected` are optional and false when absent.
        entry = self._on_calendar(calendar_id, self.calendar_list.get(calendarId=calendar_id))
        if entry.get("hidden"):
            return "hidden"
        return "shown" if entry.get("selected") else "unselected"

    def _on_calendar(self, calendar_id: str, request: Any, *, listing: bool = False) -> Any:
        """A call on one calendar's events; a 404 that the calendar itself answers is CalendarDeleted."""
        try:
            return self._run(request, listing=listing)
        except RemoteMissing as error:
            raise self._confirmed(calendar_id, error) from None

    def _confirmed(self, calendar_id: str, error: GoogleError) -> GoogleError:
        """A 404 of an event is about that event, unless calendars.get says the calendar is gone (a user
        who deletes a calendar gets 404 notFound on every call about it; one event's 404 must not end the
        link): one call, made only after a 404."""
        if not (isinstance(error, RemoteMissing) and error.status == 404):
            return error
        if self.calendar_exists(calendar_id):
            return error
        return CalendarDeleted("the calendar no longer exists", 404, "notFound")

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        event: dict[str, Any] = self._on_calendar(
            calendar_id, self.events.get(calendarId=calendar_id, eventId=event_id)
        )
        return event

    def _request(self, calendar_id: str, action: PushAction) -> Any:
        events = self.events
        if isinstance(action, Nothing):
            raise ValueError(f"nothing to send for {action!r}")
        # Google mails an event's guests only when asked (sendUpdates, default none): the guests a person
        # invited to an event made in Google hear of the clinic's changes; our own events have none.
        send_updates = "all" if action.tells_guests else "none"
        if isinstance(action, Insert):
            return events.insert(
                calendarId=calendar_id,
                body={**action.content.new_body(), "id": action.event_id},
                sendUpdates=send_updates,
            )
        if isinstance(action, Patch):
            # A patch, never an update: Google leaves the fields a patch does not name as they are, and
            # merges extendedProperties.private key by key, so what people typed in Google stays.
            request = events.patch(
                calendarId=calendar_id,
                eventId=action.event_id,
                body=action.body(),
                sendUpdates=send_updates,
            )
        else:
            request = events.delete(calendarId=calendar_id, eventId=action.event_id, sendUpdates=send_updates)
        if action.etag:
            request.headers["If-Match"] = action.etag
        return request

    def apply(self, calendar_id: str, actions: Sequence[PushAction]) -> list[PushOutcome]:
        outcomes = self._apply(calendar_id, actions)
        missing = [o for o in outcomes if isinstance(o.error, RemoteMissing) and o.error.status == 404]
        if not missing:
            return outcomes
        try:
            confirmed = self._confirmed(calendar_id, missing[0].error or RemoteMissing(""))
        except GoogleError:
            return outcomes  # the check itself failed: each 404 stays about its event
        if not isinstance(confirmed, CalendarDeleted):
            return outcomes
        return [PushOutcome(o.action, error=confirmed) if o in missing else o for o in outcomes]

    def _apply(self, calendar_id: str, actions: Sequence[PushAction]) -> list[PushOutcome]:
        if len(actions) == 1:
            action = actions[0]
            try:
                return [PushOutcome(action, event=self._run(self._request(calendar_id, action)) or None)]
            except GoogleError as error:
                return [PushOutcome(action, error=error)]
        chunks = [actions[start : start + BATCH_SIZE] for start in range(0, len(actions), BATCH_SIZE)]
        # The first batch goes alone: it refreshes the access token when needed, and the others share it.
        outcomes = self._batch(calendar_id, chunks[0], self.http)
        if len(chunks) > 1:
            with ThreadPoolExecutor(max_workers=min(BATCH_CONCURRENCY, len(chunks) - 1)) as pool:
                for answered in pool.map(
                    lambda chunk: self._batch(calendar_id, chunk, self._thread_http()), chunks[1:]
                ):
                    outcomes.extend(answered)
        return outcomes

    def _thread_http(self) -> Any:
        """This thread's own connection, authorized with the gateway's (shared) credentials."""
        http = getattr(self._threads, "http", None)
        if http is None:
            import google_auth_httplib2
            import httplib2

            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials, http=httplib2.Http(timeout=HTTP_TIMEOUT)
            )
            self._threads.http = http
        return http

    def _batch(self, calendar_id: str, actions: Sequence[PushAction], http: Any) -> list[PushOutcome]:
        from googleapiclient.http import BatchHttpRequest

        results: dict[str, PushOutcome] = {}

        def done(request_id: str, response: Any, exception: BaseException | None) -> None:
            action = actions[int(request_id)]
            if exception is not None:
                results[request_id] = PushOutcome(action, error=translate(exception))
            else:
                results[request_id] = PushOutcome(action, event=response or None)

        # Batch requests ignore api_endpoint: the batch URI is given explicitly.
        batch = BatchHttpRequest(callback=done, batch_uri=self.settings.google.batch_uri)
        for index, action in enumerate(actions):
            batch.add(self._request(calendar_id, action), request_id=str(index))
        try:
            batch.execute(http=http)
        except Exception as exc:
            error = translate(exc)
            return [PushOutcome(action, error=error) for action in actions]
        finally:
            self.remember(self.credentials)
        return [
            results.get(str(i)) or PushOutcome(a, error=Transient("no answer in batch"))
            for i, a in enumerate(actions)
        ]

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None,
        time_min: datetime | None,
        page_token: str | None,
        time_max: datetime | None = None,
    ) -> EventPage:
        params: dict[str, Any] = {
            "calendarId": calendar_id,
            "maxResults": self.settings.list_page_size,
            "pageToken": page_token,
            # Series come as their instances (each with recurringEventId and originalStartTime), one
            # appointment each; Google's reference allows singleEvents beside a sync token, and a token
            # must be used with the parameters of the list that gave it.
            "singleEvents": True,
        }
        if sync_token:
            params["syncToken"] = sync_token  # Google refuses timeMin and friends beside a sync token
        else:
            # A full sync must see cancellations too: one missed here would never come back incrementally.
            params["showDeleted"] = True
            if time_min is not None:
                params["timeMin"] = _rfc3339(time_min)
            if time_max is not None:
                params["timeMax"] = _rfc3339(time_max)
        answer = self._on_calendar(calendar_id, self.events.list(**params), listing=True)
        return EventPage(
            items=list(answer.get("items", [])),
            next_page_token=answer.get("nextPageToken"),
            next_sync_token=answer.get("nextSyncToken"),
        )

    def list_instances(
        self, calendar_id: str, series_id: str, time_min: datetime, time_max: datetime
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            request = self.events.instances(
                calendarId=calendar_id,
                eventId=series_id,
                timeMin=_rfc3339(time_min),
                timeMax=_rfc3339(time_max),
                maxResults=self.settings.list_page_size,
                pageToken=page_token,
            )
            # A 404 of a deleted calendar is CalendarDeleted (the link loses it), not a series gone.
            answer = self._on_calendar(calendar_id, request)
            found.extend(answer.get("items", []))
            page_token = answer.get("nextPageToken")
            if not page_token:
                return found

    def watch(self, calendar_id: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "params": {"ttl": str(ttl_seconds)},
        }
        answer = self._on_calendar(calendar_id, self.events.watch(calendarId=calendar_id, body=body))
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
        return Channel(id=answer["id"], resource_id=answer["resourceId"], expires_at=expires)

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        with contextlib.suppress(RemoteMissing):  # already stopped or expired
            self._run(self.channels.stop(body={"id": channel_id, "resourceId": resource_id}))
