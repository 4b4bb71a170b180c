"""The scheduled upkeep (renew_channels): one run does every part of it."""

from __future__ import annotations

from dataclasses import replace

from shared.domain.clinic import Privacy
from shared.domain.link import LinkStatus
from shared.ports.google import Transient
from tests.unit.conftest import World
from tests.unit.test_pull_and_channels import two_way
from tests.unit.test_push_service import put


def test_one_run_renews_channels_finishes_activations_and_rewrites_changed_privacy(world: World) -> None:
    link, _google = two_way(world)
    world.services.push.backfill("demo", link.id)  # the link's privacy choices are recorded
    # A second user's activation meets a Google that fails for a moment: approved, not active yet.
    pending, url = world.services.linking.start("demo", "centro-b", "marina", None, True, None)
    world.consent("code-marina", "marina@gmail.com")
    held = world.services.linking.complete(url.split("state=")[1], "code-marina", None)
    assert held.code
    world.services.linking.redeem("demo", "marina", pending.id, held.code)
    world.calendars.connect("refresh-marina@gmail.com").fail_next = [Transient("busy", 503, "backendError")]
    waiting = world.services.linking.decide("demo", "centro-b", "admin", pending.id, approve=True)
    assert waiting.status is LinkStatus.PENDING_APPROVAL
    assert (waiting.last_error or {}).get("code") == "activation_pending"
    put(world, "a1")
    world.directory.clinics["demo"] = replace(world.directory.clinics["demo"], privacy=Privacy.FULL)
    world.clock.advance(days=6, hours=12)  # the first link's channel expires soon
    world.queue.take()

    done = world.services.upkeep.run()

    assert (done.channels.renewed, done.activations, done.privacy_backfills) == (1, 1, 1)
    assert world.store.links[pending.id].status is LinkStatus.ACTIVE
    queued = [payload for _, payload in world.queue.take()]
    # The privacy backfill of the first link, and the activation's of the second (one, not two).
    backfills = [p["linkId"] for p in queued if p.get("backfill")]
    assert sorted(backfills) == sorted([link.id, pending.id])
