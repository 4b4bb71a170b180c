"""Local stand-ins for the Google-signed OIDC identity tokens that private functions require.

In the cloud, Cloud Tasks, Cloud Scheduler, Eventarc and the clinic backend call a private function with
an ID token of a service account (`Authorization: Bearer ...`), and Cloud Run's front end refuses a call
whose token is missing, invalid or names an account without `roles/run.invoker` on that function.

Locally a token is a JWT of the same shape (`email`, `aud` = the function's URL, `iat`, `exp`) signed with
HMAC-SHA256 under a key that only the local callers know: the stack makes a new key at each start and
gives it (LOCAL_IDENTITY_KEY) to the functions' front door, which verifies it, and to the parts that play
Google's callers (the Cloud Tasks emulator's dispatcher, the Eventarc bridge, the console as the clinic
backend). The functions themselves never get it, and a curl without a token is refused.

Standard library only: the Cloud Tasks emulator's own virtualenv imports this module too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any

IDENTITY_KEY_VARIABLE = "LOCAL_IDENTITY_KEY"
ISSUER = "local-identity"
TOKEN_SECONDS = 3600  # Google's ID tokens last an hour


class InvalidToken(ValueError):
    """The bearer token is not one the local identity issued, or not for this audience, or expired."""


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_from_env(env: Any = None) -> str | None:
    value = (os.environ if env is None else env).get(IDENTITY_KEY_VARIABLE)
    return str(value) if value else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: str, signing_input: str) -> str:
    return _b64(hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest())


def mint(key: str, email: str, audience: str, now: float | None = None) -> str:
    """An ID token for service account `email`, addressed to `audience` (the function's URL)."""
    issued = int(time.time() if now is None else now)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "email": email,
        "sub": email,
        "email_verified": True,
        "iat": issued,
        "exp": issued + TOKEN_SECONDS,
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{_sign(key, signing_input)}"


def verify(key: str, token: str, audience: str, now: float | None = None) -> str:
    """The service account `token` was minted for, or InvalidToken."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    header, payload, signature = parts
    if not hmac.compare_digest(signature, _sign(key, f"{header}.{payload}")):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(_unb64(payload))
    except ValueError:
        raise InvalidToken("unreadable claims") from None
    if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
        raise InvalidToken("wrong issuer")
    if claims.get("aud") != audience:
        raise InvalidToken("wrong audience")
    current = time.time() if now is None else now
    if not isinstance(claims.get("exp"), int) or claims["exp"] < current:
        raise InvalidToken("expired")
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise InvalidToken("no email")
    return email


def bearer(key: str, email: str, audience: str) -> dict[str, str]:
    """The Authorization header of a call to `audience` as `email`."""
    return {"Authorization": f"Bearer {mint(key, email, audience)}"}
