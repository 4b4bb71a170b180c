"""Reaching a link's Google account, and what happens when that access is gone."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.domain.errors import Conflict
from shared.domain.link import LinkStatus, SyncLink
from shared.ports import (
    CalendarConnector,
    CalendarGateway,
    ClinicDirectory,
    Clock,
    Links,
    Notifier,
    SealedGrants,
    TokenCipher,
)
from shared.services import notices

log = logging.getLogger(__name__)


class NoAccess(Exception):
    """The link has no usable grant (disabled, or its token was deleted)."""


@dataclass
class Access:
    links: Links
    grants: SealedGrants
    directory: ClinicDirectory
    cipher: TokenCipher
    calendars: CalendarConnector
    notifier: Notifier
    clock: Clock

    def gateway(self, link: SyncLink) -> CalendarGateway:
        """The Calendar API acting as the link's Google account."""
        sealed = self.grants.encrypted_token(link.id)
        if sealed is None:
            raise NoAccess(link.id)
        return self.calendars.connect(self.cipher.decrypt(sealed, context=link.id))

    def lose(self, link: SyncLink, detail: str) -> SyncLink:
        """Google refused the grant: the link needs reconnecting; tell its user and the masters, once."""
        current = self.links.get(link.clinic_id, link.id) or link
        if current.status is LinkStatus.NEEDS_RECONNECT:
            return current
        now = self.clock.now()
        try:
            lost = current.moved(
                LinkStatus.NEEDS_RECONNECT,
                now,
                last_error={"code": "invalid_grant", "message": detail, "at": now.isoformat()},
            )
        except Conflict:
            return current  # already ended: nothing to surface
        self.links.save(lost)
        log.warning("google access lost", extra={"linkId": link.id, "clinicId": link.clinic_id})
        recipients = {m.id: m for m in self.directory.masters(link.clinic_id)}
        owner = self.directory.user(link.clinic_id, link.user_id)
        if owner is not None:
            recipients[owner.id] = owner
        for user in recipients.values():
            self.notifier.notify(notices.needs_reconnect(user, lost))
        return lost
