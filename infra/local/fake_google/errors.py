"""Errors in the shapes Google sends them.

Calendar API (JSON API v3): `{"error": {"code", "message", "errors": [{"domain", "reason", "message", ...}]}}`,
with `"status"` (the google.rpc code name) on the authentication, permission and quota errors where Google
adds it. OAuth endpoints answer `{"error": "...", "error_description": "..."}`. Messages and reasons follow
the Calendar "Handle API errors" guide where it lists them.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "NOT_FOUND",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

# Statuses whose Google body carries "status"; the classic Calendar errors (400/404/409/410/412) omit it.
_WITH_STATUS = {401, 403, 429, 500, 503}

INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class GoogleApiError(Exception):
    """An error answered as Google's JSON error body with the given HTTP status."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        item_message: str | None = None,
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.item_message = item_message or message
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON body Google sends for this error."""
        item: dict[str, Any] = {"domain": self.domain, "reason": self.reason, "message": self.item_message}
        if self.location_type:
            item["locationType"] = self.location_type
        if self.location:
            item["location"] = self.location
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [item]}
        if self.code in _WITH_STATUS:
            error["status"] = _STATUS_NAMES[self.code]
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        """A Flask response carrying the error."""
        resp = jsonify(self.body())
        resp.status_code = self.code
        for name, value in self.headers.items():
            resp.headers[name] = value
        return resp


class OAuthError(Exception):
    """An OAuth 2.0 endpoint error (RFC 6749 section 5.2), as Google's token endpoint answers it."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        """A Flask response carrying the error."""
        resp = jsonify({"error": self.error, "error_description": self.description})
        resp.status_code = self.status
        return resp


# Constructors for the errors the Calendar API answers most; one place so that messages stay consistent.


def bad_request(message: str, reason: str = "badRequest", **kw: Any) -> GoogleApiError:
    """400 with a reason of choice (`badRequest` by default)."""
    return GoogleApiError(400, reason, message, **kw)


def invalid(message: str, **kw: Any) -> GoogleApiError:
    """400 `invalid`: a value the API does not accept."""
    return GoogleApiError(400, "invalid", message, **kw)


def required(message: str, **kw: Any) -> GoogleApiError:
    """400 `required`: a missing field or parameter."""
    return GoogleApiError(400, "required", message, **kw)


def parse_error() -> GoogleApiError:
    """400 `parseError`: the body is not a JSON object."""
    return GoogleApiError(400, "parseError", "Parse Error")


def time_range_empty(location: str) -> GoogleApiError:
    """400 `timeRangeEmpty` (domain `calendar`), as the errors guide shows it."""
    return GoogleApiError(
        400,
        "timeRangeEmpty",
        "The specified time range is empty.",
        domain="calendar",
        location=location,
        location_type="parameter",
    )


def unauthenticated(missing: bool = False) -> GoogleApiError:
    """401: no credentials (`required`) or invalid/expired ones (`authError`)."""
    return GoogleApiError(
        401,
        "required" if missing else "authError",
        MISSING_CREDENTIALS if missing else INVALID_CREDENTIALS,
        item_message="Login Required." if missing else "Invalid Credentials",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
    )


def insufficient_permissions(method_id: str) -> GoogleApiError:
    """403 `insufficientPermissions`: the token's scopes do not cover the method."""
    return GoogleApiError(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        item_message="Insufficient Permission",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"'
        },
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "calendar-json.googleapis.com", "method": method_id},
            }
        ],
    )


def not_found() -> GoogleApiError:
    """404 `notFound`."""
    return GoogleApiError(404, "notFound", "Not Found")


def duplicate() -> GoogleApiError:
    """409 `duplicate`: an event with that id exists (cancelled ones too)."""
    return GoogleApiError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> GoogleApiError:
    """410 `deleted`: the event is already cancelled."""
    return GoogleApiError(410, "deleted", "Resource has been deleted")


def full_sync_required() -> GoogleApiError:
    """410 `fullSyncRequired`: the sync token is no longer honoured."""
    return GoogleApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.", domain="calendar"
    )


def precondition_failed() -> GoogleApiError:
    """412 `conditionNotMet`: If-Match names a stale etag."""
    return GoogleApiError(
        412,
        "conditionNotMet",
        "Precondition Failed",
        location="If-Match",
        location_type="header",
    )


def rate_limited(status: int) -> GoogleApiError:
    """403 (per user) or 429 (per project) `rateLimitExceeded`, both listed by the Calendar errors guide."""
    return GoogleApiError(status, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits")


# 403 reasons the Calendar "Handle API errors" guide lists for usage limits, each with its message there:
# the per-user rate (also the per-user quota), the project's daily courtesy limit, and Calendar's own usage
# limits (which, per the guide, last hours: the user reached a limit that protects Google's users).
USAGE_LIMITS = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "dailyLimitExceeded": "Daily Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
}


def usage_limit(reason: str) -> GoogleApiError:
    """403 for one of the usage limits above (domain `usageLimits`)."""
    return GoogleApiError(403, reason, USAGE_LIMITS[reason], domain="usageLimits")


def backend_error(status: int) -> GoogleApiError:
    """5xx `backendError`."""
    if status == 503:
        return GoogleApiError(503, "backendError", "The service is currently unavailable.")
    if status == 500:
        return GoogleApiError(500, "backendError", "Backend Error")
    return GoogleApiError(status, "backendError", "Backend Error")
