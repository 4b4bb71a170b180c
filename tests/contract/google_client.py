"""What the contract tests of the fake Google share: event bodies, error reasons, listing, a webhook."""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError

APP_CREATED = "https://www.googleapis.com/auth/calendar.app.created"
FULL_CALENDAR = "https://www.googleapis.com/auth/calendar"
EMAIL = "pro@clinic.test"
START = {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Madrid"}
END = {"dateTime": "2026-03-02T09:30:00+01:00", "timeZone": "Europe/Madrid"}


def event(**fields: Any) -> dict[str, Any]:
    return {"summary": "Cita", "start": START, "end": END, **fields}


def reason(error: HttpError) -> str:
    body = json.loads(error.content)
    assert set(body["error"]) >= {"code", "message", "errors"}
    assert body["error"]["code"] == error.resp.status
    return str(body["error"]["errors"][0]["reason"])


def list_all(service: Resource, calendar_id: str, **params: Any) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    page_token = None
    while True:
        page = service.events().list(calendarId=calendar_id, pageToken=page_token, **params).execute()
        items += page["items"]
        page_token = page.get("nextPageToken")
        if not page_token:
            return items, page["nextSyncToken"]
        assert "nextSyncToken" not in page


class Receiver:
    """A webhook endpoint on a free port that records the headers of every notification."""

    def __init__(self) -> None:
        self.received: queue.Queue[dict[str, str]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received.put({**dict(self.headers.items()), "body": body.decode()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/calendar_webhook"

    def take(self, timeout: float = 5.0) -> dict[str, str]:
        return self.received.get(timeout=timeout)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
