"""Google's OAuth 2.0 endpoints: authorization (account chooser and consent), token, revoke, userinfo.

Like Google:
- /o/oauth2/v2/auth checks the client (401 page `invalid_client`) and the redirect URI (400 page
  `redirect_uri_mismatch`) before anything else, then lets the user pick an account and untick scopes
  (granular consent; `openid`, `email` and `profile` are always granted). `email`/`profile` come back as
  their full `https://www.googleapis.com/auth/userinfo.*` names in `scope`, as Google returns them.
- /token: codes are single-use and short-lived; reusing one is `invalid_grant` and revokes the tokens
  issued from it; PKCE (S256 or plain) is verified when the authorization carried a challenge; a refresh
  token comes only with `access_type=offline`; refreshing never returns a new refresh token.
- no `id_token` is issued: clients read the e-mail from /oauth2/v3/userinfo.
- /revoke (an access or a refresh token) ends every grant the token's account gave that client, every
  consent of it, not only the one the token came from: what Google is publicly reported to do (its
  reference says only that revoking an access token also revokes its refresh token); the stricter side.
- refresh failures other than a revoked grant, set per account through the admin API, answer as
  `REFRESH_FAILURES` says (JSON `{"error", "error_description"}` like every /token error).
Scripted shortcut for tests: `login_hint=EMAIL&fake_decision=allow|deny` (and optionally
`fake_scopes=space-separated scopes` to grant only those) answers the redirect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from . import discovery, ids, times
from .access import bearer_token
from .errors import OAuthError
from .runtime import FakeGoogle, current
from .store import AuthCode, PendingAuthorization

bp = Blueprint("oauth", __name__)

USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
SCOPE_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
ALWAYS_GRANTED = frozenset({"openid", USERINFO_EMAIL, USERINFO_PROFILE})
PENDING_TTL_SECONDS = 600

# error -> (HTTP status, description) of a refused refresh. Google's OAuth guides name these errors at
# the authorization step; the statuses at /token are the fake's choice, following RFC 6749 section 5.2
# (400 for every error but a failed client authentication), except `deleted_client`, which Google has
# been seen answering with 401 (the client itself no longer authenticates).
REFRESH_FAILURES: dict[str, tuple[int, str]] = {
    "invalid_grant": (400, "Token has been expired or revoked."),
    "admin_policy_enforced": (
        400,
        "The account's Google Workspace administrator does not allow this app the requested scopes.",
    ),
    "org_internal": (400, "This OAuth client is limited to accounts of its own Google Cloud organization."),
    "deleted_client": (401, "The OAuth client was deleted."),
    "unauthorized_client": (400, "Unauthorized"),
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_scopes(raw: str) -> list[str]:
    """Requested scopes in Google's canonical names, in order, without repeats."""
    seen: list[str] = []
    for scope in raw.split():
        canonical = SCOPE_ALIASES.get(scope, scope)
        if canonical not in seen:
            seen.append(canonical)
    return seen


def _known_scope(scope: str) -> bool:
    return scope in ALWAYS_GRANTED or scope in discovery.known_scopes()


def _error_page(status: int, error: str, description: str) -> tuple[str, int]:
    return render_template("auth_error.html", status=status, error=error, description=description), status


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


# Authorization -------------------------------------------------------------------------------------


