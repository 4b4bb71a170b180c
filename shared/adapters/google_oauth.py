"""Google's OAuth 2.0 web flow through google-auth-oauthlib: consent URL with PKCE, code exchange, revoke."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from shared.config import Settings
from shared.ports import GoogleError, Grant, Transient

SCOPES = ["openid", "email", "https://www.googleapis.com/auth/calendar.app.created"]
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# requests-oauthlib logs whole token responses (refresh tokens included) at DEBUG: never let it.
for _noisy in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class GoogleOAuth:
    def __init__(self, settings: Settings, client_secret: Callable[[], str]) -> None:
        self.settings = settings
        # Read only to exchange a code: building the consent URL needs no secret, and oauth_start's
        # account is not granted it (infra/functions.tf).
        self.client_secret = client_secret
        endpoints = settings.google
        self.config = {
            "web": {
                "client_id": settings.oauth_client_id,
                "auth_uri": endpoints.auth_uri,
                "token_uri": endpoints.token_uri,
                "redirect_uris": [settings.oauth_redirect_uri],
            }
        }
        # Granular consent may grant fewer scopes than asked: we check them ourselves, so oauthlib must not
        # turn the difference into an exception.
        os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"
        if urlparse(endpoints.token_uri).hostname in _LOOPBACK:
            # The local stack's fake Google speaks plain HTTP on loopback; real Google is always HTTPS.
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

    def _flow(self, code_verifier: str | None = None) -> Any:
        from google_auth_oauthlib.flow import Flow

        web = dict(self.config["web"])
        if code_verifier is not None:
            web["client_secret"] = self.client_secret()
        return Flow.from_client_config(
            {"web": web},
            scopes=SCOPES,
            redirect_uri=self.settings.oauth_redirect_uri,
            code_verifier=code_verifier,
            autogenerate_code_verifier=code_verifier is None,
        )

    def authorization_url(self, state: str) -> tuple[str, str]:
        flow = self._flow()
        url, _ = flow.authorization_url(access_type="offline", prompt="consent", state=state)
        return url, flow.code_verifier

    def exchange(self, code: str, code_verifier: str) -> Grant:
        from google.auth.transport.requests import AuthorizedSession
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error
        from requests import RequestException

        flow = self._flow(code_verifier)
        try:
            token = flow.fetch_token(code=code, timeout=10)
            credentials = flow.credentials
            session = AuthorizedSession(credentials)
            answer = session.get(self.settings.google.userinfo_uri, timeout=10)
        except OAuth2Error as exc:
            raise GoogleError(f"code exchange refused: {exc.error}", status=400, reason=exc.error) from None
        except RequestException as exc:
            raise Transient(f"code exchange failed: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise GoogleError(
                "could not read the Google account", status=answer.status_code, reason="userinfo"
            )
        scope = token.get("scope") or []
        scopes = frozenset(scope.split() if isinstance(scope, str) else scope)
        # userinfo answers `sub`, the account's stable id, with every token (the `openid` scope), and
        # `email` with the email scope; an account's e-mail can change, its `sub` does not.
        identity = answer.json()
        return Grant(
            refresh_token=credentials.refresh_token,
            access_token=credentials.token,
            scopes=scopes,
            email=str(identity.get("email", "")),
            subject=str(identity["sub"]) if identity.get("sub") else None,
        )

    def revoke(self, token: str) -> None:
        import requests

        with contextlib.suppress(requests.RequestException):  # best effort: our copy is deleted anyway
            requests.post(self.settings.google.revoke_uri, data={"token": token}, timeout=5)
