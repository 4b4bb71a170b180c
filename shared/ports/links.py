"""Our link documents: the links themselves, and what a link holds while it lives (keys, sealed grant)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from shared.domain.link import SyncLink


class Links(Protocol):
    """The sync links of every clinic, read and saved whole."""

    def get(self, clinic_id: str, link_id: str) -> SyncLink | None:
        """The link, or None when that clinic has no link of that id."""
        ...

    def save(self, link: SyncLink) -> None:
        """Write the whole link (created or replaced)."""
        ...

    def links_of_user(self, clinic_id: str, user_id: str) -> list[SyncLink]:
        """The user's links in that clinic, whatever their status, oldest first."""
        ...

    def links_of_clinic(self, clinic_id: str) -> list[SyncLink]:
        """Every link of the clinic, whatever its status, oldest first."""
        ...

    def active_links_of_professional(self, clinic_id: str, professional_id: str) -> list[SyncLink]:
        """The active links (one-way and two-way) that mirror this professional's agenda."""
        ...

    def links_awaiting_activation(self) -> list[SyncLink]:
        """Approved links, in every clinic, whose activation failed transiently (lastError
        `activation_pending`) and that still wait in pending_approval."""
        ...

    def active_two_way_links(self) -> list[SyncLink]:
        """Every active two-way link, in every clinic."""
        ...

    def active_links(self) -> list[SyncLink]:
        """Every active link, one-way and two-way, in every clinic."""
        ...


class SealedGrants(Protocol):
    """What a link holds while it lives: its uniqueness keys (one Google account, one user: one link) and
    its sealed (encrypted) refresh token.

    claim and release sit here, not in Links, although they save the link too: each one writes the link, its
    keys and its sealed token in one transaction, and the sealed token a Firestore instance keeps for a
    while (see the adapter) must be dropped by the same object that writes it.
    """

    def claim(
        self, link: SyncLink, keys: Mapping[str, str], encrypted_token: Mapping[str, Any] | None
    ) -> None:
        """Atomically: refuse if a key (code -> key) is held by another link, else hold the keys, store the
        encrypted refresh token and save the link. Raises Conflict with the key's code, writing nothing.
        Claiming again keys the link already holds is allowed."""
        ...

    def release(self, link: SyncLink) -> None:
        """Atomically save an ended link, free the keys it held (its user's, its Google account's; never a
        key another link holds) and delete its stored token."""
        ...

    def encrypted_token(self, link_id: str) -> Mapping[str, Any] | None:
        """The sealed refresh token stored by claim, or None when none was stored or it was released."""
        ...
