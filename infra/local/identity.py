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

To call a private function by hand while `make run` runs (the stack keeps this run's key in
`.local/logs/identity-key`), as the caller Terraform allows it:

    curl -H "Authorization: Bearer $(python -m infra.local.identity oauth_start)" ...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
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


KEY_FILE = "identity-key"


def write_key(directory: Path, key: str) -> Path:
    """Keep this run's key beside the stack's logs, readable by this user only (for `main`)."""
    path = directory / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key)
    return path


def main(argv: list[str] | None = None) -> None:
    """Print a token for calling FUNCTION as its Terraform caller, with the running stack's key."""
    import argparse

    from infra.local.terraform_grants import function_grants

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("function")
    parser.add_argument("--as", dest="account", help="another service account (to see a refusal)")
    local_url = f"http://127.0.0.1:{os.environ.get('FUNCTIONS_PORT') or 8080}"
    parser.add_argument("--base-url", default=os.environ.get("FUNCTIONS_BASE_URL") or local_url)
    parser.add_argument(
        "--key-file", default=str(Path(__file__).resolve().parents[2] / ".local" / "logs" / KEY_FILE)
    )
    args = parser.parse_args(argv)
    key = key_from_env() or (
        Path(args.key_file).read_text().strip() if Path(args.key_file).is_file() else None
    )
    if not key:
        parser.error(f"no key: start the stack (make run) or set {IDENTITY_KEY_VARIABLE}")
    grant = function_grants(os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-clinic"))[args.function]
    account = args.account or next(iter(grant.callers), None)
    if account is None:
        parser.error(f"{args.function} is public: it needs no token")
    print(mint(key, account, f"{args.base_url.rstrip('/')}/{args.function}"))


if __name__ == "__main__":
    main()
