"""The admin API under /_fake/ (JSON in and out), for tests, the local console and scripts.

| call | what it does |
|---|---|
| POST /_fake/reset | forget everything (state, counters, faults, quota windows; latency back to its setting) |
| GET  /_fake/state | accounts, grants (no secrets), calendars, events (tombstones too), channels |
| POST /_fake/accounts {email} | create an account (201; 200 when it exists) |
| POST /_fake/token {email, scopes?, clientId?, offline?} | an access token to act as the user in Google's own UI (full calendar scope; exempt from quotas and faults); with `clientId` the token is issued to that OAuth client instead, like one from the real flow |
| POST /_fake/revoke {email} | revoke every grant of that account (refresh -> invalid_grant) |
| POST /_fake/tokens/expire {email?} | expire the access tokens (of one account) now: the next API call gets 401 |
| POST /_fake/sync-tokens/invalidate {email?} | existing sync tokens (of that account's calendars) -> 410 fullSyncRequired |
| POST /_fake/channels/expire {id?} | expire one or every watch channel now |
| POST /_fake/refresh-failure {email, error} | that account's refresh tokens get `error` at /token (`invalid_grant`, `admin_policy_enforced`, `org_internal`, `deleted_client`, `unauthorized_client`; statuses in oauth.py); `error: null` lifts it |
| DELETE /_fake/calendars/{id} | the user deletes the calendar in Google Calendar (see ui.py) |
| POST /_fake/calendars/{id}/list-entry {hidden?, selected?} | the user hides/unselects the calendar in their list |
| POST /_fake/calendars/{id}/events/{instanceId}/split {changes?} | the user edits "this and following events" of a series from that instance; answers `{original, following}` |
| GET /_fake/mails | the e-mails Google would have sent to guests (`to`, `kind`: invitation/update/cancellation, `calendarId`, `eventId`, `sendUpdates`) |
| GET/POST /_fake/faults {route?, rate?, status?, reason?, latencyMs?, count?} | list / add a fault (see faults.py); `{}` clears |
| GET/POST /_fake/quotas {perUserPerMinute?, perProjectPerMinute?} | read / set quotas |
| GET/POST /_fake/latency {ms} | read / set the latency added to every non-admin request |
| GET /_fake/requests | counts since the last reset, by route: discovery method id for API calls (`calendar.events.insert`, inner batch calls included), `METHOD /path` otherwise (`POST /token`, `POST /batch/calendar/v3`) |
| GET /_fake/deliveries | the last 1000 watch notifications and their outcome |
| POST /_fake/deliveries/wait {timeout?} | wait until queued notifications have been delivered |
Errors here are `{"error": {"code": N, "message": "..."}}` with a 4xx status.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from . import times, ui
from .errors import GoogleApiError
from .faults import parse_rule
from .oauth import REFRESH_FAILURES, token_body
from .runtime import current
from .store import FULL_CALENDAR_SCOPE, UI_CLIENT_ID, CalendarRecord

bp = Blueprint("admin", __name__, url_prefix="/_fake")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AdminError(Exception):
    """A bad admin request."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise AdminError("expected a JSON object")
    return body


def _email(body: dict[str, Any], *, optional: bool = False) -> str | None:
    value = body.get("email")
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise AdminError("a valid 'email' is required")
    return value.strip().lower()


@bp.post("/reset")
def reset() -> Response:
    current().reset()
    return jsonify({"reset": True})


@bp.get("/state")
def state() -> Response:
    return jsonify(current().store.snapshot())


@bp.post("/accounts")
def create_account() -> Response:
    fake = current()
    email = _email(_body())
    assert email is not None
    existed = email in fake.store.accounts
    account = fake.store.ensure_account(email)
    resp = jsonify({"email": account.email, "sub": account.sub})
    resp.status_code = 200 if existed else 201
    return resp


@bp.post("/token")
def token() -> Response:
    fake = current()
    body = _body()
    email = _email(body)
    assert email is not None
    raw_scopes = body.get("scopes", [FULL_CALENDAR_SCOPE])
    scopes = raw_scopes.split() if isinstance(raw_scopes, str) else raw_scopes
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise AdminError("'scopes' must be a list or a space-separated string")
    client_id = body.get("clientId", UI_CLIENT_ID)
    if client_id != UI_CLIENT_ID and client_id not in fake.config.clients:
        raise AdminError(f"unknown clientId {client_id!r}")
    fake.store.ensure_account(email)
    grant = fake.store.create_grant(client_id, email, frozenset(scopes), bool(body.get("offline")))
    access = fake.store.issue_access_token(grant, fake.config.token_ttl_seconds)
    return jsonify(token_body(fake, access.token, grant.scopes, grant.refresh_token))


@bp.post("/revoke")
def revoke() -> Response:
    fake = current()
    email = _email(_body())
    with fake.store.lock:
        grants = [g for g in fake.store.grants.values() if g.email == email and not g.revoked]
        for grant in grants:
            fake.store.revoke_grant(grant.id)
    return jsonify({"revoked": len(grants)})


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    fake = current()
    email = _email(_body(), optional=True)
    at = times.now()
    with fake.store.lock:
        chosen = [t for t in fake.store.access_tokens.values() if email is None or t.email == email]
        for access in chosen:
            access.expires_at = min(access.expires_at, at)
    return jsonify({"expired": len(chosen)})


