"""Domain objects of the demo clinic's example, shared by the unit and integration tiers."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.clinic import Center, Professional, User
from shared.domain.link import LinkStatus, SyncLink
from shared.ports import Notice
from shared.services import notices

MASTER = User("demo", "admin", "admin@demo-clinic.test", "Administración", is_master=True)
REQUESTER = User("demo", "pautrave", "pau@demo-clinic.test", "Pau Trave", professional_ids=("marina",))
# pautrave asked from centro-b to sync Marina's agenda; Google's consent is back, the master is asked.
PENDING_LINK = SyncLink(
    "link-1",
    "demo",
    "centro-b",
    "pautrave",
    "marina",
    True,
    LinkStatus.PENDING_APPROVAL,
    datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    google_email="pau@gmail.com",
)


def every_notice(link: SyncLink = PENDING_LINK) -> list[Notice]:
    """One notice of each kind we send."""
    return [
        notices.approval_requested(
            MASTER,
            REQUESTER,
            Professional("demo", "marina", "Marina Puig"),
            Center("demo", "centro-b", "Centro B"),
            link,
        ),
        notices.rejected(REQUESTER, link),
        notices.needs_reconnect(REQUESTER, link),
    ]
