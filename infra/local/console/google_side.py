"""The Google side of the console: a user's `DASI eCLINIC` calendar, as they would see and edit it.

The console acts as the user in Google Calendar's own UI: the fake Google's admin API (`/_fake/token`)
gives it that user's full-access token, and every read and edit goes through the Calendar API with the
real client library, so the fake notifies the watch channels exactly as it does for any other edit.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build_from_document
from googleapiclient.errors import HttpError

HTTP_TIMEOUT = 10
# Tokens from /_fake/token live an hour; minting a new one well before keeps every call simple.
TOKEN_REUSE_SECONDS = 30 * 60


class GoogleSideError(Exception):
    """The fake Google refused or could not be reached; the message is fit to show."""


@dataclass(frozen=True)
class GoogleEvent:
    """One event of the calendar, in the time zone it is shown in."""

    id: str
    summary: str
    start: datetime
    end: datetime
    time_zone: str
    # Set on the events the sync wrote: the clinic appointment the event mirrors.
    appointment_id: str | None
    # An all-day event: start and end are midnights in `time_zone` (the end is the day after the last).
    all_day: bool = False


class GoogleSide:
    """Reads and edits Google calendars as their owners, through the fake Google."""

    def __init__(self, google_url: str, calendar_name: str) -> None:
        self.google_url = google_url.rstrip("/")
        self.calendar_name = calendar_name
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    # --- accounts and calendars --------------------------------------------------------------------
    def accounts(self) -> list[str]:
        """Every Google account the fake knows (the consent page creates them on first use)."""
        state = self._admin("GET", "/_fake/state")
        return sorted(account["email"] for account in state.get("accounts", []))

    def calendar(self, email: str) -> dict[str, Any] | None:
        """The account's calendar named like ours (`DASI eCLINIC`), or None before a link creates it."""
        listing = self._call(email, lambda api: api.calendarList().list())
        for entry in listing.get("items", []):
            if entry.get("summary") == self.calendar_name:
                return dict(entry)
        return None

    # --- events ------------------------------------------------------------------------------------
    def events(self, email: str, calendar_id: str, since: datetime, until: datetime) -> list[GoogleEvent]:
        """Events of the calendar between two instants, as Google Calendar shows them (no cancelled ones)."""
        found: list[GoogleEvent] = []
        page_token: str | None = None
        while True:
            page = self._call(
                email,
                lambda api, token=page_token: api.events().list(
                    calendarId=calendar_id,
                    timeMin=since.isoformat(),
                    timeMax=until.isoformat(),
                    singleEvents=True,
                    orderBy="startTime",
                    pageToken=token,
                ),
            )
            for item in page.get("items", []):
                zone = str(page.get("timeZone") or "UTC")
                event = _event(item, zone) if item.get("status") != "cancelled" else None
                if event is not None:
                    found.append(event)
            page_token = page.get("nextPageToken")
            if not page_token:
                return found

    def event(self, email: str, calendar_id: str, event_id: str) -> GoogleEvent | None:
        """One event, or None when it does not exist or was deleted."""
        try:
            item = self._call(email, lambda api: api.events().get(calendarId=calendar_id, eventId=event_id))
        except GoogleSideError:
            return None
        return _event(item) if item.get("status") != "cancelled" else None

    def create(
        self,
        email: str,
        calendar_id: str,
        summary: str,
        start: datetime,
        end: datetime,
        time_zone: str,
        *,
        repeat: str | None = None,
        count: int = 1,
        all_day: bool = False,
    ) -> str:
        """Create an event as the user would in Google Calendar; returns its id.

        `repeat` ("DAILY" or "WEEKLY") with `count` makes a series of that many instances; `all_day` an
        all-day event on the start's days (Google's end date is the day after the last, exclusive).
        """
        body: dict[str, Any] = {"summary": summary}
        if all_day:
            zone = ZoneInfo(time_zone)
            first, last = start.astimezone(zone).date(), (end - timedelta(seconds=1)).astimezone(zone).date()
            body["start"] = {"date": first.isoformat()}
            body["end"] = {"date": (max(first, last) + timedelta(days=1)).isoformat()}
        else:
            body.update(_times(start, end, time_zone))
        if repeat in ("DAILY", "WEEKLY"):
            body["recurrence"] = [f"RRULE:FREQ={repeat};COUNT={max(1, min(count, 730))}"]
        created = self._call(email, lambda api: api.events().insert(calendarId=calendar_id, body=body))
        return str(created["id"])

    def move(
        self, email: str, calendar_id: str, event_id: str, start: datetime, end: datetime, time_zone: str
    ) -> None:
        """Drag the event to a new time (a patch of start and end only, as Google Calendar's UI does)."""
        body = _times(start, end, time_zone)
        self._call(email, lambda api: api.events().patch(calendarId=calendar_id, eventId=event_id, body=body))

    def delete(self, email: str, calendar_id: str, event_id: str) -> None:
        """Delete the event (Google keeps it as a cancelled tombstone for sync)."""
        self._call(email, lambda api: api.events().delete(calendarId=calendar_id, eventId=event_id))

    # --- plumbing ----------------------------------------------------------------------------------
    def _api(self, email: str, fresh: bool = False) -> Resource:
        return build_from_document(
            _discovery(),
            credentials=Credentials(token=self._token(email, fresh)),
            client_options={"api_endpoint": f"{self.google_url}/calendar/v3/"},
        )

    def _call(self, email: str, request: Any) -> dict[str, Any]:
        for fresh in (False, True):
            try:
                return request(self._api(email, fresh)).execute(num_retries=0) or {}
            except HttpError as exc:
                if exc.resp.status == 401 and not fresh:
                    continue  # the token was expired or revoked by the admin API: mint another once
                raise GoogleSideError(f"Google answered {exc.resp.status}: {exc.reason}") from None
            except OSError as exc:
                raise GoogleSideError(f"the fake Google is not reachable ({type(exc).__name__})") from None
        raise AssertionError("unreachable")

    def _token(self, email: str, fresh: bool) -> str:
        with self._lock:
            cached = self._tokens.get(email)
            if cached and not fresh and time.monotonic() - cached[1] < TOKEN_REUSE_SECONDS:
                return cached[0]
        answer = self._admin("POST", "/_fake/token", {"email": email})
        with self._lock:
            self._tokens[email] = (answer["access_token"], time.monotonic())
        return str(answer["access_token"])

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = requests.request(method, self.google_url + path, json=body, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise GoogleSideError(f"the fake Google is not reachable ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise GoogleSideError(f"the fake Google answered {response.status_code} to {path}")
        answer: dict[str, Any] = response.json()
        return answer


@functools.cache
def _discovery() -> dict[str, Any]:
    """The Calendar v3 discovery document bundled with the library, parsed once."""
    from importlib import resources

    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / "calendar.v3.json"
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _times(start: datetime, end: datetime, time_zone: str) -> dict[str, Any]:
    zone = ZoneInfo(time_zone)
    return {
        "start": {"dateTime": start.astimezone(zone).isoformat(), "timeZone": time_zone},
        "end": {"dateTime": end.astimezone(zone).isoformat(), "timeZone": time_zone},
    }


def _event(item: dict[str, Any], calendar_zone: str = "UTC") -> GoogleEvent | None:
    all_day = "date" in (item.get("start") or {})
    try:
        if all_day:
            zone = ZoneInfo(calendar_zone)
            start = datetime.combine(date.fromisoformat(item["start"]["date"]), datetime.min.time(), zone)
            end = datetime.combine(date.fromisoformat(item["end"]["date"]), datetime.min.time(), zone)
        else:
            start = datetime.fromisoformat(item["start"]["dateTime"])
            end = datetime.fromisoformat(item["end"]["dateTime"])
    except (KeyError, TypeError, ValueError):
        return None
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return GoogleEvent(
        id=str(item["id"]),
        summary=str(item.get("summary") or ""),
        start=start,
        end=end,
        time_zone=calendar_zone if all_day else str(item["start"].get("timeZone") or ""),
        appointment_id=private.get("appointmentId"),
        all_day=all_day,
    )
