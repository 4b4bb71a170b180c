"""Linking on the Firestore emulator and the fake Google: the seed's example, every rule, every refusal."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from shared.domain.errors import Conflict, Forbidden, NotFound
from shared.domain.event_link import event_id
from shared.domain.link import LinkStatus
from tests.integration.conftest import Sync


def calendars_named(sync: Sync, email: str, name: str = "DASI eCLINIC") -> list[dict[str, Any]]:
    state = requests.get(f"{sync.google.url}/_fake/state", timeout=10).json()
    calendars = state["calendars"]
    items = calendars.values() if isinstance(calendars, dict) else calendars
    return [c for c in items if c.get("owner") == email and c.get("summary") == name]


def live_channels(sync: Sync) -> list[dict[str, Any]]:
    state = requests.get(f"{sync.google.url}/_fake/state", timeout=10).json()
    channels = state["channels"]
    items = channels.values() if isinstance(channels, dict) else channels
    return [c for c in items if not c.get("stopped")]


def test_the_seed_example_end_to_end(sync: Sync) -> None:
    # pautrave (not master) links Marina's agenda two-way from centro-b.
    pending = sync.link("pautrave", "pau.google@gmail.com")
    assert pending.link.status is LinkStatus.PENDING_APPROVAL and pending.reason is None
    stored = sync.doc(f"clinics/demo/syncLinks/{pending.link.id}")
    assert (
        stored and stored["status"] == "pending_approval" and stored["googleEmail"] == "pau.google@gmail.com"
    )
    # The master is told: an in-app notification and an e-mail.
    notes = [n.to_dict() for n in sync.db.collection("clinics/demo/notifications").stream()]
    assert [(n["userId"], n["type"], n["centerId"]) for n in notes] == [
        ("admin", "link_approval_requested", "centro-b")
    ]
    [mail] = [m.to_dict() for m in sync.db.collection("mail").stream()]
    assert mail["to"] == "admin@demo-clinic.test"
    assert "Pau Trave" in mail["message"]["text"] and "Marina Puig" in mail["message"]["text"]
    assert "pau.google@gmail.com" in mail["message"]["html"] and "Centro B" in mail["message"]["text"]
    # From centro-a the master is refused; from centro-b the link becomes active.
    with pytest.raises(Forbidden) as wrong:
        sync.services.linking.decide("demo", "centro-a", "admin", pending.link.id, approve=True)
    assert wrong.value.code == "wrong_center"
    active = sync.services.linking.decide("demo", "centro-b", "admin", pending.link.id, approve=True)
    assert active.status is LinkStatus.ACTIVE and active.approved_by == "admin" and active.channel
    assert len(calendars_named(sync, "pau.google@gmail.com")) == 1
    assert [c["id"] for c in live_channels(sync)] == [active.channel.id]
    # The same Google account cannot sync a second agenda.
    second = sync.link("marina", "pau.google@gmail.com")
    assert (second.link.status, second.reason) == (LinkStatus.FAILED, "email_already_linked")
    # Disable, link again: the calendar is reused, nothing duplicated.
    disabled = sync.services.linking.disable("demo", "pautrave", active.id)
    assert disabled.status is LinkStatus.DISABLED
    assert sync.doc(f"linkSecrets/{active.id}") is None and live_channels(sync) == []
    redo = sync.link("pautrave", "pau.google@gmail.com")
    again = sync.services.linking.decide("demo", "centro-b", "admin", redo.link.id, approve=True)
    assert again.calendar_id == active.calendar_id
    assert len(calendars_named(sync, "pau.google@gmail.com")) == 1


def test_the_master_links_without_approval(sync: Sync) -> None:
    sync.db.document("clinics/demo/users/admin").update({"professionalIds": ["marina"]})
    result = sync.link("admin", "admin.google@gmail.com", center="centro-a", bidirectional=False)
    assert result.link.status is LinkStatus.ACTIVE and result.link.approved_by == "admin"
    assert result.link.channel is None  # one-way: no watch channel
    assert list(sync.db.collection("clinics/demo/notifications").stream()) == []


def test_two_concurrent_callbacks_for_one_email_end_with_one_link(sync: Sync) -> None:
    answers = []
    for user in ("pautrave", "marina"):
        link, url = sync.services.linking.start("demo", "centro-b", user, None, True, None)
        answers.append(sync.consent(url, "same@gmail.com"))
    results: list[Any] = []

    def finish(answer: dict[str, str]) -> None:
        results.append(sync.redeem(sync.services.linking.complete(answer["state"], answer["code"], None)))

    threads = [threading.Thread(target=finish, args=(a,)) for a in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.link.status.value for r in results)
    assert statuses == ["failed", "pending_approval"]
    assert {r.reason for r in results} == {None, "email_already_linked"}
    keys = [k.to_dict() for k in sync.db.collection("linkKeys").stream()]
    holder = next(r.link.id for r in results if r.reason is None)
    assert {k["linkId"] for k in keys} == {holder}


def test_a_replayed_state_is_refused(sync: Sync) -> None:
    link, url = sync.services.linking.start("demo", "centro-b", "pautrave", None, True, None)
    answer = sync.consent(url, "pau@gmail.com")
    sync.services.linking.complete(answer["state"], answer["code"], None)
    with pytest.raises(NotFound) as replay:
        sync.services.linking.complete(answer["state"], answer["code"], None)
    assert replay.value.code == "invalid_state"


def test_denied_consent_and_unticked_scope_fail_cleanly(sync: Sync) -> None:
    denied = sync.link("pautrave", "pau@gmail.com", decision="deny")
    assert (denied.link.status, denied.reason) == (LinkStatus.FAILED, "access_denied")
    partial = sync.link("pautrave", "pau@gmail.com", scopes="openid email")
    assert (partial.link.status, partial.reason) == (LinkStatus.FAILED, "missing_scope")
    assert list(sync.db.collection("linkKeys").stream()) == []
    assert list(sync.db.collection("linkSecrets").stream()) == []


def test_a_user_syncs_one_agenda_and_must_be_linked_to_it(sync: Sync) -> None:
    sync.link("pautrave", "pau@gmail.com")
    with pytest.raises(Conflict) as twice:
        sync.services.linking.start("demo", "centro-a", "pautrave", None, False, None)
    assert twice.value.code == "user_already_linked"
    with pytest.raises(Forbidden) as unlinked:
        sync.services.linking.start("demo", "centro-a", "admin", None, False, None)
    assert unlinked.value.code == "user_not_linked_to_professional"


def test_rejection_and_cross_clinic_requests_change_nothing(sync: Sync) -> None:
    pending = sync.link("pautrave", "pau@gmail.com").link
    before = sync.doc(f"clinics/demo/syncLinks/{pending.id}")
    with pytest.raises(NotFound):
        sync.services.linking.decide("other", "centro-b", "admin", pending.id, approve=True)
    with pytest.raises(Forbidden):
        sync.services.linking.decide("demo", "centro-b", "marina", pending.id, approve=True)
    with pytest.raises(NotFound):
        sync.services.linking.disable("demo", "marina", pending.id)
    assert sync.doc(f"clinics/demo/syncLinks/{pending.id}") == before
    rejected = sync.services.linking.decide("demo", "centro-b", "admin", pending.id, approve=False)
    assert rejected.status is LinkStatus.REJECTED
    assert list(sync.db.collection("linkKeys").stream()) == []


def test_revoked_access_needs_reconnect_and_notifies_once(sync: Sync) -> None:
    link = sync.active_link()
    requests.post(f"{sync.google.url}/_fake/revoke", json={"email": "pau@gmail.com"}, timeout=10)
    sync.services.channels.renew()  # nothing to renew yet
    sync.appointment("a1", start=_t(10), end=_t(11))
    sync.run_tasks()
    sync.appointment("a1", start=_t(12), end=_t(13))
    sync.run_tasks()
    stored = sync.doc(f"clinics/demo/syncLinks/{link.id}")
    assert stored and stored["status"] == "needs_reconnect" and stored["lastError"]["code"] == "invalid_grant"
    notes = [n.to_dict() for n in sync.db.collection("clinics/demo/notifications").stream()]
    reconnect = sorted(n["userId"] for n in notes if n["type"] == "link_needs_reconnect")
    assert reconnect == ["admin", "pautrave"]


def test_no_refresh_token_is_stored_in_clear(sync: Sync, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    sync.active_link()
    tokens = list(sync.google.store.refresh_tokens)
    assert tokens
    dump = repr([d.to_dict() for c in sync.db.collections() for d in c.stream()])
    dump += repr([d.to_dict() for d in sync.db.collection_group("syncLinks").stream()])
    for token in tokens:
        assert token not in dump
        assert token not in caplog.text
    [sealed] = [d.to_dict() for d in sync.db.collection("linkSecrets").stream()]
    assert sealed["refreshToken"]["kid"] == "it-1" and sealed["refreshToken"]["alg"] == "A256GCM"


def _t(hour: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 12, 1, hour, 0, tzinfo=UTC)


def grants_of(sync: Sync, email: str) -> list[dict[str, Any]]:
    """The fake Google's grants of an account to our client (revoked ones too)."""
    state = requests.get(f"{sync.google.url}/_fake/state", timeout=10).json()
    return [g for g in state["grants"] if g["email"] == email and g["clientId"] != "google-calendar-ui"]


