"""Linking an agenda to Google: consent, the clinic's rules, master approval, activation, disable."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.config import Settings
from shared.domain.clinic import Center, Professional, User
from shared.domain.errors import Conflict, DomainError, ExpiredState, Forbidden, InvalidRequest, NotFound
from shared.domain.link import LinkStatus, SyncLink, account_keys, google_account_keys, link_keys, may_revoke
from shared.ports import (
    AccountCalendars,
    CalendarGateway,
    ClinicDirectory,
    Clock,
    GoogleError,
    HeldConsent,
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
    """Where a step of the consent left the link; `reason` when it failed; `code` (from the callback) the
    one-time code the person's browser carries back to the clinic app, which redeems it."""

    link: SyncLink
    reason: str | None = None
    code: str | None = None


def code_hash(code: str) -> str:
    """How a one-time code is stored: a random 256-bit code needs no slow hash, only not to be kept."""
    return hashlib.sha256(code.encode()).hexdigest()


# A consent for a link in one of these is completed by the callback: a new link, or a reconnection.
_CONSENTING = frozenset({LinkStatus.PENDING_OAUTH, LinkStatus.NEEDS_RECONNECT})


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
        reconnect: str | None = None,
    ) -> tuple[SyncLink, str]:
        """Create a link waiting for Google's consent; answer the consent URL. With `reconnect` (a link id),
        a new consent for the user's own link that needs reconnecting instead: no new link."""
        if reconnect is not None:
            return self._reconnect(clinic_id, user_id, reconnect, return_url)
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
        url = self._consent(link, now)
        log.info("link started", extra={"linkId": link.id, "clinicId": clinic_id})
        return link, url

    def _reconnect(
        self, clinic_id: str, user_id: str, link_id: str, return_url: str | None
    ) -> tuple[SyncLink, str]:
        """A new consent for a link whose grant Google refused: only its own user, only while it needs
        reconnecting. The account is checked when the consent is redeemed (it must be the link's)."""
        self._user(clinic_id, user_id)
        link = self._link(clinic_id, link_id)
        if link.user_id != user_id:
            raise NotFound("link not found", code="link_not_found")  # never reveal someone else's link
        if link.status is not LinkStatus.NEEDS_RECONNECT:
            raise Conflict(f"the link is {link.status.value}", code="link_not_reconnectable")
        if return_url != link.return_url:
            # Where this consent sends the person back; moved only while the link still waits.
            stored, _ = self.links.move(
                clinic_id,
                link_id,
                lambda stored: (
                    replace(stored, return_url=return_url)
                    if stored.status is LinkStatus.NEEDS_RECONNECT
                    else None
                ),
            )
            link = stored or link
        url = self._consent(link, self.clock.now(), new=False)
        log.info("reconnection started", extra={"linkId": link.id, "clinicId": clinic_id})
        return link, url

    def _consent(self, link: SyncLink, now: datetime, new: bool = True) -> str:
        """Google's consent URL for the link, its single-use state written with the (`new`) link."""
        state_id = secrets.token_urlsafe(32)
        url, verifier = self.oauth.authorization_url(state_id)
        state = OAuthState(
            id=state_id,
            clinic_id=link.clinic_id,
            link_id=link.id,
            code_verifier=verifier,
            expires_at=now + timedelta(seconds=self.settings.oauth_state_ttl_seconds),
        )
        if new:
            self.states.create_with_state(link, state)
        else:
            self.states.create_state(state)
        return url

    # --- oauth_callback ----------------------------------------------------------------------------
    def complete(self, state_id: str, code: str | None, error: str | None) -> CallbackResult:
        """Finish the consent round trip at Google's redirect: check and hold what Google granted, and
        answer the one-time code the person's browser carries back to the clinic app.

        Nothing counts yet: whoever holds the consent URL can consent with any Google account, so the link
        is claimed, approved or activated only when the user who started it redeems the code from their
        own session in the clinic app (`redeem`). A consent that fails here fails the link (a reconnection
        keeps its link as it was), its tokens revoked unless another link holds the account."""
        try:
            state = self.states.take_state(state_id, self.clock.now())
        except ExpiredState as exc:
            expired = self.links.get(exc.clinic_id, exc.link_id)
            raise CallbackRefused(exc, expired.return_url if expired else None) from None
        link = self.links.get(state.clinic_id, state.link_id)
        if link is None or link.status not in _CONSENTING:
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
            self._refuse_grant(link, grant.refresh_token or grant.access_token, grant.email, grant.subject)
            return self._fail(link, "missing_scope")
        if not grant.refresh_token:
            self._refuse_grant(link, grant.access_token, grant.email, grant.subject)
            return self._fail(link, "no_refresh_token")
        one_time = secrets.token_urlsafe(32)
        self.states.hold_consent(
            HeldConsent(
                clinic_id=link.clinic_id,
                link_id=link.id,
                code_hash=code_hash(one_time),
                expires_at=self.clock.now() + timedelta(seconds=self.settings.link_code_ttl_seconds),
                sealed_token=self.cipher.encrypt(grant.refresh_token, context=link.id),
                email=grant.email.strip().lower(),
                subject=grant.subject,
            )
        )
        log.info("consent held", extra={"linkId": link.id})
        return CallbackResult(link, code=one_time)

    # --- complete_link -----------------------------------------------------------------------------
    def redeem(self, clinic_id: str, user_id: str, link_id: str, code: str) -> CallbackResult:
        """The user who started the link redeems the callback's one-time code: only now does the consent
        count. A new link is claimed (one Google account, one user: one link), then activated for a master
        or put to the masters; a reconnection takes the new grant if it is the link's own account."""
        self._user(clinic_id, user_id)
        link = self._link(clinic_id, link_id)
        if link.user_id != user_id:
            raise NotFound("link not found", code="link_not_found")  # never reveal someone else's link
        held = self.states.take_consent(clinic_id, link_id, code_hash(code))
        token = self.cipher.decrypt(held.sealed_token, context=link.id)
        if held.expires_at <= self.clock.now():
            self._refuse_consent(link, held, token)
            return self._fail(link, "code_expired")
        link = self._link(clinic_id, link_id)  # as it is now that the code is spent
        if link.status is LinkStatus.NEEDS_RECONNECT:
            return self._reconnected(link, held, token)
        if link.status is not LinkStatus.PENDING_OAUTH:
            self._refuse_consent(link, held, token)
            raise Conflict("this sign-in was already completed or cancelled", code="link_not_pending")
        user = self._user(clinic_id, user_id)
        now = self.clock.now()
        claimed = link.moved(
            LinkStatus.PENDING_APPROVAL, now, google_email=held.email, google_sub=held.subject
        )
        if user.is_master:
            claimed = replace(claimed, approved_by=user.id)
        try:
            self.grants.claim(claimed, link_keys(claimed), held.sealed_token)
        except Conflict as exc:
            # Refused: another link holds the user or the account; the grant is revoked only when no
            # other link holds the account (see _refuse_grant).
            self._refuse_consent(link, held, token)
            reason = "email_already_linked" if exc.code == "account_already_linked" else exc.code
            return self._fail(replace(link, google_email=held.email, google_sub=held.subject), reason)
        if user.is_master:
            return CallbackResult(self.activate(claimed))
        self._ask_masters(claimed, user)
        return CallbackResult(claimed)

    def _reconnected(self, link: SyncLink, held: HeldConsent, token: str) -> CallbackResult:
        """A reconnection's consent: the link's own Google account takes the link back, active again with
        its calendar, without a new approval; another account changes nothing (its grant is revoked)."""
        same = (
            held.subject == link.google_sub
            if link.google_sub and held.subject
            else held.email == (link.google_email or "").strip().lower()
        )
        if not same:
            self._refuse_consent(link, held, token)
            log.info("reconnection refused: another account", extra={"linkId": link.id})
            return CallbackResult(link, "other_account")
        repaired = replace(link, google_email=held.email, google_sub=held.subject or link.google_sub)
        try:
            self.grants.claim(repaired, link_keys(repaired), held.sealed_token)
        except Conflict as exc:
            self._refuse_consent(link, held, token)
            return CallbackResult(link, exc.code)
        return CallbackResult(self.activate(repaired))

    def _refuse_consent(self, link: SyncLink, held: HeldConsent, token: str) -> None:
        self._refuse_grant(link, token, held.email, held.subject)

    def _refuse_grant(
        self, link: SyncLink, token: str | None, email: str | None, subject: str | None
    ) -> None:
        """Revoke a refused consent's grant, unless another link holds the account that consented.

        Revoking any token of an account ends every grant that account gave our OAuth client (Google's
        behaviour as reported publicly; its reference says only that an access token's revocation takes
        its refresh token along), so revoking a second consent of a linked account would end the live
        link's refresh token. That grant is left to the live link, which keeps using the account's grant;
        our copy of the refused consent is dropped anyway. Disable and reject always revoke: the link
        ending holds its account's keys itself, so no other live link has that account."""
        holders = {key: self.grants.holder(key) for key in google_account_keys(email, subject)}
        if not may_revoke(link.id, holders):
            log.info(
                "refused consent's grant kept: another link holds its account", extra={"linkId": link.id}
            )
            return
        self._revoke(token)

    def _revoke(self, token: str | None) -> None:
        """Revoke a grant at Google, best effort (our copy of it is dropped anyway).

        Google documents that its revoke endpoint takes an access or a refresh token, and that revoking an
        access token revokes its refresh token too; revoking ends every grant the token's account gave this
        client (as reported publicly, and as the local fake Google does): callers revoke only a grant whose
        account no other live link holds (see _refuse_grant)."""
        if token:
            self.oauth.revoke(token)

    def _fail(self, link: SyncLink, reason: str) -> CallbackResult:
        if link.status is not LinkStatus.PENDING_OAUTH:
            # A reconnection's consent that failed: the link still needs reconnecting, as it was.
            log.info("reconnection failed", extra={"linkId": link.id, "reason": reason})
            return CallbackResult(link, reason)
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
        """A master approves or rejects a pending link, from the centre where it was requested.

        The decision is a move of the stored link (Links.move): of two masters deciding at once, one
        decides and the other answers the link as decided, so one calendar is created."""
        master = self._user(clinic_id, master_id)
        if not master.is_master:
            raise Forbidden("only the clinic's master can authorize a link", code="not_master")
        link = self._link(clinic_id, link_id)
        if center_id != link.center_id:
            raise Forbidden("authorize from the centre where the link was requested", code="wrong_center")
        now = self.clock.now()

        def decided(stored: SyncLink) -> SyncLink | None:
            if stored.status is not LinkStatus.PENDING_APPROVAL or stored.approved_by:
                return None
            if approve:
                return replace(stored, approved_by=master.id)
            return stored.moved(LinkStatus.REJECTED, now, approved_by=None, reason="rejected")

        stored, moved = self.links.move(clinic_id, link_id, decided)
        assert stored is not None
        if not moved:
            if _decided(stored) == approve:
                return stored  # the same decision again (a retry, or another master): nothing redone
            raise Conflict(f"the link is {stored.status.value}", code="link_not_pending")
        if not approve:
            self._revoke_grant(stored)
            self.grants.release(stored)
            owner = self.directory.user(clinic_id, link.user_id)
            if owner is not None:
                self.notifier.notify(notices.rejected(owner, stored))
            return stored
        return self.activate(stored)

    # --- activation --------------------------------------------------------------------------------
    def activate(self, link: SyncLink) -> SyncLink:
        """Create or adopt the calendar, start the watch channel, queue the backfill: the link is active.

        A transient failure leaves the link approved but not active, with the error recorded, so that the
        scheduled upkeep activates it later; a permanent one fails it and frees its keys. Each outcome is
        written only if the link is still where it was (Links.move): a link disabled meanwhile stays
        disabled, and the channel this activation started is stopped.
        """
        now = self.clock.now()
        opened = self.access.open_link(link, Need.GRANT)
        if isinstance(opened, Skipped):
            log.warning("link not activated", extra={"linkId": link.id, "reason": opened.reason})
            return link
        try:
            active = self.access.run(link, lambda: self._activated(opened, now))
        except RetryLater as exc:
            error = {"code": "activation_pending", "message": str(exc), "at": now.isoformat()}
            return self._settle(link, replace(link, last_error=error))
        except GoogleError as exc:
            failed = link.moved(
                LinkStatus.FAILED,
                now,
                reason="activation_failed",
                last_error={"code": exc.reason or "google_error", "message": str(exc), "at": now.isoformat()},
            )
            settled = self._settle(link, failed)
            if settled is failed:
                self.grants.release(failed)
            return settled
        if isinstance(active, Skipped):
            return active.link or link  # the grant was refused: the link needs reconnecting
        settled = self._settle(link, active)
        if settled is not active:
            log.info("activation overtaken", extra={"linkId": link.id, "status": settled.status.value})
            if active.channel:
                self.channels.stop(active)
            return settled
        self.tasks.backfill(active)
        log.info("link active", extra={"linkId": link.id, "bidirectional": link.bidirectional})
        return active

    def _settle(self, link: SyncLink, outcome: SyncLink) -> SyncLink:
        """Write an activation's outcome if the stored link is still in the status it started from:
        `outcome` itself when written, else the link as it is stored now."""
        stored, moved = self.links.move(
            link.clinic_id, link.id, lambda now: outcome if now.status is link.status else None
        )
        return outcome if moved else (stored or link)

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
        """The calendar we created in this account for the link's clinic before (a redo, or a reconnection,
        adopts it), or a new one. Another clinic's calendar in the same account is never chosen: its events
        and records are that clinic's. Remembered under the account's `sub` (an e-mail change keeps it); the
        e-mail's key is still read for calendars remembered before the `sub` was kept."""
        keys = account_keys(link)
        assert keys
        if link.calendar_id and gateway.calendar_exists(link.calendar_id):
            return KnownCalendar(link.calendar_id, link.adopt_since)  # a reconnection keeps its calendar
        for key in keys:
            known = self.accounts.remembered_calendar(link.clinic_id, key)
            if known and gateway.calendar_exists(known.calendar_id):
                if key != keys[0]:
                    self.accounts.remember_calendar(link.clinic_id, keys[0], known)
                return known
        center = self.directory.center(link.clinic_id, link.center_id)
        time_zone = center.time_zone if center else "UTC"
        created = KnownCalendar(gateway.create_calendar(self.settings.calendar_name, time_zone))
        self.accounts.remember_calendar(link.clinic_id, keys[0], created)
        return created

    def retry_activations(self) -> int:
        """Activate approved links whose activation failed for a transient reason (scheduled upkeep)."""
        retried = self.links.links_awaiting_activation()
        for link in retried:
            self.activate(link)
        return len(retried)

    # --- disable_link / list_links -----------------------------------------------------------------
    def disable(self, clinic_id: str, user_id: str, link_id: str) -> SyncLink:
        """End a link: stop its channel, revoke and forget its grant; the Google calendar and its events
        stay. The disable is a move of the stored link, so an activation finishing meanwhile cannot undo
        it, and the channel stopped is the one stored."""
        self.owned_link(clinic_id, user_id, link_id)
        now = self.clock.now()
        before: list[SyncLink] = []

        def disabled(stored: SyncLink) -> SyncLink | None:
            if stored.status is LinkStatus.DISABLED:
                return None
            before[:] = [stored]
            return stored.moved(LinkStatus.DISABLED, now, channel=None)

        ended, moved = self.links.move(clinic_id, link_id, disabled)
        assert ended is not None
        if not moved:
            return ended
        [link] = before
        self.channels.stop(link)
        self._revoke_grant(link)
        self.grants.release(ended)
        if link.calendar_id and account_keys(link):
            # A later link of this account adopts the calendar, and what changed there since this pull.
            last_pull = link.last_pull_at or link.adopt_since or link.activated_at
            self.accounts.remember_calendar(
                link.clinic_id, account_keys(link)[0], KnownCalendar(link.calendar_id, last_pull)
            )
        log.info("link disabled", extra={"linkId": link.id, "by": user_id})
        return ended

    def _revoke_grant(self, link: SyncLink) -> None:
        """Revoke at Google the grant the link holds (before our sealed copy is deleted)."""
        sealed = self.grants.encrypted_token(link.id)
        if sealed is not None:
            self._revoke(self.cipher.decrypt(sealed, context=link.id))

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