@bp.get("/o/oauth2/v2/auth")
@bp.get("/o/oauth2/auth")
def authorize() -> Any:
    fake = current()
    args = request.args
    client_id = args.get("client_id", "")
    if client_id not in fake.config.clients:
        return _error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri or not any(redirect_uri.startswith(p) for p in fake.config.redirect_prefixes):
        return _error_page(
            400,
            "redirect_uri_mismatch",
            f"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
            f"redirect_uri={redirect_uri}",
        )
    state = args.get("state")
    if args.get("response_type") != "code":
        params = {"error": "unsupported_response_type"} | ({"state": state} if state else {})
        return redirect(_with_query(redirect_uri, params))
    scopes = normalise_scopes(args.get("scope", ""))
    if not scopes:
        return _error_page(400, "invalid_request", "Missing required parameter: scope")
    unknown = [s for s in scopes if not _known_scope(s)]
    if unknown:
        return _error_page(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={unknown}}}")
    challenge = args.get("code_challenge")
    method = args.get("code_challenge_method") or ("plain" if challenge else None)
    if method is not None and (method not in ("S256", "plain") or not challenge):
        return _error_page(400, "invalid_request", "Invalid code_challenge_method or missing code_challenge.")
    access_type = args.get("access_type", "online")
    if access_type not in ("online", "offline"):
        return _error_page(400, "invalid_request", f"Invalid access_type: {access_type}")

    pending = PendingAuthorization(
        id=ids.opaque("ar", 16),
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        offline=access_type == "offline",
        code_challenge=challenge,
        code_challenge_method=method,
        expires_at=times.now() + PENDING_TTL_SECONDS,
    )
    login_hint = (args.get("login_hint") or "").strip().lower()
    decision = args.get("fake_decision")
    if login_hint and not _EMAIL.fullmatch(login_hint):
        login_hint = ""
    if decision is not None:
        if decision not in ("allow", "deny") or not login_hint:
            return _error_page(
                400, "invalid_request", "fake_decision needs allow|deny and a login_hint e-mail"
            )
        fake.store.ensure_account(login_hint)
        pending.email = login_hint
        wanted = args.get("fake_scopes")
        granted = normalise_scopes(wanted) if wanted is not None else scopes
        return _finish(fake, pending, decision == "allow", granted)
    with fake.store.lock:
        fake.store.pending[pending.id] = pending
    if login_hint:
        fake.store.ensure_account(login_hint)
        pending.email = login_hint
        return _consent_page(pending)
    return _chooser_page(fake, pending)


def _chooser_page(fake: FakeGoogle, pending: PendingAuthorization, message: str | None = None) -> str:
    with fake.store.lock:
        accounts = sorted(fake.store.accounts)
    return render_template(
        "chooser.html", client_id=pending.client_id, request_id=pending.id, accounts=accounts, message=message
    )


def _consent_page(pending: PendingAuthorization) -> str:
    return render_template(
        "consent.html",
        client_id=pending.client_id,
        email=pending.email,
        request_id=pending.id,
        always=[s for s in pending.scopes if s in ALWAYS_GRANTED],
        optional=[s for s in pending.scopes if s not in ALWAYS_GRANTED],
    )


def _pending(fake: FakeGoogle) -> PendingAuthorization | None:
    with fake.store.lock:
        pending = fake.store.pending.get(request.form.get("request_id", ""))
        if pending is None or pending.expires_at <= times.now():
            return None
        return pending


