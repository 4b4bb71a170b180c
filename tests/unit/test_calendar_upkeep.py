"""The link's calendar as its user left it: deleted (the channel's `not_exists`) or hidden in their list."""

from __future__ import annotations

from shared.domain.link import LinkStatus
from shared.services.channels import Notification
from tests.unit.conftest import World
from tests.unit.test_pull_and_channels import two_way


def test_not_exists_marks_the_link_once_and_queues_nothing(world: World) -> None:
    link, google = two_way(world)
    assert link.channel is not None
    token = world.services.channels.token_for(link.channel.id)
    world.queue.tasks.clear()
    for _ in range(2):  # Google may repeat it: told once
        answer = world.services.channels.notification(link.channel.id, token, "not_exists")
        assert answer is Notification.CALENDAR_DELETED
    lost = world.store.links[link.id]
    assert lost.status is LinkStatus.NEEDS_RECONNECT and lost.reason == "calendar_deleted"
    assert len([n for n in world.notifier.notices if n.type == "link_needs_reconnect"]) == 2
    assert not world.queue.tasks and google.calls == []  # the webhook never calls Google


def test_renewal_keeps_how_the_calendar_shows_and_tells_its_user_once(world: World) -> None:
    link, google = two_way(world)
    assert link.calendar_id
    google.shown[link.calendar_id] = "hidden"
    for days in (7, 7):
        world.clock.advance(days=days)
        world.services.channels.renew()
    google.shown[link.calendar_id] = "unselected"
    world.clock.advance(days=7)
    world.services.channels.renew()
    assert world.store.links[link.id].calendar_shown == "unselected"
    told = [n for n in world.notifier.notices if n.type == "link_calendar_not_shown"]
    assert [(n.user.id, n.details) for n in told] == [("pautrave", {"shown": "hidden"})]
    assert world.store.links[link.id].status is LinkStatus.ACTIVE
