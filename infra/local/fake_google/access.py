"""Who is calling the Calendar API, and may they: bearer tokens, per-method scopes, quotas, ownership.

Scopes come from the discovery document, method by method. A token whose scopes include none of the
method's scopes gets 403 `insufficientPermissions`. A token allowed only through `calendar.app.created`
reaches only calendars that its own OAuth client created; any other calendar (the primary one included)
answers 404 `notFound`, as Google hides calendars the caller may not see.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request

from . import discovery
from .errors import insufficient_permissions, not_found, unauthenticated
from .runtime import current
from .store import APP_CREATED_SCOPE, UI_CLIENT_ID, CalendarRecord

# Flask endpoint -> discovery method id, so that counters and faults name API calls by method.
METHOD_BY_ENDPOINT: dict[str, str] = {}


@dataclass(frozen=True)
class Caller:
    """The account and client behind an API call, and what its token allows for this method."""

    email: str
    client_id: str
    scopes: frozenset[str]
    method_id: str
    app_created_only: bool

    @property
    def is_ui(self) -> bool:
        """Whether this is the user in Google's own UI (tokens from /_fake/token)."""
        return self.client_id == UI_CLIENT_ID

    def calendar(self, calendar_id: str) -> CalendarRecord:
        """The calendar this caller addresses (`primary` included), or 404 as Google answers."""
        fake = current()
        wanted = self.email if calendar_id == "primary" else calendar_id
        with fake.store.lock:
            found = fake.store.calendars.get(wanted)
        if found is None or found.owner != self.email:
            raise not_found()
        if self.app_created_only and found.created_by_client != self.client_id:
            raise not_found()
        return found


def bearer_token() -> str | None:
    """The access token of the request: Authorization header, else `access_token`/`oauth_token` query."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.args.get("access_token") or request.args.get("oauth_token")


def authorize(method_id: str) -> Caller:
    """Authenticate the request and check the method's scopes and the quotas; raise Google's errors."""
    fake = current()
    token_value = bearer_token()
    if not token_value:
        raise unauthenticated(missing=True)
    token = fake.store.valid_access_token(token_value)
    if token is None:
        raise unauthenticated()
    allowed = discovery.method(method_id).scopes
    granted = token.scopes & allowed
    if not granted:
        raise insufficient_permissions(method_id)
    caller = Caller(
        email=token.email,
        client_id=token.client_id,
        scopes=token.scopes,
        method_id=method_id,
        app_created_only=granted == {APP_CREATED_SCOPE},
    )
    # The user working in Google Calendar's UI does not spend the API project's quota.
    if not caller.is_ui:
        refused = fake.quotas.admit(caller.email, caller.client_id)
        if refused is not None:
            raise refused
    return caller


def api_method(blueprint: Blueprint, method_id: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view for a discovery method: its path and verb come from the discovery document.

    The view is called with the `Caller` first, then the path parameters.
    """
    method = discovery.method(method_id)
    endpoint = method_id.removeprefix("calendar.").replace(".", "_")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**path_params: str) -> Any:
            caller = authorize(method_id)
            # One API call at a time sees and changes the state: a call is atomic, as each is at Google.
            with current().store.lock:
                return view(caller, **path_params)

        blueprint.add_url_rule(method.flask_rule, endpoint, wrapper, methods=[method.http_method])
        METHOD_BY_ENDPOINT[f"{blueprint.name}.{endpoint}"] = method_id
        return wrapper

    return decorator
