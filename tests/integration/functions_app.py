"""Every entry point as deployed, in this process: functions-framework's own apps on the Firestore emulator,
an in-process fake Google and the Cloud Tasks emulator, configured through the environment.

The functions' own URL (FUNCTIONS_BASE_URL) is a `TaskReceiver`: what Cloud Tasks delivers to the workers
and what the fake Google sends to the webhook is recorded there, not run, so each test decides what runs.

Used by test_entry_points.py, test_security.py and test_openapi.py; each builds its fixtures with
`deployed(...)`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import functions_framework
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from google.cloud import firestore as firestore_lib
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import TestResponse

import main
from functions.messages import ERRORS
from infra.local.demo_data import write_demo_data
from infra.local.environment import HOST, LocalPorts, functions_environment
from infra.local.fake_google import RunningServer
from infra.local.functions_server import SOURCE, build_app
from shared.bootstrap import services

HTTP_FUNCTIONS = sorted(name for name, kind in main.ENTRY_POINTS.items() if kind == "http")


@dataclass(frozen=True)
class Delivery:
    """One POST the functions' URL received: a Cloud Tasks task or a Google watch notification."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class TaskReceiver:
    """Stands at FUNCTIONS_BASE_URL: records every POST (tasks for the workers, notifications) and answers 200."""

    def __init__(self) -> None:
        self._received: queue.Queue[Delivery] = queue.Queue()
        received = self._received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.put(Delivery(urlsplit(self.path).path, headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="task-receiver", daemon=True)
        self._thread.start()

    def clear(self) -> None:
        while not self._received.empty():
            self._received.get_nowait()

    def wait_for(self, path: str, payload: Any = None, timeout: float = 10.0) -> Delivery:
        """The next delivery to `path` (with this JSON `payload`, when given); others are dropped.

        AssertionError when none comes within `timeout`.
        """
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                delivery = self._received.get(timeout=left)
            except queue.Empty:
                break
            if delivery.path == path and (payload is None or delivery.json() == payload):
                return delivery
        raise AssertionError(f"nothing delivered to {path} within {timeout} s ({payload})")

    def deliveries(self, wait: float = 1.0) -> list[Delivery]:
        """Everything delivered within the next `wait` seconds (and before)."""
        time.sleep(wait)
        got = []
        while not self._received.empty():
            got.append(self._received.get_nowait())
        return got

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def firestore_dump(db: firestore_lib.Client) -> dict[str, tuple[Any, Any]]:
    """Every document of the database: path -> (data, update time). Equal dumps mean nothing was written."""
    dump: dict[str, tuple[Any, Any]] = {}

    def walk(collections: Iterator[firestore_lib.CollectionReference]) -> None:
        for collection in collections:
            for snapshot in collection.stream():
                dump[snapshot.reference.path] = (snapshot.to_dict(), snapshot.update_time)
                walk(snapshot.reference.collections())
            # Documents that exist only as parents of subcollections.
            for ref in collection.list_documents():
                if ref.path not in dump:
                    walk(ref.collections())

    walk(db.collections())
    return dump


@dataclass
class Deployed:
    """The deployed functions, and what a test needs to play the clinic app, Google and Cloud Tasks."""

    db: firestore_lib.Client
    google: RunningServer
    receiver: TaskReceiver
    environment: dict[str, str]
    _clients: dict[str, FlaskClient] = field(default_factory=dict)

    # --- the functions --------------------------------------------------------------------------------
    def client(self, function: str) -> FlaskClient:
        """functions-framework's own app for `function`, as its Cloud Functions instance serves it."""
        if function not in self._clients:
            kind = main.ENTRY_POINTS[function]
            app: Flask = functions_framework.create_app(
                target=function, source=str(SOURCE), signature_type=kind
            )
            self._clients[function] = app.test_client()
        return self._clients[function]

    @cached_property
    def wsgi(self) -> DispatcherMiddleware:
        """Every function under `/{name}` in one WSGI app, as the local functions server serves them."""
        return build_app()

    def post(self, function: str, body: Any = None, **kwargs: Any) -> TestResponse:
        if body is not None:
            kwargs["json"] = body
        return self.client(function).post("/", **kwargs)

    def get(self, function: str, query: dict[str, str] | str | None = None, **kwargs: Any) -> TestResponse:
        return self.client(function).get("/", query_string=query, **kwargs)

    # --- the clinic user at Google's consent page -----------------------------------------------------
    def start(
        self, user: str = "pautrave", center: str = "centro-b", clinic: str = "demo", **extra: Any
    ) -> dict:
        """oauth_start for a clinic user; answers {linkId, authorizationUrl}."""
        body = {"clinicId": clinic, "centerId": center, "userId": user, "bidirectional": True, **extra}
        answer = self.post("oauth_start", body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        started: dict = answer.get_json()
        return started

    def consent(self, authorization_url: str, email: str, decision: str = "allow") -> dict[str, str]:
        """Answer Google's consent page as the user would; returns the redirect's query (code/state)."""
        extra = urlencode({"login_hint": email, "fake_decision": decision})
        answer = requests.get(f"{authorization_url}&{extra}", allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text
        location = answer.headers["Location"]
        assert location.startswith(self.environment["FUNCTIONS_BASE_URL"] + "/oauth_callback?"), location
        return query_of(location)

    def callback(self, query: dict[str, str]) -> TestResponse:
        return self.get("oauth_callback", query)

    def complete(self, user: str, back: dict[str, str], clinic: str = "demo") -> TestResponse:
        """complete_link: the clinic app redeems the callback's one-time code for `user`."""
        body = {"clinicId": clinic, "userId": user, "linkId": back["linkId"], "code": back["code"]}
        return self.post("complete_link", body)

    def sign_in(self, user: str = "pautrave", email: str = "pau@gmail.com", **start: Any) -> dict[str, str]:
        """oauth_start, consent, oauth_callback, and complete_link with the code the redirect to the
        return URL carries; answers that redirect's query, with the link's `status` (and `reason`) after
        the redemption."""
        started = self.start(user, returnUrl="https://clinic.example/back", **start)
        answer = self.callback(self.consent(started["authorizationUrl"], email))
        assert answer.status_code == 302, answer.get_data(as_text=True)
        back = query_of(answer.headers["Location"])
        if back.get("status") != "consented":
            return back
        redeemed = self.complete(user, back)
        assert redeemed.status_code == 200, redeemed.get_data(as_text=True)
        outcome = redeemed.get_json()
        return {k: v for k, v in back.items() if k != "code"} | {
            "status": outcome["link"]["status"],
            **({"reason": outcome["reason"]} if "reason" in outcome else {}),
        }

    def approve(
        self, link_id: str, center: str = "centro-b", user: str = "admin", clinic: str = "demo"
    ) -> TestResponse:
        body = {
            "clinicId": clinic,
            "centerId": center,
            "userId": user,
            "linkId": link_id,
            "decision": "approve",
        }
        return self.post("approve_link", body)

    def active_link(
        self, user: str = "pautrave", email: str = "pau@gmail.com", **start: Any
    ) -> dict[str, Any]:
        """A link approved by the master and active; its backfill task has reached the receiver (not run)."""
        linked = self.sign_in(user, email, **start)
        assert linked["status"] == "pending_approval", linked
        approved = self.approve(linked["linkId"], center=start.get("center", "centro-b"))
        assert approved.status_code == 200, approved.get_data(as_text=True)
        link: dict[str, Any] = approved.get_json()["link"]
        assert link["status"] == "active"
        self.receiver.wait_for(
            "/push_worker", {"clinicId": link["clinicId"], "linkId": link["id"], "backfill": True}
        )
        return link

    # --- Firestore ----------------------------------------------------------------------------------
    def doc(self, path: str) -> dict[str, Any] | None:
        snapshot = self.db.document(path).get()
        return snapshot.to_dict() if snapshot.exists else None

    def dump(self) -> dict[str, tuple[Any, Any]]:
        return firestore_dump(self.db)

    def google_state(self) -> dict[str, Any]:
        state: dict[str, Any] = requests.get(f"{self.google.url}/_fake/state", timeout=10).json()
        return state


def assert_error(response: Any, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    """The reply is the contract's error: a 4xx status and {"error": {"code", "message"}}."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if "Accept-Language" not in response.request.headers:
        # Unless the caller asked for English, people read Spanish: the catalogue's text for the code.
        spanish = {texts[0] for texts in ERRORS.values()}
        named_field = ERRORS["invalid_field"][0].split("{field}")[0]
        message = body["error"]["message"]
        assert message in spanish or message.startswith(named_field), message
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def assert_refusal_page(response: Any, status: int, code: str) -> str:
    """oauth_callback's refusal when no returnUrl is known: a page for the person, the code in `data-reason`."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "text/html"
    page: str = response.get_data(as_text=True)
    assert 'data-status="error"' in page and f'data-reason="{code}"' in page, page
    return page


def channel_token(channel_id: str) -> str:
    """The token the webhook expects for a channel id, whether or not such a channel exists."""
    return services().channels.token_for(channel_id)


def notify(functions: Deployed, channel_id: str, token: str, state: str, **headers: str) -> Any:
    return functions.post(
        "calendar_webhook",
        headers={
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": token,
            "X-Goog-Resource-ID": "resource-1",
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": "1",
            **headers,
        },
    )


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def environment_for(
    firestore_host: str, google: RunningServer, tasks_host: str, functions_url: str
) -> dict[str, str]:
    """The local stack's function environment (`functions_environment`), pointed at this test's parts."""
    env = functions_environment(LocalPorts())
    env.update(
        FIRESTORE_EMULATOR_HOST=firestore_host,
        CLOUD_TASKS_EMULATOR_HOST=tasks_host,
        GOOGLE_BASE_URL=google.url,
        FUNCTIONS_BASE_URL=functions_url,
        RETURN_URL_HOSTS="clinic.example,127.0.0.1",
    )
    env.pop("CONSOLE_URL", None)
    return env


@contextmanager
def deployed(
    monkeypatch: pytest.MonkeyPatch,
    db: firestore_lib.Client,
    firestore_host: str,
    google: RunningServer,
    tasks_host: str,
    receiver: TaskReceiver,
) -> Iterator[Deployed]:
    """The functions configured from the environment as in the cloud, on this test's emulators and fakes.

    The process-wide services are built on first use from the environment, so the cache is cleared
    before (to read this environment) and after (so nothing else runs with it).
    """
    env = environment_for(firestore_host, google, tasks_host, receiver.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    google.reset()
    receiver.clear()
    write_demo_data(db)
    services.cache_clear()
    try:
        yield Deployed(db, google, receiver, env)
    finally:
        services.cache_clear()
        # services() sends the root logger to stdout as JSON; give pytest its handlers back.
        root.handlers = handlers
        root.setLevel(level)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `condition` until it is truthy; answers its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")
