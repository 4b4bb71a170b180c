"""SyncRecords: the contract its memory fake and its Firestore adapter both keep."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.domain.event_link import EventLink
from shared.domain.link import LinkStatus
from tests.integration.ports.conftest import T0, Backend, a_link

PUSHED = T0 + timedelta(minutes=5)


def event(appointment_id: str, event_id: str | None = None, etag: str = '"1"') -> EventLink:
    return EventLink(appointment_id, event_id or "ev" + appointment_id, etag, "hash-" + appointment_id)


def test_recorded_event_links_read_back_stamped_with_when_they_were_pushed(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    assert backend.records.event_link(link, "a1") is None
    backend.records.record_event_links(link, [event("a1"), replace(event("a2"), deleted=True)], PUSHED)
    assert backend.records.event_link(link, "a1") == replace(event("a1"), synced_at=PUSHED)
    assert backend.records.event_link(link, "a2") == replace(event("a2"), deleted=True, synced_at=PUSHED)


def test_without_pushed_at_event_links_are_stamped_now_and_last_push_at_is_left(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0)
    backend.links.save(link)
    before = datetime.now(UTC)
    backend.records.record_event_links(link, [event("a1")], None)
    recorded = backend.records.event_link(link, "a1")
    assert recorded is not None and recorded.synced_at is not None
    assert before - timedelta(seconds=1) <= recorded.synced_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert backend.links.get("demo", "l1") == link


def test_record_event_links_sets_last_push_at_when_given_and_nothing_else(backend: Backend) -> None:
    link = a_link("l1", last_push_at=T0, last_error={"code": "quota"}, sync_token="tok")
    backend.links.save(link)
    backend.records.record_event_links(link, [event("a1")], PUSHED)
    assert backend.links.get("demo", "l1") == replace(link, last_push_at=PUSHED)


def test_recording_no_event_links_writes_nothing(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    backend.records.record_event_links(link, [], PUSHED)
    assert backend.links.get("demo", "l1") == link


def test_a_new_record_replaces_the_appointments_event_link(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    backend.records.record_event_links(link, [event("a1", etag='"1"')], PUSHED)
    later = PUSHED + timedelta(minutes=1)
    backend.records.record_event_links(link, [event("a1", etag='"2"')], later)
    assert backend.records.event_link(link, "a1") == replace(event("a1", etag='"2"'), synced_at=later)


def test_event_links_for_reads_only_those_that_exist(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    backend.records.record_event_links(link, [event("a1"), event("a3")], PUSHED)
    found = backend.records.event_links_for(link, ["a1", "a2", "a3", "a1"])
    assert found == {
        "a1": replace(event("a1"), synced_at=PUSHED),
        "a3": replace(event("a3"), synced_at=PUSHED),
    }
    assert backend.records.event_links_for(link, []) == {}
    assert backend.records.event_links_for(link, ["a2"]) == {}


def test_more_event_links_than_one_write_batch_holds_are_all_recorded(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    many = [event(f"a{i:04}") for i in range(620)]
    backend.records.record_event_links(link, many, PUSHED)
    found = backend.records.event_links_for(link, [e.appointment_id for e in many])
    assert found == {e.appointment_id: replace(e, synced_at=PUSHED) for e in many}
    assert backend.links.get("demo", "l1") == replace(link, last_push_at=PUSHED)


def test_event_links_of_series_are_its_instances_only(backend: Backend) -> None:
    link = a_link("l1")
    backend.links.save(link)
    instances = [event("a1", "s1_20261201T090000Z"), event("a2", "s1_20261208T090000Z")]
    others = [event("a3", "s1"), event("a4", "s10_20261201T090000Z"), event("a5", "r1_20261201")]
    backend.records.record_event_links(link, [*instances, *others], PUSHED)
    found = sorted(backend.records.event_links_of_series(link, "s1"), key=lambda e: e.event_id)
    assert found == [replace(e, synced_at=PUSHED) for e in instances]
    assert backend.records.event_links_of_series(link, "s2") == []


def test_event_links_of_series_are_found_by_the_series_they_name_whatever_their_ids(
    backend: Backend,
) -> None:
    link = a_link("l1")
    backend.links.save(link)
    opaque = replace(event("a1", "abcdefghij12345"), series_id="s1")
    before = event("a2", "s1_20261208T090000Z")  # recorded before the series was kept: its id names it
    elsewhere = replace(event("a3", "s1_20261215T090000Z"), series_id="s2")  # its series is s2's, not s1's
    single = event("a4", "klmnopqrst67890")
    only_before = event("a5", "s3_20261208T090000Z")  # a series no record names: not read by the daily read
    gone = replace(event("a6", "abcdefghij67890"), series_id="s4", deleted=True)  # all its instances went
    went = replace(event("a7", "abcdefghij99999"), series_id="s2", deleted=True)  # one of s2's went
    recorded = [opaque, before, elsewhere, single, only_before, gone, went]
    backend.records.record_event_links(link, recorded, PUSHED)
    found = sorted(backend.records.event_links_of_series(link, "s1"), key=lambda e: e.appointment_id)
    assert found == [replace(opaque, synced_at=PUSHED), replace(before, synced_at=PUSHED)]
    found = sorted(backend.records.event_links_of_series(link, "s2"), key=lambda e: e.appointment_id)
    assert found == [replace(elsewhere, synced_at=PUSHED), replace(went, synced_at=PUSHED)]
    assert backend.records.event_link(link, "a1") == replace(opaque, synced_at=PUSHED)
    by_series = backend.records.instances_by_series(link)
    assert {series: sorted(e.appointment_id for e in found) for series, found in by_series.items()} == {
        "s1": ["a1"],  # the record made before the series was kept is not read here
        "s2": ["a3", "a7"],
    }
    assert by_series["s1"] == [replace(opaque, synced_at=PUSHED)]


def test_event_links_are_kept_per_calendar_not_per_link(backend: Backend) -> None:
    first = a_link("l1", calendar_id="cal-shared", status=LinkStatus.DISABLED)
    redo = a_link("l2", calendar_id="cal-shared", created_minutes=5)
    elsewhere = a_link("l3", user_id="marina", calendar_id="cal-other")
    other_clinic = a_link("l4", clinic_id="other", calendar_id="cal-shared")
    for link in (first, redo, elsewhere, other_clinic):
        backend.links.save(link)
    backend.records.record_event_links(first, [event("a1", "ev-1")], PUSHED)
    assert backend.records.event_link(redo, "a1") == replace(event("a1", "ev-1"), synced_at=PUSHED)
    assert backend.records.event_links_by_events(redo, ["ev-1"]).keys() == {"ev-1"}
    assert backend.records.event_link(elsewhere, "a1") is None
    assert backend.records.event_links_by_events(elsewhere, ["ev-1"]) == {}
    assert backend.records.event_links_for(other_clinic, ["a1"]) == {}


def test_event_links_by_events_finds_those_recorded_by_event_id_more_than_one_query_holds(
    backend: Backend,
) -> None:
    link = a_link("l1")
    backend.links.save(link)
    recorded = [event(f"a{n}", f"ev{n}") for n in range(0, 70, 2)]  # every other event
    backend.records.record_event_links(link, recorded, PUSHED)
    found = backend.records.event_links_by_events(link, [f"ev{n}" for n in range(70)])
    assert found == {e.event_id: replace(e, synced_at=PUSHED) for e in recorded}
    assert backend.records.event_links_by_events(link, []) == {}
