"""Google push notifications: watch channels on two-way links, the webhook's checks, and their upkeep.

A channel's secret token is derived from the webhook key and the channel id (HMAC), so no token is
stored and every notification is checked in constant time before anything is read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from shared.config import Settings
from shared.domain.errors import Forbidden
from shared.domain.link import SyncLink
from shared.ports import ChannelIndex, Clock, GoogleError, Links
from shared.services import notices
from shared.services.access import Access, Need, Opened, Skipped, SkipReason, calendar_deleted
from shared.services.tasks import RetryLater, Tasks

log = logging.getLogger(__name__)


class Notification(StrEnum):
    IGNORED = "ignored"
    ACKNOWLEDGED = "acknowledged"
    QUEUED = "queued"
    CALENDAR_DELETED = "calendar_deleted"


@dataclass(frozen=True)
class RenewReport:
    renewed: int = 0
    started: int = 0
    failed: int = 0


@dataclass
class ChannelService:
    settings: Settings
    links: Links
    channel_index: ChannelIndex
    access: Access
    tasks: Tasks
    clock: Clock
    webhook_key: Callable[[], str]

    def token_for(self, channel_id: str) -> str:
        return hmac.new(self.webhook_key().encode(), channel_id.encode(), hashlib.sha256).hexdigest()

    # --- channels ----------------------------------------------------------------------------------
    def start(self, opened: Opened) -> SyncLink:
        """Watch the link's calendar on a new channel and store it (the old one, if any, stays live)."""
        link = opened.link
        assert link.calendar_id
        channel_id = str(uuid.uuid4())
        channel = opened.gateway.watch(
            link.calendar_id,
            channel_id,
            self.token_for(channel_id),
            self.settings.webhook_url,
            self.settings.channel_ttl_seconds,
        )
        watched = replace(link, channel=channel)
        self.channel_index.save_channel(watched, old=link.channel)
        return watched

    def stop(self, link: SyncLink) -> None:
        """Stop the link's channel at Google (best effort) and forget it.

        Best effort on purpose: this runs when the link ends, so a refusal here (even of the grant) must not
        move the link elsewhere; an unstopped channel expires by itself and its notifications are ignored.
        """
        if link.channel is None:
            return
        opened = self.access.open_link(link, Need.GRANT)
        if isinstance(opened, Skipped):
            log.info("channel not stopped at Google", extra={"linkId": link.id, "error": opened.reason})
        else:
            self._stop_at_google(opened, link.channel.id, link.channel.resource_id)
        self.channel_index.save_channel(replace(link, channel=None), old=link.channel)

    def _stop_at_google(self, opened: Opened, channel_id: str, resource_id: str) -> None:
        try:
            opened.gateway.stop_channel(channel_id, resource_id)
        except GoogleError as exc:
            log.info(
                "channel not stopped at Google", extra={"linkId": opened.link.id, "error": type(exc).__name__}
            )

    # --- calendar_webhook --------------------------------------------------------------------------
    def notification(self, channel_id: str, token: str, state: str) -> Notification:
        """Check a notification and, for a change, queue one pull of the link (coalescing bursts)."""
        if not hmac.compare_digest(token.encode(), self.token_for(channel_id).encode()):
            raise Forbidden("bad channel token", code="bad_channel_token")
        owner = self.channel_index.channel_owner(channel_id)
        if owner is None:
            return Notification.IGNORED  # stopped or replaced: Google may still send a few
        if state == "sync":
            return Notification.ACKNOWLEDGED
        clinic_id, link_id = owner
        if state == "not_exists":
            # Google's last message on a channel whose calendar was deleted: no pull could read it any more.
            # The link needs reconnecting (once; a repeated message finds it so); the answer is still 200.
            link = self.links.get(clinic_id, link_id)
            if link is not None:
                self.access.lose(link, calendar_deleted("Google: the calendar no longer exists (not_exists)"))
            return Notification.CALENDAR_DELETED
        self.tasks.pull_on_notification(clinic_id, link_id)
        return Notification.QUEUED

    # --- renew_channels / reconcile_links ----------------------------------------------------------
    def renew(self) -> RenewReport:
        """Replace channels that expire within the margin (new first, then stop the old); start missing ones."""
        renewed = started = failed = 0
        horizon = self.clock.now() + timedelta(seconds=self.settings.channel_renew_margin_seconds)
        for link in self.channel_index.links_to_renew(horizon):
            old = link.channel
            opened = self.access.open_link(link, Need.GRANT)
            watched = opened.reason if isinstance(opened, Skipped) else self._watch(opened)
            if not isinstance(watched, SyncLink):
                log.warning("channel not renewed", extra={"linkId": link.id, "error": str(watched)})
                failed += 1
                continue
            assert isinstance(opened, Opened)
            self._check_shown(replace(opened, link=watched))
            if old is None:
                started += 1
                continue
            renewed += 1
            # If it cannot be stopped it expires by itself soon; its notifications are ignored meanwhile.
            self._stop_at_google(opened, old.id, old.resource_id)
        return RenewReport(renewed, started, failed)

    def _check_shown(self, opened: Opened) -> None:
        """How the calendar shows in its user's list (one calendarList.get, with the renewal), kept on the
        link for its health; its user is told once when it stops showing. A failure leaves it for the next
        upkeep (lost access, as always, ends the link)."""
        link = opened.link
        assert link.calendar_id
        calendar_id = link.calendar_id
        try:
            shown = self.access.run(link, lambda: opened.gateway.calendar_shown(calendar_id))
        except (RetryLater, GoogleError) as exc:
            log.info("calendar list entry not read", extra={"linkId": link.id, "error": type(exc).__name__})
            return
        if isinstance(shown, Skipped) or shown == link.calendar_shown:
            return
        self.channel_index.save_calendar_shown(link, shown)
        if shown != "shown" and link.calendar_shown in (None, "shown"):
            self.access.tell_owner(link, lambda owner: notices.calendar_not_shown(owner, link, shown))

    def _watch(self, opened: Opened) -> SyncLink | SkipReason | str:
        """Start a channel, or say why not: any failure leaves the link to the next upkeep (lost access, as
        always, ends it)."""
        try:
            watched = self.access.run(opened.link, lambda: self.start(opened))
        except (RetryLater, GoogleError) as exc:
            return type(exc).__name__
        return watched.reason if isinstance(watched, Skipped) else watched

    def reconcile(self, window_seconds: float | None = None) -> int:
        """Queue a pull of every active two-way link: catches notifications Google dropped.

        One pull per link and `window_seconds` (by default the scheduled reconciliation's interval).
        """
        return sum(
            self.tasks.reconcile(link.clinic_id, link.id, window_seconds)
            for link in self.links.active_two_way_links()
        )