@bp.post("/o/oauth2/v2/auth/account")
def choose_account() -> Any:
    fake = current()
    pending = _pending(fake)
    if pending is None:
        return _error_page(400, "invalid_request", "This sign-in request has expired. Start again.")
    email = (request.form.get("account") or request.form.get("email") or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        return _chooser_page(fake, pending, "Enter a valid email")
    fake.store.ensure_account(email)
    pending.email = email
    return _consent_page(pending)


@bp.post("/o/oauth2/v2/auth/decision")
def decide() -> Any:
    fake = current()
    pending = _pending(fake)
    if pending is None or pending.email is None:
        return _error_page(400, "invalid_request", "This sign-in request has expired. Start again.")
    with fake.store.lock:
        fake.store.pending.pop(pending.id, None)
    allow = request.form.get("decision") == "allow"
    return _finish(fake, pending, allow, request.form.getlist("scope"))


def _finish(fake: FakeGoogle, pending: PendingAuthorization, allow: bool, ticked: list[str]) -> BaseResponse:
    """Redirect back to the client with a code, or with `error=access_denied`."""
    state = {"state": pending.state} if pending.state is not None else {}
    if not allow:
        return redirect(_with_query(pending.redirect_uri, {"error": "access_denied"} | state))
    granted = [s for s in pending.scopes if s in ALWAYS_GRANTED or s in ticked]
    assert pending.email is not None
    code = AuthCode(
        code="4/" + ids.opaque("", 32),
        client_id=pending.client_id,
        email=pending.email,
        redirect_uri=pending.redirect_uri,
        scopes=frozenset(granted),
        offline=pending.offline,
        code_challenge=pending.code_challenge,
        code_challenge_method=pending.code_challenge_method,
        expires_at=times.now() + fake.config.code_ttl_seconds,
    )
    with fake.store.lock:
        fake.store.codes[code.code] = code
    params = {"code": code.code, "scope": " ".join(granted), "authuser": "0", "prompt": "consent"}
    return redirect(_with_query(pending.redirect_uri, state | params))


# Token endpoint ------------------------------------------------------------------------------------


def _client(fake: FakeGoogle) -> str:
    """The authenticated client id: HTTP Basic or client_id/client_secret in the body."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username or "", auth.password or ""
    else:
        client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    if not client_id:
        raise OAuthError("invalid_request", "Could not determine client ID from request.")
    expected = fake.config.clients.get(client_id)
    if expected is None:
        raise OAuthError("invalid_client", "The OAuth client was not found.", 401)
    if not hmac.compare_digest(secret.encode(), expected.encode()):
        raise OAuthError("invalid_client", "Unauthorized", 401)
    return client_id


def _verify_pkce(code: AuthCode, verifier: str | None) -> None:
    if code.code_challenge is None:
        return
    if not verifier:
        raise OAuthError("invalid_grant", "Missing code verifier.")
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        computed = verifier
    if not hmac.compare_digest(computed.encode(), code.code_challenge.encode()):
        raise OAuthError("invalid_grant", "Invalid code verifier.")


def _token_response(body: dict[str, Any]) -> Response:
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
    resp.headers["Pragma"] = "no-cache"
    return resp


@bp.post("/token")
@bp.post("/o/oauth2/token")
def token() -> Response:
    fake = current()
    grant_type = request.form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "Missing required parameter: grant_type")
    client_id = _client(fake)
    if grant_type == "authorization_code":
        return _exchange_code(fake, client_id)
    if grant_type == "refresh_token":
        return _refresh(fake, client_id)
    raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _exchange_code(fake: FakeGoogle, client_id: str) -> Response:
    form = request.form
    value = form.get("code")
    if not value:
        raise OAuthError("invalid_request", "Missing required parameter: code")
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise OAuthError("invalid_request", "Missing required parameter: redirect_uri")
    with fake.store.lock:
        code = fake.store.codes.get(value)
        if code is None:
            raise OAuthError("invalid_grant", "Malformed auth code.")
        if code.used:
            # Google treats a replayed code as stolen: the tokens already issued from it stop working.
            if code.grant_id:
                fake.store.revoke_grant(code.grant_id)
            raise OAuthError("invalid_grant", "Bad Request")
        if code.expires_at <= times.now() or code.client_id != client_id:
            raise OAuthError("invalid_grant", "Bad Request")
        if redirect_uri != code.redirect_uri:
            raise OAuthError("invalid_grant", "Bad Request")
        _verify_pkce(code, form.get("code_verifier"))
        code.used = True
        grant = fake.store.create_grant(client_id, code.email, code.scopes, code.offline)
        code.grant_id = grant.id
        access = fake.store.issue_access_token(grant, fake.config.token_ttl_seconds)
    return _token_response(token_body(fake, access.token, grant.scopes, grant.refresh_token))


def token_body(
    fake: FakeGoogle, access_token: str, scopes: frozenset[str], refresh_token: str | None = None
) -> dict[str, Any]:
    """A token endpoint answer, as Google shapes it (the refresh token only when one was issued)."""
    body: dict[str, Any] = {
        "access_token": access_token,
        "expires_in": fake.config.token_ttl_seconds,
        "scope": " ".join(sorted(scopes)),
        "token_type": "Bearer",
    }
    if refresh_token:
        body["refresh_token"] = refresh_token
    return body


def _refresh(fake: FakeGoogle, client_id: str) -> Response:
    value = request.form.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "Missing required parameter: refresh_token")
    with fake.store.lock:
        grant_id = fake.store.refresh_tokens.get(value)
        grant = fake.store.grants.get(grant_id) if grant_id else None
        if grant is None or grant.revoked:
            raise OAuthError("invalid_grant", "Token has been expired or revoked.")
        failure = fake.store.refresh_failures.get(grant.email)
        if failure is not None:
            status, description = REFRESH_FAILURES[failure]
            raise OAuthError(failure, description, status)
        if grant.client_id != client_id:
            raise OAuthError("unauthorized_client", "Unauthorized")
        scopes = grant.scopes
        wanted = request.form.get("scope")
        if wanted:
            narrowed = frozenset(normalise_scopes(wanted))
            if not narrowed <= grant.scopes:
                raise OAuthError("invalid_scope", "Bad Request")
            scopes = narrowed
        access = fake.store.issue_access_token(grant, fake.config.token_ttl_seconds)
        access.scopes = scopes
    return _token_response(token_body(fake, access.token, scopes))


@bp.post("/revoke")
@bp.post("/o/oauth2/revoke")
def revoke() -> Response:
    fake = current()
    value = request.form.get("token") or request.args.get("token") or ""
    with fake.store.lock:
        grant_id = fake.store.refresh_tokens.get(value)
        if grant_id is None and value in fake.store.access_tokens:
            grant_id = fake.store.access_tokens[value].grant_id
        grant = fake.store.grants.get(grant_id) if grant_id else None
        if grant is None or grant.revoked:
            raise OAuthError("invalid_token", "Token expired or revoked")
        # Revoking ends the account's whole grant to the client: every consent that account gave it.
        fake.store.revoke_account_grants(grant.client_id, grant.email)
    return jsonify({})


# Identity ------------------------------------------------------------------------------------------


@bp.route("/oauth2/v3/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    fake = current()
    token = fake.store.valid_access_token(bearer_token() or "")
    if token is None:
        resp = jsonify({"error": "invalid_request", "error_description": "Invalid Credentials"})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = (
            'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        )
        return resp
    account = fake.store.ensure_account(token.email)
    body: dict[str, Any] = {"sub": account.sub}
    if USERINFO_EMAIL in token.scopes or token.client_id not in fake.config.clients:
        body.update(email=account.email, email_verified=True)
    return jsonify(body)


@bp.get("/oauth2/v3/tokeninfo")
def tokeninfo() -> Response:
    fake = current()
    token = fake.store.valid_access_token(request.args.get("access_token") or bearer_token() or "")
    if token is None:
        resp = jsonify({"error": "invalid_token", "error_description": "Invalid Value"})
        resp.status_code = 400
        return resp
    account = fake.store.ensure_account(token.email)
    remaining = int(token.expires_at - times.now())
    grant = fake.store.grants.get(token.grant_id)
    return jsonify(
        {
            "azp": token.client_id,
            "aud": token.client_id,
            "sub": account.sub,
            "scope": " ".join(sorted(token.scopes)),
            "exp": str(int(token.expires_at)),
            "expires_in": str(remaining),
            "email": account.email,
            "email_verified": "true",
            "access_type": "offline" if grant is not None and grant.refresh_token else "online",
        }
    )


@bp.errorhandler(OAuthError)
def _oauth_error(error: OAuthError) -> Response:
    return error.response()