def test_only_the_user_who_started_the_link_redeems_the_consent(sync: Sync) -> None:
    # The master's consent URL leaks: a stranger consents with their own Google account.
    sync.db.document("clinics/demo/users/admin").update({"professionalIds": ["marina"]})
    link, url = sync.services.linking.start("demo", "centro-a", "admin", None, False, None)
    answer = sync.consent(url, "stranger@gmail.com")
    held = sync.services.linking.complete(answer["state"], answer["code"], None)
    assert held.code and held.link.status is LinkStatus.PENDING_OAUTH
    assert calendars_named(sync, "stranger@gmail.com") == [] and sync.doc(f"linkSecrets/{link.id}") is None
    stored = sync.doc(f"oauthConsents/{link.id}")
    assert stored and held.code not in str(stored)  # its hash only
    # Whoever's clinic session the stranger's browser lands in is not the master who started it.
    for user in ("pautrave", "marina"):
        with pytest.raises(NotFound):
            sync.services.linking.redeem("demo", user, link.id, held.code)
    assert sync.doc(f"clinics/demo/syncLinks/{link.id}")["status"] == "pending_oauth"  # type: ignore[index]
    assert list(sync.db.collection("linkKeys").stream()) == []


def test_disable_and_reject_revoke_the_grant_at_google(sync: Sync) -> None:
    link = sync.active_link()
    assert [g["revoked"] for g in grants_of(sync, "pau@gmail.com")] == [False]
    sync.services.linking.disable("demo", "pautrave", link.id)
    assert [g["revoked"] for g in grants_of(sync, "pau@gmail.com")] == [True]
    pending = sync.link("marina", "marina@gmail.com").link
    sync.services.linking.decide("demo", "centro-b", "admin", pending.id, approve=False)
    assert [g["revoked"] for g in grants_of(sync, "marina@gmail.com")] == [True]


