"""The scheduled upkeep (Cloud Scheduler calls renew_channels, hourly by default): the work that no trigger,
task or notification starts, in one place, so that every caller runs all of it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.services.channels import ChannelService, RenewReport
from shared.services.linking import LinkingService
from shared.services.push import PushService


@dataclass(frozen=True)
class UpkeepReport:
    channels: RenewReport
    # Activations retried (links approved whose first calendar work failed).
    activations: int
    # Backfills queued for links whose events show other privacy choices than their clinic's now.
    privacy_backfills: int


@dataclass
class UpkeepService:
    channels: ChannelService
    linking: LinkingService
    push: PushService

    def run(self) -> UpkeepReport:
        """Replace watch channels that expire soon and start missing ones, finish activations that failed,
        and rewrite the events of clinics whose privacy choices changed (no trigger fires for a clinic's
        own document)."""
        renewed = self.channels.renew()
        # Before the activations: a link activated now is backfilled by its activation, with its clinic's
        # current choices, and needs no second backfill for them.
        privacy = self.push.privacy_upkeep()
        return UpkeepReport(renewed, self.linking.retry_activations(), privacy)
