"""A sync link: one professional's agenda mirrored into one Google account's calendar.

Its status moves along one path (pending_oauth -> pending_approval -> active) with side exits; the
transitions live here so that every service refuses the same impossible moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.errors import Conflict


class LinkStatus(StrEnum):
    PENDING_OAUTH = "pending_oauth"
    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    REJECTED = "rejected"
    DISABLED = "disabled"
    NEEDS_RECONNECT = "needs_reconnect"
    FAILED = "failed"


# A link in one of these holds its Google account, its user and its agenda: the uniqueness rules apply.
HOLDING = frozenset({LinkStatus.PENDING_APPROVAL, LinkStatus.ACTIVE, LinkStatus.NEEDS_RECONNECT})
# Ended links keep their history but hold nothing; a redo creates a new link.
ENDED = frozenset({LinkStatus.REJECTED, LinkStatus.DISABLED, LinkStatus.FAILED})


@dataclass(frozen=True)
class Channel:
    """A Google watch channel on the link's calendar."""

    id: str
    resource_id: str
    expires_at: datetime


@dataclass(frozen=True)
class FullSyncProgress:
    """A full sync of the link's calendar that spans several tasks: the page to go on from, and the window
    it lists (a page token belongs to the request that gave it, so every page asks for the same window)."""

    page_token: str
    time_min: datetime
    time_max: datetime
    # Pages applied so far (for logs and the bench: one checkpoint per page).
    pages: int = 0
    # When it was last checkpointed (for people looking at the link).
    saved_at: datetime | None = None
    # When its first page was listed: Google's sync token from its last page stands for the calendar as
    # that first page saw it, so the link's last pull is this moment, not the last page's.
    started_at: datetime | None = None


@dataclass(frozen=True)
class SyncLink:
    id: str
    clinic_id: str
    center_id: str
    user_id: str
    professional_id: str
    bidirectional: bool
    status: LinkStatus
    created_at: datetime
    google_email: str | None = None
    calendar_id: str | None = None
    return_url: str | None = None
    activated_at: datetime | None = None
    approved_by: str | None = None
    last_push_at: datetime | None = None
    last_pull_at: datetime | None = None
    last_error: dict[str, Any] | None = None
    channel: Channel | None = None
    sync_token: str | None = None
    conflicts: int = 0
    reason: str | None = None
    # Events changed in Google after this instant are new even in a first full sync: the last pull of the
    # same calendar under a previous link, so that a redo does not miss what happened in between.
    adopt_since: datetime | None = None
    # The clinic's privacy choices (`event.privacy_key`) the link's last backfill wrote its events with:
    # when the clinic changes them, the scheduled upkeep sees the difference and backfills the link again.
    pushed_privacy: str | None = None
    # A full sync under way (None: none, or the last one finished).
    full_sync: FullSyncProgress | None = None
    # Why the link is held back although active, e.g. Google's daily quota spent: {code, message, at, until}.
    # Cleared by the next push or pull that gets through.
    health: dict[str, Any] | None = None
    # How the link's calendar shows in its user's calendar list, as last checked (channel upkeep):
    # `shown`, `hidden` (hidden from the list) or `unselected` (listed, its events not shown); None before.
    calendar_shown: str | None = None
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # Google's stable account id (`sub`): an account's e-mail can change, its `sub` never does. None on
    # links made before it was kept.
    google_sub: str | None = None
    # Dead letters not healed yet (tasks that failed their queue's last attempt), and the drift check's own
    # checkpoint: the sync token of its listing of the calendar and when it last looked at the clinic.
    pending_failures: int = 0
    drift_sync_token: str | None = None
    drift_checked_at: datetime | None = None

    @property
    def holds_keys(self) -> bool:
        return self.status in HOLDING

    def moved(self, status: LinkStatus, at: datetime, **changes: Any) -> SyncLink:
        """The link in `status`, if the move is allowed from where it is."""
        if status not in _ALLOWED[self.status]:
            raise Conflict(
                f"link is {self.status.value}, it cannot become {status.value}", code="link_state_conflict"
            )
        return replace(self, status=status, **changes)


