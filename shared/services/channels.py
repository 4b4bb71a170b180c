"""Google push notifications: watch channels on two-way links, the webhook's checks, and their upkeep.

A channel's secret token is derived from the webhook key and the channel id (HMAC), so no token is
stored and every notification is checked in constant time before anything is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from shared.config import Settings
from shared.domain.errors import Forbidden
from shared.domain.link import SyncLink
from shared.ports import AuthRevoked, ChannelIndex, Clock, GoogleError, Links, TaskQueue
from shared.services.access import Access, NoAccess
from shared.services.push import QUOTA_WINDOW

log = logging.getLogger(__name__)

# Notifications of one link within this many seconds share one pull task.
PULL_COALESCE_SECONDS = 1.0


class Notification(StrEnum):
    IGNORED = "ignored"
    ACKNOWLEDGED = "acknowledged"
    QUEUED = "queued"


@dataclass(frozen=True)
class UpkeepReport:
    renewed: int = 0
    started: int = 0
    failed: int = 0


@dataclass
class ChannelService:
    settings: Settings
    links: Links
    channel_index: ChannelIndex
    access: Access
    queue: TaskQueue
    clock: Clock
    webhook_key: Callable[[], str]

    def token_for(self, channel_id: str) -> str:
        return hmac.new(self.webhook_key().encode(), channel_id.encode(), hashlib.sha256).hexdigest()

    # --- channels ----------------------------------------------------------------------------------
    def start(self, link: SyncLink) -> SyncLink:
        """Watch the link's calendar on a new channel and store it (the old one, if any, stays live)."""
        assert link.calendar_id
        channel_id = str(uuid.uuid4())
        channel = self.access.gateway(link).watch(
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
        """Stop the link's channel at Google (best effort) and forget it."""
        if link.channel is None:
            return
        try:
            self.access.gateway(link).stop_channel(link.channel.id, link.channel.resource_id)
        except (GoogleError, NoAccess) as exc:
            log.info("channel not stopped at Google", extra={"linkId": link.id, "error": type(exc).__name__})
        self.channel_index.save_channel(replace(link, channel=None), old=link.channel)

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
        self.enqueue_pull(clinic_id, link_id, "notify", PULL_COALESCE_SECONDS, wait=True)
        return Notification.QUEUED

    def enqueue_pull(
        self,
        clinic_id: str,
        link_id: str,
        why: str,
        window: float,
        *,
        wait: bool = False,
        delay_seconds: float = 0.0,
    ) -> bool:
        """One pull task per link and time window; later ones in the window are duplicates.

        With `wait` the pull runs at the end of the window, so that it sees the whole burst that asked for it;
        otherwise `delay_seconds` from now.
        """
        now = self.clock.now().timestamp()
        bucket = math.floor(now / window)
        return self.queue.enqueue(
            self.settings.pull_queue,
            f"pull-{why}-{link_id}-{bucket}",
            {"clinicId": clinic_id, "linkId": link_id},
            delay_seconds=max(0.0, (bucket + 1) * window - now) if wait else delay_seconds,
        )

    def defer_pull(self, clinic_id: str, link_id: str) -> bool:
        """Google refused a pull for quota: pull the link again once the quota's minute has passed, instead of
        spending the task's bounded retries while the quota is still spent.

        Every refusal of the link in one minute is the same task, so deferrals never multiply; they stop with
        the first pull that gets through (and reconcile_links pulls every two-way link anyway).
        """
        log.info("pull deferred for quota", extra={"linkId": link_id})
        minute = QUOTA_WINDOW.total_seconds()
        return self.enqueue_pull(clinic_id, link_id, "quota", minute, delay_seconds=minute)

    # --- renew_channels / reconcile_links ----------------------------------------------------------
    def renew(self) -> UpkeepReport:
        """Replace channels that expire within the margin (new first, then stop the old); start missing ones."""
        renewed = started = failed = 0
        horizon = self.clock.now() + timedelta(seconds=self.settings.channel_renew_margin_seconds)
        for link in self.channel_index.links_to_renew(horizon):
            old = link.channel
            try:
                self.start(link)
            except AuthRevoked as exc:
                self.access.lose(link, str(exc))
                failed += 1
                continue
            except (GoogleError, NoAccess) as exc:
                log.warning("channel not renewed", extra={"linkId": link.id, "error": type(exc).__name__})
                failed += 1
                continue
            if old is None:
                started += 1
                continue
            renewed += 1
            # If it cannot be stopped it expires by itself soon; its notifications are ignored meanwhile.
            with contextlib.suppress(GoogleError, NoAccess):
                self.access.gateway(link).stop_channel(old.id, old.resource_id)
        return UpkeepReport(renewed, started, failed)

    def reconcile(self, interval_seconds: float) -> int:
        """Queue a pull of every active two-way link: catches notifications Google dropped."""
        return sum(
            self.enqueue_pull(link.clinic_id, link.id, "reconcile", interval_seconds)
            for link in self.links.active_two_way_links()
        )