def test_a_refused_consent_of_a_linked_account_leaves_the_live_links_grant_alone(sync: Sync) -> None:
    link = sync.active_link()
    refused = sync.link("marina", "pau@gmail.com")  # the account already syncs an agenda
    assert (refused.link.status, refused.reason) == (LinkStatus.FAILED, "email_already_linked")
    # Revoking the refused consent would end the account's whole grant to our client (the fake Google
    # does as Google is reported to do): nothing is revoked, and the live link still reaches Google.
    assert [g["revoked"] for g in grants_of(sync, "pau@gmail.com")] == [False, False]
    with sync.google.store.lock:
        sync.google.store.access_tokens.clear()  # its next call refreshes with the link's refresh token
    sync.appointment("a1", start=_t(10), end=_t(11))
    sync.run_tasks()
    [event] = sync.events("pau@gmail.com", link.calendar_id)
    assert event["id"] == event_id("demo", "a1")
    assert sync.doc(f"clinics/demo/syncLinks/{link.id}")["status"] == "active"  # type: ignore[index]


def test_a_refused_consent_of_an_account_no_link_holds_is_revoked(sync: Sync) -> None:
    sync.active_link()
    # marina's consent is refused (missing scope) with an account no link holds: its grant is revoked.
    refused = sync.link("marina", "marina@gmail.com", scopes="openid email")
    assert (refused.link.status, refused.reason) == (LinkStatus.FAILED, "missing_scope")
    assert [g["revoked"] for g in grants_of(sync, "marina@gmail.com")] == [True]
    assert [g["revoked"] for g in grants_of(sync, "pau@gmail.com")] == [False]


def test_two_masters_approving_at_once_create_one_calendar(sync: Sync) -> None:
    sync.db.document("clinics/demo/users/marina").update({"isMaster": True})
    pending = sync.link("pautrave", "pau@gmail.com").link
    start = threading.Barrier(2)
    answers: list[Any] = []

    def approve(master: str) -> None:
        start.wait()
        answers.append(sync.services.linking.decide("demo", "centro-b", master, pending.id, approve=True))

    threads = [threading.Thread(target=approve, args=(m,)) for m in ("admin", "marina")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 2
    assert len(calendars_named(sync, "pau@gmail.com")) == 1
    stored = sync.doc(f"clinics/demo/syncLinks/{pending.id}")
    assert stored and stored["status"] == "active" and stored["approvedBy"] in {"admin", "marina"}
    assert len([p for p in sync.queue.take() if p[1].get("backfill")]) == 1


def test_a_disable_during_activation_stays_disabled(sync: Sync) -> None:
    pending = sync.link("pautrave", "pau@gmail.com").link
    # Google takes its time to create the calendar: the user disables the link meanwhile.
    slow = {"route": "calendar.calendars.insert", "latencyMs": 1500, "count": 1}
    requests.post(f"{sync.google.url}/_fake/faults", json=slow, timeout=10)
    answers: list[Any] = []
    approving = threading.Thread(
        target=lambda: answers.append(
            sync.services.linking.decide("demo", "centro-b", "admin", pending.id, approve=True)
        )
    )
    approving.start()
    while not (sync.doc(f"clinics/demo/syncLinks/{pending.id}") or {}).get("approvedBy"):
        pass
    sync.services.linking.disable("demo", "pautrave", pending.id)
    approving.join()
    stored = sync.doc(f"clinics/demo/syncLinks/{pending.id}")
    assert stored and stored["status"] == "disabled"
    assert answers[0].status is LinkStatus.DISABLED
    assert live_channels(sync) == [] and sync.queue.take() == []
    assert sync.doc(f"linkSecrets/{pending.id}") is None
