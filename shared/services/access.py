"""Opening a link for work, and what Google's failures mean for it: the one place for both.

Every worker (push, backfill, pull, channel upkeep) and the activation open a link through `Access.open`
or `Access.open_link`: one call answers the link, its clinic and a Calendar gateway acting with the link's
grant together, or why the work is skipped. Google's failures reach the services as the typed errors of
`shared.ports`; `judge` is the one place that says what each means:

- the grant is revoked or expired (`AuthRevoked`), a Workspace administrator blocks the app
  (`AdminBlocked`), our OAuth client is gone (`ClientDeleted`), or the user deleted the calendar
  (`CalendarDeleted`): the link needs reconnecting, with a reason of its own; its user and the clinic's
  masters are told once (`Access.lose`), and nothing is retried;
- Google is busy (`Transient`): the work is tried again, after the quota's window when Google refused it
  for a quota (`RetryLater`, see `shared.services.tasks`), or hours later when the refusal was for the day's
  allowance (the link's health then says so, until a push or pull gets through);
- anything else concerns one event (`Refused`): the push planner decides what follows it.

A new kind of failure is one new branch in `judge` (and, for a new link state, a reason in `LoseAccess`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, NoReturn, TypeVar

from shared.domain.clinic import Clinic, User
from shared.domain.errors import Conflict, DomainError
from shared.domain.link import LinkStatus, SyncLink
from shared.domain.planner import Refusal
from shared.ports import (
    AdminBlocked,
    AlreadyExists,
    AuthRevoked,
    CalendarConnector,
    CalendarDeleted,
    CalendarGateway,
    ClientDeleted,
    ClinicDirectory,
    Clock,
    GoogleError,
    Links,
    Notice,
    Notifier,
    PreconditionFailed,
    RemoteMissing,
    SealedGrants,
    SyncStatus,
    TokenCipher,
    Transient,
)
from shared.services import notices
from shared.services.tasks import DAILY_QUOTA_WINDOW, QUOTA_WINDOW, RetryLater

log = logging.getLogger(__name__)

T = TypeVar("T")


# --- what a failure means -------------------------------------------------------------------------
@dataclass(frozen=True)
class LoseAccess:
    """The link can no longer act in the Google account: it needs reconnecting.

    `code` is recorded as the link's last error; `reason`, when set, as the link's reason.
    """

    code: str
    message: str
    reason: str | None = None


@dataclass(frozen=True)
class TryLater:
    """Google is busy: the whole task is tried again (`defer_seconds`: in a new task that much later).

    `health`, when set, is the code marked on the link's health meanwhile (a wait of hours is worth showing).
    """

    message: str
    defer_seconds: float | None = None
    health: str | None = None

    def retry(self) -> RetryLater:
        return RetryLater(self.message, defer_seconds=self.defer_seconds)


@dataclass(frozen=True)
class Refused:
    """Google refused one request; what follows is the caller's planner's to decide."""

    refusal: Refusal
    code: str
    message: str


Verdict = LoseAccess | TryLater | Refused


class LostReason(StrEnum):
    """Why a link needs reconnecting, when it is more than a revoked or expired grant (the link's reason)."""

    CALENDAR_DELETED = "calendar_deleted"
    ADMIN_BLOCKED = "admin_blocked"
    CLIENT_DELETED = "client_deleted"


def calendar_deleted(message: str) -> LoseAccess:
    """The user deleted the link's calendar: a redo creates a new one (see LinkingService._calendar)."""
    return LoseAccess(LostReason.CALENDAR_DELETED, message, reason=LostReason.CALENDAR_DELETED)


def judge(error: GoogleError) -> Verdict:
    """What a failure of Google means for the link and its work."""
    if isinstance(error, AuthRevoked):
        return LoseAccess("invalid_grant", str(error))
    if isinstance(error, Transient) and error.daily:
        return TryLater(str(error), DAILY_QUOTA_WINDOW.total_seconds(), health="daily_quota_exceeded")
    if isinstance(error, CalendarDeleted):
        return calendar_deleted(str(error))
    if isinstance(error, AdminBlocked):
        return LoseAccess(LostReason.ADMIN_BLOCKED, str(error), reason=LostReason.ADMIN_BLOCKED)
    if isinstance(error, ClientDeleted):
        return LoseAccess(LostReason.CLIENT_DELETED, str(error), reason=LostReason.CLIENT_DELETED)
    if isinstance(error, Transient):
        return TryLater(str(error), QUOTA_WINDOW.total_seconds() if error.quota else None)
    code = error.reason or "google_error"
    if isinstance(error, AlreadyExists):
        return Refused(Refusal.EXISTS, code, str(error))
    if isinstance(error, RemoteMissing):
        return Refused(Refusal.MISSING, code, str(error))
    if isinstance(error, PreconditionFailed):
        return Refused(Refusal.CHANGED, code, str(error))
    return Refused(Refusal.REFUSED, code, str(error))


# --- opening a link -------------------------------------------------------------------------------
class SkipReason(StrEnum):
    """Why work on a link is not done (the workers report it as `skipped`)."""

    LINK_NOT_ACTIVE = "link not active"
    NOT_TWO_WAY = "not an active two-way link"
    CLINIC_NOT_FOUND = "clinic not found"
    CLINIC_INVALID = "clinic document not valid"
    NO_GRANT = "link has no grant"
    ACCESS_LOST = "google access lost"


class Need(Enum):
    """What the work needs of the link; its value is the skip reason when the link does not have it."""

    GRANT = SkipReason.NO_GRANT  # only the grant (activation, channels): any status the caller chose
    ACTIVE = SkipReason.LINK_NOT_ACTIVE  # an active link with its calendar (push, backfill)
    TWO_WAY = SkipReason.NOT_TWO_WAY  # an active two-way link with its calendar (pull)

    def admits(self, link: SyncLink | None) -> bool:
        if link is None:
            return False
        if self is Need.GRANT:
            return True
        active = link.status is LinkStatus.ACTIVE and bool(link.calendar_id)
        return active and (self is Need.ACTIVE or link.bidirectional)


@dataclass(frozen=True)
class Opened:
    """A link ready for work: the link, its clinic, and the Calendar API acting as its Google account."""

    link: SyncLink
    clinic: Clinic
    gateway: CalendarGateway

    def list_every_page(
        self,
        *,
        sync_token: str | None,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every event of the link's calendar the list names, following every page; Google's next sync
        token comes with the last page."""
        assert self.link.calendar_id
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            page = self.gateway.list_events(
                self.link.calendar_id,
                sync_token=sync_token,
                time_min=time_min,
                time_max=time_max,
                page_token=page_token,
            )
            items.extend(page.items)
            if not page.next_page_token:
                return items, page.next_sync_token
            page_token = page.next_page_token


@dataclass(frozen=True)
class Skipped:
    """Why the work is not done; `link` is the link as it is now when that changed (access lost)."""

    reason: SkipReason
    link: SyncLink | None = None
    # What the link's lastError should say about it (a malformed clinic document), when it should.
    error: DomainError | None = None


@dataclass
class Access:
    links: Links
    grants: SealedGrants
    directory: ClinicDirectory
    cipher: TokenCipher
    calendars: CalendarConnector
    notifier: Notifier
    clock: Clock
    status: SyncStatus

    def open(self, clinic_id: str, link_id: str, need: Need) -> Opened | Skipped:
        """Read the link and open it for work, or say why not."""
        return self.open_link(self.links.get(clinic_id, link_id), need)

    def open_link(self, link: SyncLink | None, need: Need) -> Opened | Skipped:
        """Open a link the caller holds: check it, read its clinic, and connect with its grant."""
        if link is None or not need.admits(link):
            return Skipped(need.value)
        try:
            clinic = self.directory.clinic(link.clinic_id)
        except DomainError as exc:
            # Anyone of the clinic may have written its document: the work is skipped (acknowledged, never
            # retried for ever) and the link tells why, until the clinic is corrected.
            log.warning("clinic unreadable", extra={"linkId": link.id, "code": exc.code})
            return Skipped(SkipReason.CLINIC_INVALID, link, exc)
        if clinic is None:
            return Skipped(SkipReason.CLINIC_NOT_FOUND)
        sealed = self.grants.encrypted_token(link.id)
        if sealed is None:
            return Skipped(SkipReason.NO_GRANT)  # disabled meanwhile, or its token was deleted
        gateway = self.calendars.connect(self.cipher.decrypt(sealed, context=link.id))
        return Opened(link, clinic, gateway)

    def error_of(self, skipped: Skipped) -> tuple[SyncLink, dict[str, str]] | None:
        """The link and the lastError a skip should leave on it (a malformed clinic), if any."""
        if skipped.error is None or skipped.link is None:
            return None
        at = self.clock.now().isoformat()
        return skipped.link, {"code": skipped.error.code, "message": skipped.error.message, "at": at}

    def still_open(self, opened: Opened, need: Need) -> Opened | None:
        """The opened link read again (a long task stops when the link ended meanwhile)."""
        link = self.links.get(opened.link.clinic_id, opened.link.id)
        if link is None or not need.admits(link):
            return None
        return Opened(link, opened.clinic, opened.gateway)

    # --- failures ----------------------------------------------------------------------------------
    def run(self, link: SyncLink, work: Callable[[], T]) -> T | Skipped:
        """Do `work`, which calls Google for `link`, and answer Google's failures as `judge` says: access
        lost skips it (the link changed), busy raises RetryLater; a refusal is the caller's (re-raised)."""
        try:
            return work()
        except GoogleError as error:
            return self.failed(link, error)

    def failed(self, link: SyncLink, error: GoogleError) -> Skipped:
        """Act on a failure that concerns the whole link; re-raise one that concerns a single request."""
        verdict = judge(error)
        if isinstance(verdict, LoseAccess):
            return Skipped(SkipReason.ACCESS_LOST, self.lose(link, verdict))
        if isinstance(verdict, TryLater):
            if verdict.health:
                self.mark(link, verdict)
            raise verdict.retry() from None
        _reraise(error)

    def mark(self, link: SyncLink, verdict: TryLater) -> None:
        """Show on the link why its work waits for hours (list_links and the console show `health`)."""
        now = self.clock.now()
        until = now + timedelta(seconds=verdict.defer_seconds or 0)
        health = {"code": verdict.health, "message": verdict.message, "at": now.isoformat()}
        self.status.save_health(link, {**health, "until": until.isoformat()})
        log.warning("google quota for the day spent", extra={"linkId": link.id, "code": verdict.health})

    def lose(self, link: SyncLink, verdict: LoseAccess) -> SyncLink:
        """Google refused the grant: the link needs reconnecting; tell its user and the masters, once."""
        now = self.clock.now()
        changes = {"reason": verdict.reason} if verdict.reason else {}

        def lost_from(current: SyncLink) -> SyncLink | None:
            if current.status is LinkStatus.NEEDS_RECONNECT:
                return None
            try:
                return current.moved(
                    LinkStatus.NEEDS_RECONNECT,
                    now,
                    last_error={"code": verdict.code, "message": verdict.message, "at": now.isoformat()},
                    **changes,
                )
            except Conflict:
                return None  # already ended: nothing to surface

        # Decided on the link as stored, in one transaction: a dead letter counted or a sync token saved
        # meanwhile by another task is kept, not overwritten by an older copy.
        stored, moved = self.links.move(link.clinic_id, link.id, lost_from)
        if not moved or stored is None:
            return stored or link
        lost = stored
        log.warning("google access lost", extra={"linkId": link.id, "clinicId": link.clinic_id})
        recipients = {m.id: m for m in self.directory.masters(link.clinic_id)}
        owner = self.directory.user(link.clinic_id, link.user_id)
        if owner is not None:
            recipients[owner.id] = owner
        for user in recipients.values():
            self.notifier.notify(notices.needs_reconnect(user, lost))
        return lost

    def tell_owner(self, link: SyncLink, notice: Callable[[User], Notice]) -> None:
        """Tell the link's user something about their link (in the app and by e-mail)."""
        owner = self.directory.user(link.clinic_id, link.user_id)
        if owner is not None:
            self.notifier.notify(notice(owner))


def _reraise(error: GoogleError) -> NoReturn:
    raise error
