"""The pure domain: event ids and content, privacy, the push planner, link transitions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.clinic import Appointment, AppointmentStatus, Center, Clinic, Privacy
from shared.domain.errors import Conflict, InvalidRequest
from shared.domain.event import event_content, remote_hash
from shared.domain.event_link import EventLink, event_id
from shared.domain.link import (
    LinkStatus,
    SyncLink,
    email_key,
    google_account_keys,
    link_keys,
    may_revoke,
    sub_key,
    user_key,
)
from shared.domain.planner import Delete, Insert, Nothing, Patch, plan_push

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MADRID = Center("demo", "centro-a", "Centro A", "Europe/Madrid")


def appointment(**changes: object) -> Appointment:
    base: dict[str, object] = {
        "clinic_id": "demo",
        "id": "a1",
        "professional_id": "marina",
        "center_id": "centro-a",
        "start": T0,
        "end": T0 + timedelta(minutes=30),
        "patient_name": "Ana María López",
        "service": "Fisioterapia",
        "notes": "dolor lumbar",
    }
    base.update(changes)
    return Appointment(**base)  # type: ignore[arg-type]


def test_event_id_is_base32hex_stable_and_distinct() -> None:
    first = event_id("demo", "a1")
    assert re.fullmatch(r"[0-9a-v]{5,1024}", first)
    assert first == event_id("demo", "a1")
    assert first != event_id("demo", "a2")
    assert first != event_id("other", "a1")


@pytest.mark.parametrize(
    ("privacy", "title"),
    [
        (Privacy.NONE, "Fisioterapia"),
        (Privacy.INITIALS, "Fisioterapia · A.M.L."),
        (Privacy.FULL, "Fisioterapia · Ana María López"),
    ],
)
def test_title_follows_privacy(privacy: Privacy, title: str) -> None:
    content = event_content(appointment(), Clinic("demo", privacy=privacy), MADRID)
    assert content.summary == title


def test_default_event_shows_no_patient_and_no_notes() -> None:
    body = event_content(appointment(service=None), Clinic("demo"), MADRID).body()
    text = repr(body)
    assert body["summary"] == "Cita"
    assert "López" not in text and "lumbar" not in text


def test_notes_only_when_the_clinic_opts_in() -> None:
    body = event_content(appointment(), Clinic("demo", share_notes=True), MADRID).body()
    assert body["description"] == "dolor lumbar"


def test_times_are_in_the_centre_zone() -> None:
    body = event_content(appointment(), Clinic("demo"), MADRID).body()
    assert body["start"] == {"dateTime": "2026-12-01T10:00:00+01:00", "timeZone": "Europe/Madrid"}
    assert body["end"]["dateTime"] == "2026-12-01T10:30:00+01:00"


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        event_content(appointment(), Clinic("demo"), Center("demo", "x", time_zone="Mars/Olympus"))
    assert refused.value.code == "invalid_time_zone"


def test_remote_hash_matches_our_own_event_read_back_in_another_offset() -> None:
    content = event_content(appointment(), Clinic("demo"), MADRID)
    echoed = content.body()
    echoed["start"]["dateTime"] = "2026-12-01T09:00:00Z"
    echoed["end"]["dateTime"] = "2026-12-01T09:30:00Z"
    assert remote_hash(echoed) == content.content_hash
    echoed["end"]["dateTime"] = "2026-12-01T09:45:00Z"
    assert remote_hash(echoed) != content.content_hash


def test_content_hash_changes_with_time_zone_and_title() -> None:
    base = event_content(appointment(), Clinic("demo"), MADRID)
    moved_zone = event_content(
        appointment(), Clinic("demo"), Center("demo", "c", time_zone="Atlantic/Canary")
    )
    renamed = event_content(appointment(service="Osteopatía"), Clinic("demo"), MADRID)
    assert len({base.content_hash, moved_zone.content_hash, renamed.content_hash}) == 3


class TestPlanner:
    content = event_content(appointment(), Clinic("demo"), MADRID)
    eid = event_id("demo", "a1")

    def test_new_appointment_is_inserted(self) -> None:
        assert plan_push(self.content, self.eid, None) == Insert(self.eid, self.content)

    def test_unchanged_appointment_costs_nothing(self) -> None:
        recorded = EventLink("a1", self.eid, '"e1"', self.content.content_hash)
        assert isinstance(plan_push(self.content, self.eid, recorded), Nothing)

    def test_changed_appointment_is_patched_with_its_etag(self) -> None:
        recorded = EventLink("a1", self.eid, '"e1"', "old-hash")
        assert plan_push(self.content, self.eid, recorded) == Patch(self.eid, self.content, '"e1"')

    def test_cancelled_appointment_is_deleted_once(self) -> None:
        recorded = EventLink("a1", self.eid, '"e1"', "h")
        assert plan_push(None, self.eid, recorded) == Delete(self.eid, '"e1"')
        gone = EventLink("a1", self.eid, None, None, deleted=True)
        assert isinstance(plan_push(None, self.eid, gone), Nothing)
        assert isinstance(plan_push(None, self.eid, None), Nothing)

    def test_restored_appointment_is_inserted_again(self) -> None:
        gone = EventLink("a1", self.eid, None, None, deleted=True)
        assert plan_push(self.content, self.eid, gone) == Insert(self.eid, self.content)


def test_cancelled_or_empty_appointments_are_not_live() -> None:
    assert appointment().is_live
    assert not appointment(status=AppointmentStatus.CANCELLED).is_live
    assert not appointment(end=T0).is_live


class TestLinkTransitions:
    link = SyncLink("l1", "demo", "centro-b", "pautrave", "marina", True, LinkStatus.PENDING_OAUTH, T0)

    def test_the_happy_path(self) -> None:
        pending = self.link.moved(LinkStatus.PENDING_APPROVAL, T0)
        active = pending.moved(LinkStatus.ACTIVE, T0, calendar_id="cal")
        assert active.status is LinkStatus.ACTIVE and active.holds_keys
        assert active.moved(LinkStatus.DISABLED, T0).holds_keys is False

    @pytest.mark.parametrize("ended", [LinkStatus.DISABLED, LinkStatus.REJECTED, LinkStatus.FAILED])
    def test_ended_links_do_not_come_back(self, ended: LinkStatus) -> None:
        dead = self.link.moved(LinkStatus.PENDING_APPROVAL, T0).moved(ended, T0)
        with pytest.raises(Conflict):
            dead.moved(LinkStatus.ACTIVE, T0)

    def test_pending_oauth_cannot_skip_to_rejected(self) -> None:
        with pytest.raises(Conflict):
            self.link.moved(LinkStatus.REJECTED, T0)


def test_uniqueness_keys_ignore_case_and_scope_users_by_clinic() -> None:
    assert email_key("Marina@Example.com ") == email_key("marina@example.com")
    assert user_key("c1", "u") != user_key("c2", "u")


def test_an_accounts_keys_are_the_ones_its_link_holds() -> None:
    link = SyncLink(
        "l1",
        "demo",
        "centro-b",
        "pautrave",
        "marina",
        True,
        LinkStatus.ACTIVE,
        T0,
        google_email="Pau@Gmail.com",
        google_sub="123",
    )
    keys = google_account_keys("pau@gmail.com ", "123")
    assert keys == [sub_key("123"), email_key("pau@gmail.com")]
    assert set(keys) == set(link_keys(link).values()) - {user_key("demo", "pautrave")}
    assert google_account_keys("pau@gmail.com", None) == [email_key("pau@gmail.com")]
    assert google_account_keys(None, None) == []


@pytest.mark.parametrize(
    ("holders", "revoke"),
    [
        ({}, True),  # the account is unknown: nothing to protect
        ({"sub-k": None, "email-k": None}, True),  # no link holds the account
        ({"sub-k": "mine", "email-k": "mine"}, True),  # the consent's own link (a reconnection)
        ({"sub-k": "live", "email-k": "live"}, False),  # another link lives on the account's grant
        ({"sub-k": None, "email-k": "live"}, False),  # held by e-mail only (a link made before `sub`)
        ({"sub-k": "live", "email-k": None}, False),  # held by `sub` only (the e-mail changed)
        ({"sub-k": "mine", "email-k": "live"}, False),
    ],
)
def test_a_refused_consent_is_revoked_only_when_no_other_link_holds_its_account(
    holders: dict[str, str | None], revoke: bool
) -> None:
    assert may_revoke("mine", holders) is revoke
