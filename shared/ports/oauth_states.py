"""The single-use `state` of a consent round trip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain.link import SyncLink


@dataclass(frozen=True)
class OAuthState:
    """The single-use `state` of one consent round trip."""

    id: str
    clinic_id: str
    link_id: str
    code_verifier: str
    expires_at: datetime


@dataclass(frozen=True)
class HeldConsent:
    """What a finished consent gave, held until the person who started the link redeems it with the
    one-time code the callback handed to their browser (kept here only as its SHA-256)."""

    clinic_id: str
    link_id: str
    code_hash: str
    expires_at: datetime
    sealed_token: Mapping[str, Any]
    email: str
    subject: str | None


class OAuthStates(Protocol):
    """Consent states. create_with_state writes the new link too, in the same batch: a state never exists
    without the link its callback completes."""

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        """Write a new link and its OAuth state together."""
        ...

    def create_state(self, state: OAuthState) -> None:
        """Write a state for a link already stored (a reconnection's new consent)."""
        ...

    def take_state(self, state_id: str, now: datetime) -> OAuthState:
        """Consume a state once: NotFound (code invalid_state) when unknown, already used or expired (an
        expired state is consumed too)."""
        ...

    def hold_consent(self, consent: HeldConsent) -> None:
        """Keep a finished consent for its link, replacing any the link held before."""
        ...

    def take_consent(self, clinic_id: str, link_id: str, code_hash: str) -> HeldConsent:
        """Consume the link's held consent when `code_hash` is its code's: NotFound (code invalid_code) when
        the link holds none, or another code's (then nothing is consumed). Expiry is the caller's to judge:
        an expired consent is consumed too, so that its grant can be revoked."""
        ...
