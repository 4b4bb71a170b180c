"""ChannelIndex: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.domain.link import LinkStatus
from tests.integration.ports.conftest import T0, Backend, a_channel, a_link


def test_save_channel_stores_the_channel_and_its_owner(backend: Backend) -> None:
    link = a_link("l1", last_error={"code": "quota"}, sync_token="tok")
    backend.links.save(link)
    channel = a_channel("ch1", timedelta(days=7))
    # Only the channel is written: other fields of the link the caller holds are not.
    backend.channel_index.save_channel(replace(link, channel=channel, sync_token="stale"), old=None)
    assert backend.links.get("demo", "l1") == replace(link, channel=channel)
    assert backend.channel_index.channel_owner("ch1") == ("demo", "l1")


@pytest.mark.parametrize("renewed", [True, False], ids=["replaced", "stopped"])
def test_a_replaced_or_stopped_channel_has_no_owner_any_more(backend: Backend, renewed: bool) -> None:
    old = a_channel("ch-old", timedelta(hours=1))
    link = a_link("l1", channel=old)
    backend.links.save(link)
    backend.channel_index.save_channel(link, old=None)
    assert backend.channel_index.channel_owner("ch-old") == ("demo", "l1")  # read once: may be kept
    fresh = a_channel("ch-new", timedelta(days=7)) if renewed else None
    backend.channel_index.save_channel(replace(link, channel=fresh), old=old)
    assert backend.channel_index.channel_owner("ch-old") is None
    assert backend.channel_index.channel_owner("ch-new") == (("demo", "l1") if renewed else None)
    assert backend.links.get("demo", "l1") == replace(link, channel=fresh)


def test_saving_the_same_channel_again_keeps_its_owner(backend: Backend) -> None:
    channel = a_channel("ch1", timedelta(days=1))
    link = a_link("l1", channel=channel)
    backend.links.save(link)
    backend.channel_index.save_channel(link, old=None)
    backend.channel_index.save_channel(link, old=channel)
    assert backend.channel_index.channel_owner("ch1") == ("demo", "l1")


def test_save_calendar_shown_writes_only_that_field(backend: Backend) -> None:
    link = a_link("l1", sync_token="tok", channel=a_channel("ch1", timedelta(days=7)))
    backend.links.save(link)
    backend.channel_index.save_calendar_shown(replace(link, sync_token="stale", conflicts=9), "hidden")
    assert backend.links.get("demo", "l1") == replace(link, calendar_shown="hidden")


def test_an_unknown_channel_has_no_owner(backend: Backend) -> None:
    assert backend.channel_index.channel_owner("never-opened") is None


def test_links_to_renew_are_active_two_way_links_expiring_before_the_horizon_or_without_channel(
    backend: Backend,
) -> None:
    horizon = T0 + timedelta(days=1)
    for link in (
        a_link("expiring", channel=a_channel("c1", timedelta(hours=2))),
        a_link("none", user_id="marina"),
        a_link("elsewhere", clinic_id="other", channel=a_channel("c2", timedelta(hours=1))),
        a_link("fresh", user_id="multi", channel=a_channel("c3", timedelta(days=6))),
        a_link("at-horizon", user_id="jordi", channel=a_channel("c4", timedelta(days=1))),
        a_link("one-way", user_id="admin", bidirectional=False),
        a_link("lost", user_id="x", status=LinkStatus.NEEDS_RECONNECT),
        a_link("pending", user_id="y", status=LinkStatus.PENDING_APPROVAL),
    ):
        backend.links.save(link)
    renew = backend.channel_index.links_to_renew(horizon)
    assert sorted(li.id for li in renew) == ["elsewhere", "expiring", "none"]