_ALLOWED: dict[LinkStatus, frozenset[LinkStatus]] = {
    LinkStatus.PENDING_OAUTH: frozenset(
        {LinkStatus.PENDING_APPROVAL, LinkStatus.ACTIVE, LinkStatus.FAILED, LinkStatus.DISABLED}
    ),
    LinkStatus.PENDING_APPROVAL: frozenset(
        {
            LinkStatus.ACTIVE,
            LinkStatus.REJECTED,
            LinkStatus.FAILED,
            LinkStatus.DISABLED,
            LinkStatus.NEEDS_RECONNECT,
        }
    ),
    LinkStatus.ACTIVE: frozenset({LinkStatus.DISABLED, LinkStatus.NEEDS_RECONNECT, LinkStatus.FAILED}),
    # A reconnection (the same user, the same Google account, a new consent) makes it active again.
    LinkStatus.NEEDS_RECONNECT: frozenset({LinkStatus.DISABLED, LinkStatus.ACTIVE}),
    LinkStatus.REJECTED: frozenset(),
    LinkStatus.DISABLED: frozenset(),
    LinkStatus.FAILED: frozenset(),
}


def normalized_email(email: str) -> str:
    return email.strip().lower()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def email_key(email: str) -> str:
    """One Google account syncs at most one agenda, across every clinic."""
    return f"email-{_digest(normalized_email(email))}"


def sub_key(sub: str) -> str:
    """One Google account syncs at most one agenda, by the account's stable id: an e-mail change of the
    same account keeps its key."""
    return f"sub-{_digest('sub', sub)}"


def user_key(clinic_id: str, user_id: str) -> str:
    """A user syncs one agenda, whatever the centre (it also makes user+professional+e-mail unique)."""
    return f"user-{_digest(clinic_id, user_id)}"


def account_key(email: str) -> str:
    """Where we remembered, by e-mail, the calendar this service created in a Google account (links made
    before the account's `sub` was kept; still read for them)."""
    return _digest("account", normalized_email(email))


def account_sub_key(sub: str) -> str:
    """Where we remember the calendar this service created in a Google account, by its stable `sub`."""
    return _digest("account-sub", sub)


def account_keys(link: SyncLink) -> list[str]:
    """Where the calendar of the link's Google account may be remembered, the first one preferred: by
    `sub` when the link knows it, then by e-mail (what links made before the `sub` was kept wrote)."""
    keys = [account_sub_key(link.google_sub)] if link.google_sub else []
    if link.google_email:
        keys.append(account_key(link.google_email))
    return keys


def link_keys(link: SyncLink) -> dict[str, str]:
    """The uniqueness keys the link holds, by the code of the refusal when another link holds one: its
    user's, its Google account's by e-mail and, when known, by `sub` (the e-mail key is kept so that links
    made before the `sub` was kept still refuse a second link of their account)."""
    keys = {"user_already_linked": user_key(link.clinic_id, link.user_id)}
    if link.google_email:
        keys["email_already_linked"] = email_key(link.google_email)
    if link.google_sub:
        keys["account_already_linked"] = sub_key(link.google_sub)
    return keys


def google_account_keys(email: str | None, sub: str | None) -> list[str]:
    """The uniqueness keys of a Google account (by `sub`, by e-mail), as a link of it would hold them."""
    keys = [sub_key(sub)] if sub else []
    if email:
        keys.append(email_key(email))
    return keys


def may_revoke(link_id: str, holders: Mapping[str, str | None]) -> bool:
    """Whether a refused consent's grant may be revoked at Google, given who holds each uniqueness key of
    the account that consented (key -> link id, None when free).

    Revoking one token of an account ends every grant that account gave our OAuth client (what Google is
    publicly reported to do), so a consent of an account whose live link is another one is not revoked:
    revoking it would end that link's refresh token too. The link the consent was for may hold the keys
    itself (a reconnection of its own account): its own grant is the one being replaced."""
    return all(holder in (None, link_id) for holder in holders.values())