@bp.post("/sync-tokens/invalidate")
def invalidate_sync_tokens() -> Response:
    fake = current()
    email = _email(_body(), optional=True)
    with fake.store.lock:
        doomed = [t for t, s in fake.store.sync_tokens.items() if email is None or s.owner == email]
        for value in doomed:
            del fake.store.sync_tokens[value]
    return jsonify({"invalidated": len(doomed)})


@bp.post("/channels/expire")
def expire_channels() -> Response:
    fake = current()
    wanted = _body().get("id")
    expired_ms = int(times.now() * 1000) - 1
    with fake.store.lock:
        chosen = [c for c in fake.store.channels.values() if wanted is None or c.id == wanted]
        if wanted is not None and not chosen:
            raise AdminError(f"no channel {wanted!r}", 404)
        for channel in chosen:
            channel.expiration_ms = min(channel.expiration_ms, expired_ms)
    return jsonify({"expired": len(chosen)})


@bp.post("/refresh-failure")
def refresh_failure() -> Response:
    fake = current()
    body = _body()
    email = _email(body)
    assert email is not None
    error = body.get("error")
    if error is not None and error not in REFRESH_FAILURES:
        raise AdminError(f"'error' must be null or one of {sorted(REFRESH_FAILURES)}")
    with fake.store.lock:
        if error is None:
            fake.store.refresh_failures.pop(email, None)
        else:
            fake.store.refresh_failures[email] = error
    return jsonify({"email": email, "error": error})


def _calendar(calendar_id: str) -> CalendarRecord:
    found = current().store.calendars.get(calendar_id)
    if found is None:
        raise AdminError(f"no calendar {calendar_id!r}", 404)
    return found


def _ui_answer(action: Any, *args: Any) -> Response:
    """Run a UI action; the errors it raises are Google's, shown in the admin API's shape."""
    try:
        result = action(current(), *args)
    except GoogleApiError as error:
        raise AdminError(error.message, error.code) from None
    return jsonify(result if result is not None else {"done": True})


@bp.delete("/calendars/<calendar_id>")
def delete_calendar(calendar_id: str) -> Response:
    return _ui_answer(ui.delete_calendar, _calendar(calendar_id))


@bp.post("/calendars/<calendar_id>/list-entry")
def list_entry(calendar_id: str) -> Response:
    return _ui_answer(ui.set_list_entry, _calendar(calendar_id), _body())


@bp.post("/calendars/<calendar_id>/events/<event_id>/split")
def split_series(calendar_id: str, event_id: str) -> Response:
    changes = _body().get("changes") or {}
    if not isinstance(changes, dict):
        raise AdminError("'changes' must be an object of event fields")
    return _ui_answer(ui.split_following, _calendar(calendar_id), event_id, changes)


@bp.get("/mails")
def mails() -> Response:
    with current().store.lock:
        return jsonify({"mails": [dict(mail) for mail in current().store.mails]})


@bp.route("/faults", methods=["GET", "POST"])
def faults() -> Response:
    fake = current()
    if request.method == "POST":
        body = _body()
        if not body:
            fake.faults.clear()
        else:
            try:
                fake.faults.add(parse_rule(body))
            except (TypeError, ValueError) as exc:
                raise AdminError(f"bad fault: {exc}") from None
    return jsonify({"faults": fake.faults.describe()})


@bp.route("/quotas", methods=["GET", "POST"])
def quotas() -> Response:
    fake = current()
    if request.method == "POST":
        body = _body()
        values: dict[str, int | None] = {}
        for key in ("perUserPerMinute", "perProjectPerMinute"):
            raw = body.get(key)
            if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool) or raw < 0):
                raise AdminError(f"'{key}' must be a non-negative integer")
            values[key] = raw
        fake.quotas.set_limits(values["perUserPerMinute"], values["perProjectPerMinute"])
    return jsonify(
        {
            "perUserPerMinute": fake.quotas.per_user_per_minute,
            "perProjectPerMinute": fake.quotas.per_project_per_minute,
        }
    )


@bp.route("/latency", methods=["GET", "POST"])
def latency() -> Response:
    fake = current()
    if request.method == "POST":
        raw = _body().get("ms")
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise AdminError("'ms' must be a non-negative integer")
        fake.latency_ms = raw
    return jsonify({"ms": fake.latency_ms})


@bp.get("/requests")
def request_counts() -> Response:
    return jsonify(current().counts())


@bp.get("/deliveries")
def deliveries() -> Response:
    return jsonify({"deliveries": list(current().notifier.deliveries)})


@bp.post("/deliveries/wait")
def wait_for_deliveries() -> Response:
    timeout = _body().get("timeout", 10)
    if not isinstance(timeout, int | float) or timeout < 0:
        raise AdminError("'timeout' must be a number of seconds")
    done = current().notifier.wait_idle(float(timeout))
    return jsonify({"idle": done})


@bp.errorhandler(AdminError)
def _admin_error(error: AdminError) -> Response:
    resp = jsonify({"error": {"code": error.status, "message": error.message}})
    resp.status_code = error.status
    return resp
