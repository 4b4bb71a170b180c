"""How a link is shown to the clinic app: never a token, a sync token or a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.domain.link import SyncLink


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def link_view(link: SyncLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "clinicId": link.clinic_id,
        "centerId": link.center_id,
        "userId": link.user_id,
        "professionalId": link.professional_id,
        "googleEmail": link.google_email,
        "bidirectional": link.bidirectional,
        "status": link.status.value,
        "reason": link.reason,
        "calendarId": link.calendar_id,
        "createdAt": _iso(link.created_at),
        "activatedAt": _iso(link.activated_at),
        "approvedBy": link.approved_by,
        "lastPushAt": _iso(link.last_push_at),
        "lastPullAt": _iso(link.last_pull_at),
        "lastError": link.last_error,
        "health": link.health,
        "channelExpiresAt": _iso(link.channel.expires_at) if link.channel else None,
        "conflicts": link.conflicts,
        "calendarShown": link.calendar_shown,
        # Tasks that failed every attempt and are not healed yet (the drift check heals them).
        "pendingFailures": link.pending_failures,
    }
