"""Identifiers and opaque tokens in the alphabets Google uses."""

from __future__ import annotations

import base64
import re
import secrets

# Calendar event ids: base32hex characters (lowercase a-v, digits), 5 to 1024 of them.
EVENT_ID_PATTERN = re.compile(r"[a-v0-9]{5,1024}")


def event_id() -> str:
    """A server-generated event id (26 base32hex characters, like Google's)."""
    return base64.b32hexencode(secrets.token_bytes(16)).decode("ascii").lower().rstrip("=")


def is_valid_event_id(value: str) -> bool:
    """Whether a client-supplied event id is acceptable to the Calendar API."""
    return EVENT_ID_PATTERN.fullmatch(value) is not None


def opaque(prefix: str = "", nbytes: int = 24) -> str:
    """An unguessable URL-safe token, optionally with a recognisable prefix (e.g. `ya29.` for access tokens)."""
    return prefix + secrets.token_urlsafe(nbytes)


def numeric(nbytes: int = 10) -> str:
    """A decimal identifier such as Google's account `sub`."""
    return str(int.from_bytes(secrets.token_bytes(nbytes), "big"))
