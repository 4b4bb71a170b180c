"""Linking an agenda to Google: consent, the clinic's rules, master approval, activation, disable."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.config import Settings
from shared.domain.clinic import Center, Professional, User
from shared.domain.errors import Conflict, DomainError, ExpiredState, Forbidden, InvalidRequest, NotFound
from shared.domain.link import LinkStatus, SyncLink, account_key, email_key, user_key
from shared.ports import (
    AccountCalendars,
    CalendarGateway,
    ClinicDirectory,
    Clock,
    GoogleError,
    KnownCalendar,
    Links,
    Notifier,
    OAuthClient,
    OAuthState,
    OAuthStates,
    SealedGrants,
    TokenCipher,
)
from shared.services import notices
from shared.services.access import Access, Need, Opened, Skipped
from shared.services.channels import ChannelService
from shared.services.tasks import RetryLater, Tasks

log = logging.getLogger(__name__)

SCOPE_CALENDAR = "https://www.googleapis.com/auth/calendar.app.created"
REQUIRED_SCOPES = frozenset({SCOPE_CALENDAR})


def new_id() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class CallbackResult:
    link: SyncLink
    reason: str | None = None


class CallbackRefused(DomainError):
    """Google's redirect refused while its link is known (the state expired, or the link is no longer
    pending), with where the clinic app asked the person to be sent back. An unknown or used state is a
    plain NotFound: nothing tells which link it was."""

    def __init__(self, refusal: DomainError, return_url: str | None) -> None:
        super().__init__(refusal.message, code=refusal.code, status=refusal.status)
        self.return_url = return_url


@dataclass
class LinkingService:
    settings: Settings
    directory: ClinicDirectory
    links: Links
    grants: SealedGrants
    states: OAuthStates
    accounts: AccountCalendars
    oauth: OAuthClient
    access: Access
    cipher: TokenCipher
    notifier: Notifier
    tasks: Tasks
    clock: Clock
    channels: ChannelService
    make_id: Callable[[], str] = field(default=new_id)

    # --- oauth_start -------------------------------------------------------------------------------
    def start(
        self,
        clinic_id: str,
        center_id: str,
        user_id: str,
        professional_id: str | None,
        bidirectional: bool,
        return_url: str | None,
    ) -> tuple[SyncLink, str]:
        """Create a link waiting for Google's consent; answer the consent URL."""
        if self.directory.clinic(clinic_id) is None:
            raise NotFound("clinic not found", code="clinic_not_found")
        if self.directory.center(clinic_id, center_id) is None:
            raise NotFound("centre not found", code="center_not_found")
        user = self._user(clinic_id, user_id)
        professional_id = self._professional_of(user, professional_id)
        if self.directory.professional(clinic_id, professional_id) is None:
            raise NotFound("professional not found", code="professional_not_found")
        if professional_id not in user.professional_ids:
            raise Forbidden(
                "the user is not linked to that professional; a master links them first",
                code="user_not_linked_to_professional",
            )
        mine = self.links.links_of_user(clinic_id, user_id)
        if any(link.holds_keys for link in mine):
            raise Conflict("this user already syncs an agenda", code="user_already_linked")
        now = self.clock.now()
        for abandoned in (link for link in mine if link.status is LinkStatus.PENDING_OAUTH):
            self.links.save(abandoned.moved(LinkStatus.FAILED, now, reason="superseded"))
        link = SyncLink(
            id=self.make_id(),
            clinic_id=clinic_id,
            center_id=center_id,
            user_id=user_id,
            professional_id=professional_id,
            bidirectional=bidirectional,
            status=LinkStatus.PENDING_OAUTH,
            created_at=now,
            return_url=return_url,
        )
        state_id = secrets.token_urlsafe(32)
        url, verifier = self.oauth.authorization_url(state_id)
        state = OAuthState(
            id=state_id,
            clinic_id=clinic_id,
            link_id=link.id,
            code_verifier=verifier,
            expires_at=now + timedelta(seconds=self.settings.oauth_state_ttl_seconds),
        )
        self.states.create_with_state(link, state)
        log.info("link started", extra={"linkId": link.id, "clinicId": clinic_id})
        return link, url

    # --- oauth_callback ----------------------------------------------------------------------------
    def complete(self, state_id: str, code: str | None, error: str | None) -> CallbackResult:
        """Finish the consent round trip: apply the rules, hold the link, activate or ask the masters."""
        try:
            state = self.states.take_state(state_id, self.clock.now())
        except ExpiredState as exc:
            expired = self.links.get(exc.clinic_id, exc.link_id)
            raise CallbackRefused(exc, expired.return_url if expired else None) from None
        link = self.links.get(state.clinic_id, state.link_id)
        if link is None or link.status is not LinkStatus.PENDING_OAUTH:
            refusal = Conflict("this sign-in was already completed or cancelled", code="link_not_pending")
            raise CallbackRefused(refusal, link.return_url if link else None)
        if error or not code:
            return self._fail(link, "access_denied" if error in (None, "access_denied") else "oauth_error")
        try:
            grant = self.oauth.exchange(code, state.code_verifier)
        except GoogleError as exc:
            log.warning("code exchange refused", extra={"linkId": link.id, "reason": exc.reason})
            return self._fail(link, "exchange_failed")
        if not grant.scopes >= REQUIRED_SCOPES:
            return self._fail(link, "missing_scope")
        if not grant.refresh_token:
            return self._fail(link, "no_refresh_token")
        user = self._user(link.clinic_id, link.user_id)
        now = self.clock.now()
        held = link.moved(LinkStatus.PENDING_APPROVAL, now, google_email=grant.email.strip().lower())
        if user.is_master:
            held = replace(held, approved_by=user.id)
        keys = {
            "email_already_linked": email_key(grant.email),
            "user_already_linked": user_key(link.clinic_id, link.user_id),
        }
        sealed = self.cipher.encrypt(grant.refresh_token, context=link.id)
        try:
            self.grants.claim(held, keys, sealed)
        except Conflict as exc:
            return self._fail(replace(link, google_email=held.google_email), exc.code)
        if user.is_master:
            return CallbackResult(self.activate(held))
        self._ask_masters(held, user)
        return CallbackResult(held)

    def _fail(self, link: SyncLink, reason: str) -> CallbackResult:
        failed = link.moved(LinkStatus.FAILED, self.clock.now(), reason=reason)
        self.links.save(failed)
        log.info("link failed", extra={"linkId": link.id, "reason": reason})
        return CallbackResult(failed, reason)

    def _ask_masters(self, link: SyncLink, requester: User) -> None:
        # Named by id if the clinic deleted them meanwhile: the masters must still be asked.
        professional = self.directory.professional(link.clinic_id, link.professional_id) or Professional(
            link.clinic_id, link.professional_id
        )
        center = self.directory.center(link.clinic_id, link.center_id) or Center(
            link.clinic_id, link.center_id
        )
        for master in self.directory.masters(link.clinic_id):
            self.notifier.notify(notices.approval_requested(master, requester, professional, center, link))

    # --- approve_link ------------------------------------------------------------------------------
    def decide(self, clinic_id: str, center_id: str, master_id: str, link_id: str, approve: bool) -> SyncLink:
        """A master approves or rejects a pending link, from the centre where it was requested."""
        master = self._user(clinic_id, master_id)
        if not master.is_master:
            raise Forbidden("only the clinic's master can authorize a link", code="not_master")
        link = self._link(clinic_id, link_id)
        if center_id != link.center_id:
            raise Forbidden("authorize from the centre where the link was requested", code="wrong_center")
        if _decided(link) == approve:
            return link  # the same decision again (a retry): answered as the first time, nothing redone
        if link.status is not LinkStatus.PENDING_APPROVAL or link.approved_by:
            raise Conflict(f"the link is {link.status.value}", code="link_not_pending")
        if not approve:
            rejected = link.moved(LinkStatus.REJECTED, self.clock.now(), approved_by=None, reason="rejected")
            self.grants.release(rejected)
            owner = self.directory.user(clinic_id, link.user_id)
            if owner is not None:
                self.notifier.notify(notices.rejected(owner, rejected))
            return rejected
        approved = replace(link, approved_by=master.id)
        self.links.save(approved)
        return self.activate(approved)

    # --- activation --------------------------------------------------------------------------------
    def activate(self, link: SyncLink) -> SyncLink:
        """Create or adopt the calendar, start the watch channel, queue the backfill: the link is active.

        A transient failure leaves the link approved but not active, with the error recorded, so that the
        scheduled upkeep activates it later; a permanent one fails it and frees its keys.
        """
        now = self.clock.now()
        opened = self.access.open_link(link, Need.GRANT)
        if isinstance(opened, Skipped):
            log.warning("link not activated", extra={"linkId": link.id, "reason": opened.reason})
            return link
        try:
            active = self.access.run(link, lambda: self._activated(opened, now))
        except RetryLater as exc:
            pending = replace(
                link, last_error={"code": "activation_pending", "message": str(exc), "at": now.isoformat()}
            )
            self.links.save(pending)
            return pending
        except GoogleError as exc:
            failed = link.moved(
                LinkStatus.FAILED,
                now,
                reason="activation_failed",
                last_error={"code": exc.reason or "google_error", "message": str(exc), "at": now.isoformat()},
            )
            self.grants.release(failed)
            return failed
        if isinstance(active, Skipped):
            return active.link or link  # the grant was refused: the link needs reconnecting
        self.links.save(active)
        self.tasks.backfill(active)
        log.info("link active", extra={"linkId": link.id, "bidirectional": link.bidirectional})
        return active

    def _activated(self, opened: Opened, now: datetime) -> SyncLink:
        """The link made active in its calendar (created or adopted), watched when it is two-way."""
        link = opened.link
        calendar = self._calendar(link, opened.gateway)
        active = link.moved(
            LinkStatus.ACTIVE,
            now,
            calendar_id=calendar.calendar_id,
            adopt_since=calendar.last_pull_at,
            activated_at=now,
            last_error=None,
            reason=None,
        )
        if active.bidirectional:
            active = self.channels.start(Opened(active, opened.clinic, opened.gateway))
        return active

    def _calendar(self, link: SyncLink, gateway: CalendarGateway) -> KnownCalendar:
        """The calendar we created in this account before (a redo adopts it), or a new one."""
        assert link.google_email
        account = account_key(link.google_email)
        known = self.accounts.remembered_calendar(account)
        if known and gateway.calendar_exists(known.calendar_id):
            return known
        center = self.directory.center(link.clinic_id, link.center_id)
        time_zone = center.time_zone if center else "UTC"
        created = KnownCalendar(gateway.create_calendar(self.settings.calendar_name, time_zone))
        self.accounts.remember_calendar(account, created)
        return created

    def retry_activations(self) -> int:
        """Activate approved links whose activation failed for a transient reason (scheduled upkeep)."""
        retried = self.links.links_awaiting_activation()
        for link in retried:
            self.activate(link)
        return len(retried)

    # --- disable_link / list_links -----------------------------------------------------------------
    def disable(self, clinic_id: str, user_id: str, link_id: str) -> SyncLink:
        """End a link: stop its channel, forget its tokens; the Google calendar and its events stay."""
        link = self.owned_link(clinic_id, user_id, link_id)
        if link.status is LinkStatus.DISABLED:
            return link
        disabled = link.moved(LinkStatus.DISABLED, self.clock.now(), channel=None)
        self.channels.stop(link)
        self.grants.release(disabled)
        if link.calendar_id and link.google_email:
            # A later link of this account adopts the calendar, and what changed there since this pull.
            last_pull = link.last_pull_at or link.adopt_since or link.activated_at
            self.accounts.remember_calendar(
                account_key(link.google_email), KnownCalendar(link.calendar_id, last_pull)
            )
        log.info("link disabled", extra={"linkId": link.id, "by": user_id})
        return disabled

    def owned_link(self, clinic_id: str, user_id: str, link_id: str) -> SyncLink:
        """A link its owner or a master of its clinic may act on (disable, resync); NotFound otherwise."""
        user = self._user(clinic_id, user_id)
        link = self._link(clinic_id, link_id)
        if link.user_id != user.id and not user.is_master:
            raise NotFound("link not found", code="link_not_found")  # never reveal someone else's link
        return link

    def visible_links(self, clinic_id: str, user_id: str) -> list[SyncLink]:
        """A user's own links; every link of the clinic for a master."""
        user = self._user(clinic_id, user_id)
        if user.is_master:
            return self.links.links_of_clinic(clinic_id)
        return self.links.links_of_user(clinic_id, user_id)

    # --- helpers -----------------------------------------------------------------------------------
    def _user(self, clinic_id: str, user_id: str) -> User:
        user = self.directory.user(clinic_id, user_id)
        if user is None:
            raise NotFound("user not found", code="user_not_found")
        return user

    def _link(self, clinic_id: str, link_id: str) -> SyncLink:
        link = self.links.get(clinic_id, link_id)
        if link is None:
            raise NotFound("link not found", code="link_not_found")
        return link

    @staticmethod
    def _professional_of(user: User, professional_id: str | None) -> str:
        if professional_id:
            return professional_id
        if len(user.professional_ids) == 1:
            return user.professional_ids[0]
        if not user.professional_ids:
            raise Forbidden(
                "the user is not linked to any professional; a master links them first",
                code="user_not_linked_to_professional",
            )
        raise InvalidRequest(
            "the user is linked to several professionals: name one in professionalId",
            code="professional_required",
        )


# Where a master's approval leads: activation, or its failure (permanent, or Google access lost meanwhile).
_APPROVED = frozenset(
    {LinkStatus.PENDING_APPROVAL, LinkStatus.ACTIVE, LinkStatus.FAILED, LinkStatus.NEEDS_RECONNECT}
)


def _decided(link: SyncLink) -> bool | None:
    """The master's decision on a link: True approved, False rejected, None not decided (or since
    disabled: a decision on a disabled link is refused, not repeated)."""
    if link.status is LinkStatus.REJECTED:
        return False
    if link.approved_by and link.status in _APPROVED:
        return True
    return None
