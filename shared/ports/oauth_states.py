"""The single-use `state` of a consent round trip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.domain.link import SyncLink


@dataclass(frozen=True)
class OAuthState:
    """The single-use `state` of one consent round trip."""

    id: str
    clinic_id: str
    link_id: str
    code_verifier: str
    expires_at: datetime


class OAuthStates(Protocol):
    """Consent states. create_with_state writes the new link too, in the same batch: a state never exists
    without the link its callback completes."""

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        """Write a new link and its OAuth state together."""
        ...

    def take_state(self, state_id: str, now: datetime) -> OAuthState:
        """Consume a state once: NotFound (code invalid_state) when unknown, already used or expired (an
        expired state is consumed too)."""
        ...
