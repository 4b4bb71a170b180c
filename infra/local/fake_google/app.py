"""The Flask app of the fake Google: blueprints, and the pipeline every request goes through.

Every request except /_fake/ is counted, delayed by the configured latency and exposed to injected faults
before it reaches its handler. Errors always come out in Google's shapes; an unexpected exception is a
logged 500 `backendError`, never an HTML traceback.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from . import admin, batch, calendar_api, oauth
from .access import METHOD_BY_ENDPOINT, bearer_token
from .config import FakeGoogleConfig
from .errors import GoogleApiError, OAuthError, backend_error
from .runtime import EXTENSION_KEY, FakeGoogle, current
from .store import UI_CLIENT_ID

log = logging.getLogger(__name__)

_OAUTH_PATHS = ("/token", "/revoke", "/o/oauth2/", "/oauth2/")
_API_PATHS = ("/calendar/", "/batch")


def route_name() -> str:
    """How counters and faults name the current request: discovery method id, else `METHOD /rule`."""
    endpoint = request.endpoint or ""
    if endpoint in METHOD_BY_ENDPOINT:
        return METHOD_BY_ENDPOINT[endpoint]
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    return f"{request.method} {rule}"


def _oauth_fault(error: GoogleApiError) -> Response:
    names = {429: "rate_limit_exceeded", 403: "rate_limit_exceeded", 503: "temporarily_unavailable"}
    return OAuthError(names.get(error.code, "server_error"), error.message, error.code).response()


def _before_request() -> Response | None:
    if request.path.startswith("/_fake/"):
        return None
    fake = current()
    name = route_name()
    fake.count(name)
    hit = fake.faults.hit(name, request.path) if not _is_ui_call() else None
    delay_ms = fake.latency_ms + (hit.latency_ms if hit else 0)
    if delay_ms:
        time.sleep(delay_ms / 1000)
    if hit is not None and hit.error is not None:
        if request.path.startswith(_OAUTH_PATHS):
            return _oauth_fault(hit.error)
        return hit.error.response()
    return None


def _is_ui_call() -> bool:
    """Calls made with a /_fake/token UI token are the user in Google's UI: faults do not touch them."""
    value = bearer_token()
    if not value:
        return False
    token = current().store.access_tokens.get(value)
    return token is not None and token.client_id == UI_CLIENT_ID


def _http_error(error: HTTPException) -> Any:
    if request.path.startswith(_API_PATHS):
        code = error.code or 500
        reasons = {404: ("notFound", "Not Found"), 405: ("httpMethodNotAllowed", "Method Not Allowed")}
        reason, message = reasons.get(code, ("badRequest" if code < 500 else "backendError", error.name))
        return GoogleApiError(code, reason, message).response()
    if request.path.startswith(_OAUTH_PATHS) and request.method == "POST":
        return OAuthError("invalid_request", error.description or error.name, error.code or 400).response()
    return error


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        result = _http_error(error)
        return result if isinstance(result, Response) else Response(status=error.code or 500)
    log.exception("fake Google failed on %s %s", request.method, request.path)
    if request.path.startswith(_OAUTH_PATHS):
        return OAuthError("server_error", "Backend Error", 500).response()
    return backend_error(500).response()


def create_app(config: FakeGoogleConfig | None = None, **overrides: Any) -> Flask:
    """A fake Google app; `overrides` are FakeGoogleConfig fields (e.g. token_ttl_seconds=5)."""
    if config is None:
        config = FakeGoogleConfig.build(**overrides)
    elif overrides:
        raise TypeError("pass either a config or overrides, not both")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = FakeGoogle(config)
    for blueprint in (oauth.bp, calendar_api.bp, batch.bp, admin.bp):
        app.register_blueprint(blueprint)
    app.before_request(_before_request)
    app.register_error_handler(GoogleApiError, lambda e: e.response())
    app.register_error_handler(OAuthError, lambda e: e.response())
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

    @app.get("/")
    def index() -> Response:
        return jsonify({"service": "fake Google (OAuth 2.0, Calendar API v3)", "admin": "/_fake/state"})

    return app


def runtime_of(app: Flask) -> FakeGoogle:
    """The fake's live state behind an app made by `create_app`."""
    fake: FakeGoogle = app.extensions[EXTENSION_KEY]
    return fake
