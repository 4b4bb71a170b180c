"""Security: every refusal is a 4xx that leaves Firestore as it was (or, for a failed Google sign-in, changes
only that link to `failed`), through the deployed entry points.

Covers forged, replayed and expired OAuth states, a code exchanged twice, a PKCE verifier that does not
match, a leaked consent URL completed by a stranger's Google account (the link counts only when the user
who started it redeems the callback's one-time code), grants revoked at Google when a link ends or a
consent is refused (never one of an account another link holds), reconnection only by the same user and account, accounts keyed by Google's `sub`, webhook notifications with a wrong token, an unknown or a stopped channel, and every clinic-facing
function called with another clinic's ids, by a non-master, from the wrong centre, with guessed link ids,
or against someone else's link.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore as firestore_lib

from tests.integration.functions_app import (
    Deployed,
    assert_error,
    assert_refusal_page,
    channel_token,
    notify,
    query_of,
)

Dump = dict[str, tuple[Any, Any]]

# The second clinic: its own master, centre, professional and user.
OTHER_CLINIC: dict[str, dict[str, Any]] = {
    "clinics/other": {"name": "Otra Clínica", "privacy": "none"},
    "clinics/other/centers/sede": {"name": "Sede", "timeZone": "Europe/Madrid"},
    "clinics/other/professionals/doc": {"name": "Doctora Otra"},
    "clinics/other/users/boss": {
        "name": "Jefa",
        "email": "boss@other.test",
        "isMaster": True,
        "professionalIds": ["doc"],
    },
    "clinics/other/users/ana": {
        "name": "Ana",
        "email": "ana@other.test",
        "isMaster": False,
        "professionalIds": ["doc"],
    },
    # A professional of the demo clinic whom pautrave is not linked to.
    "clinics/demo/professionals/otro": {"name": "Otro Profesional"},
}


@pytest.fixture
def functions(functions: Deployed, firestore: firestore_lib.Client) -> Deployed:
    """The deployed functions, with a second clinic beside the demo one."""
    batch = firestore.batch()
    for path, data in OTHER_CLINIC.items():
        batch.set(firestore.document(path), data)
    batch.commit()
    return functions


def changes(before: Dump, after: Dump) -> dict[str, str]:
    """What differs between two dumps: path -> "added" | "removed" | "changed"."""
    found = {path: "removed" for path in before.keys() - after.keys()}
    found |= {path: "added" for path in after.keys() - before.keys()}
    found |= {path: "changed" for path in before.keys() & after.keys() if before[path] != after[path]}
    return found


def refused_without_a_write(
    functions: Deployed, function: str, body: dict[str, Any], status: int, code: str
) -> None:
    """Call `function`; it must answer the error `status`/`code` and write nothing."""
    before = functions.dump()
    if function == "oauth_callback":  # a browser lands there: refused with a page
        assert_refusal_page(functions.get(function, body), status, code)
    else:
        response = (
            functions.get(function, body) if function == "list_links" else functions.post(function, body)
        )
        assert_error(response, status, code)
    assert changes(before, functions.dump()) == {}, (function, body)


def link_path(link_id: str, clinic: str = "demo") -> str:
    return f"clinics/{clinic}/syncLinks/{link_id}"


# --- OAuth state and code -----------------------------------------------------------------------------
def test_a_forged_state_is_refused(functions: Deployed) -> None:
    started = functions.start()
    refused_without_a_write(
        functions,
        "oauth_callback",
        {"state": secrets.token_urlsafe(32), "code": "4/forged"},
        404,
        "invalid_state",
    )
    link = functions.doc(link_path(started["linkId"]))
    assert link is not None and link["status"] == "pending_oauth"


def test_a_replayed_callback_is_refused(functions: Deployed) -> None:
    started = functions.start()
    answer = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    assert functions.callback(answer).status_code == 200

    refused_without_a_write(functions, "oauth_callback", answer, 404, "invalid_state")
    link = functions.doc(link_path(started["linkId"]))
    assert link is not None and link["status"] == "pending_oauth"  # held until its code is redeemed


def test_an_expired_state_is_refused_and_consumed(functions: Deployed) -> None:
    started = functions.start()
    answer = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    state = functions.db.document(f"oauthStates/{answer['state']}")
    state.update({"expiresAt": datetime.now(UTC) - timedelta(seconds=1)})
    before = functions.dump()

    assert_refusal_page(functions.callback(answer), 404, "invalid_state")

    assert changes(before, functions.dump()) == {state.path: "removed"}
    assert functions.doc(f"linkSecrets/{started['linkId']}") is None


def test_a_code_exchanged_twice_fails_the_second_link(functions: Deployed) -> None:
    first = functions.start(returnUrl="https://clinic.example/back")
    code = functions.consent(first["authorizationUrl"], "pau@gmail.com")
    first_state = functions.doc(f"oauthStates/{code['state']}")
    assert first_state is not None
    back = query_of(functions.callback(code).headers["Location"])
    assert back["status"] == "consented"
    assert functions.complete("pautrave", back).get_json()["link"]["status"] == "pending_approval"
    # A second sign-in whose state carries the first one's PKCE verifier: only the code's reuse is wrong.
    second = functions.start("marina", returnUrl="https://clinic.example/back")
    second_state = query_of(second["authorizationUrl"])["state"]
    functions.db.document(f"oauthStates/{second_state}").update({"codeVerifier": first_state["codeVerifier"]})
    before = functions.dump()

    answer = functions.callback({"state": second_state, "code": code["code"]})

    assert answer.status_code == 302
    assert query_of(answer.headers["Location"]) == {
        "linkId": second["linkId"],
        "status": "failed",
        "reason": "exchange_failed",
    }
    assert changes(before, functions.dump()) == {
        link_path(second["linkId"]): "changed",
        f"oauthStates/{second_state}": "removed",
    }
    assert functions.doc(f"linkSecrets/{second['linkId']}") is None
    # Google revokes what the reused code had granted: the first link cannot activate, and says so.
    approved = functions.approve(first["linkId"])
    assert approved.status_code == 200
    assert approved.get_json()["link"]["status"] == "needs_reconnect"


def test_a_pkce_verifier_that_does_not_match_fails_the_link(functions: Deployed) -> None:
    started = functions.start(returnUrl="https://clinic.example/back")
    answer = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    state = functions.db.document(f"oauthStates/{answer['state']}")
    state.update({"codeVerifier": secrets.token_urlsafe(48)})
    before = functions.dump()

    response = functions.callback(answer)

    assert response.status_code == 302
    assert query_of(response.headers["Location"])["reason"] == "exchange_failed"
    assert changes(before, functions.dump()) == {
        link_path(started["linkId"]): "changed",
        state.path: "removed",
    }
    link = functions.doc(link_path(started["linkId"]))
    assert link is not None and (link["status"], link["reason"]) == ("failed", "exchange_failed")
    assert link.get("googleEmail") is None


# --- the consent is bound to the person who started the link -----------------------------------------
def consented(functions: Deployed, user: str, email: str, **start: Any) -> dict[str, str]:
    """oauth_start, Google's consent as `email`, oauth_callback: the query of the redirect back (its code)."""
    started = functions.start(user, returnUrl="https://clinic.example/back", **start)
    answer = functions.callback(functions.consent(started["authorizationUrl"], email))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    back = query_of(answer.headers["Location"])
    assert back["status"] == "consented" and back["linkId"] == started["linkId"], back
    return back


def test_a_leaked_consent_url_does_not_link_a_strangers_account(functions: Deployed) -> None:
    functions.db.document("clinics/demo/users/admin").update({"professionalIds": ["marina"]})
    # The master's consent URL leaks; a stranger completes Google's consent with their own account.
    back = consented(functions, "admin", "stranger@gmail.com", center="centro-a")
    link_id = back["linkId"]
    held = functions.doc(f"oauthConsents/{link_id}")
    assert held and back["code"] not in str(held)  # kept as its hash only
    # The redirect lands in the stranger's browser; whatever clinic session it holds, it is not the
    # master's: redeeming for anyone else, or with a guessed code, is refused and writes nothing.
    for user, code, status, error in (
        ("pautrave", back["code"], 404, "link_not_found"),
        ("marina", back["code"], 404, "link_not_found"),
        ("admin", secrets.token_urlsafe(32), 404, "invalid_code"),
    ):
        body = {"clinicId": "demo", "userId": user, "linkId": link_id, "code": code}
        refused_without_a_write(functions, "complete_link", body, status, error)
    other_clinic = {"clinicId": "other", "userId": "boss", "linkId": link_id, "code": back["code"]}
    refused_without_a_write(functions, "complete_link", other_clinic, 404, "link_not_found")
    assert functions.doc(link_path(link_id))["status"] == "pending_oauth"  # type: ignore[index]
    calendars = functions.google_state()["calendars"]
    assert [c for c in calendars if c["owner"] == "stranger@gmail.com" and not c["primary"]] == []
    # The master, in their own session, redeems it once: the code is single-use.
    done = functions.complete("admin", back)
    assert done.get_json()["link"]["status"] == "active"
    again = {"clinicId": "demo", "userId": "admin", "linkId": link_id, "code": back["code"]}
    refused_without_a_write(functions, "complete_link", again, 404, "invalid_code")


def test_an_expired_code_is_refused_and_its_grant_revoked(functions: Deployed) -> None:
    back = consented(functions, "pautrave", "pau@gmail.com")
    functions.db.document(f"oauthConsents/{back['linkId']}").update(
        {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}
    )
    late = functions.complete("pautrave", back).get_json()
    assert (late["link"]["status"], late["reason"]) == ("failed", "code_expired")
    assert functions.doc(f"oauthConsents/{back['linkId']}") is None
    grants = [g for g in functions.google_state()["grants"] if g["email"] == "pau@gmail.com"]
    assert [g["revoked"] for g in grants] == [True]
    assert list(functions.db.collection("linkKeys").stream()) == []


def test_grants_are_revoked_when_a_link_ends_or_a_consent_is_refused(functions: Deployed) -> None:
    def revoked(email: str) -> list[bool]:
        return sorted(g["revoked"] for g in functions.google_state()["grants"] if g["email"] == email)

    link = functions.active_link()
    refused = functions.sign_in("marina", "pau@gmail.com")  # the account already syncs an agenda
    assert (refused["status"], refused["reason"]) == ("failed", "email_already_linked")
    # Not revoked: Google ends every grant of the account to our client, the live link's with it.
    assert revoked("pau@gmail.com") == [False, False]
    disabled = functions.post(
        "disable_link", {"clinicId": "demo", "userId": "pautrave", "linkId": link["id"]}
    )
    assert disabled.status_code == 200
    assert revoked("pau@gmail.com") == [True, True]  # the account's whole grant
    pending = functions.sign_in("marina", "marina@gmail.com")
    rejected = functions.post(
        "approve_link",
        {
            "clinicId": "demo",
            "centerId": "centro-b",
            "userId": "admin",
            "linkId": pending["linkId"],
            "decision": "reject",
        },
    )
    assert rejected.status_code == 200 and revoked("marina@gmail.com") == [True]


def test_only_the_same_user_and_account_reconnect_a_link(functions: Deployed) -> None:
    link = functions.active_link()
    sub = next(a["sub"] for a in functions.google_state()["accounts"] if a["email"] == "pau@gmail.com")
    assert functions.doc(link_path(link["id"]))["googleSub"] == sub  # type: ignore[index]
    functions.db.document(link_path(link["id"])).update({"status": "needs_reconnect"})
    # Someone else cannot start a reconnection of the link.
    body = {"clinicId": "demo", "centerId": "centro-b", "userId": "marina", "linkId": link["id"]}
    refused_without_a_write(functions, "oauth_start", body, 404, "link_not_found")
    # The owner with another Google account: refused, the link stays as it was, that grant revoked.
    before = functions.doc(link_path(link["id"]))
    other = functions.complete(
        "pautrave", consented(functions, "pautrave", "other@gmail.com", linkId=link["id"])
    )
    assert other.get_json()["reason"] == "other_account"
    assert functions.doc(link_path(link["id"])) == before
    # The owner with the same account: active again, same link, same calendar, no new approval.
    repaired = functions.complete(
        "pautrave", consented(functions, "pautrave", "pau@gmail.com", linkId=link["id"])
    )
    answer = repaired.get_json()
    assert "reason" not in answer, answer
    assert (answer["link"]["id"], answer["link"]["status"]) == (link["id"], "active")
    assert answer["link"]["calendarId"] == link["calendarId"] and answer["link"]["approvedBy"] == "admin"


# --- the webhook --------------------------------------------------------------------------------------
def test_webhook_refuses_a_wrong_token_and_ignores_unknown_and_stopped_channels(functions: Deployed) -> None:
    link = functions.active_link()
    other = functions.active_link("marina", "marina@gmail.com")
    channels = {c["calendarId"]: c for c in functions.google_state()["channels"]}
    mine, theirs = channels[link["calendarId"]], channels[other["calendarId"]]
    functions.receiver.clear()

    for token in ("", "wrong", theirs["token"], mine["token"][:-1], mine["token"] + "0"):
        before = functions.dump()
        assert_error(notify(functions, mine["id"], token, "exists"), 403, "bad_channel_token")
        assert changes(before, functions.dump()) == {}

    unknown = "a7c3b0c2-5d1f-4d56-9b8e-000000000000"
    before = functions.dump()
    ignored = notify(functions, unknown, channel_token(unknown), "exists")
    assert (ignored.status_code, ignored.get_json()) == (200, {"result": "ignored"})
    assert changes(before, functions.dump()) == {}

    disabled = functions.post(
        "disable_link", {"clinicId": "demo", "userId": "pautrave", "linkId": link["id"]}
    )
    assert disabled.status_code == 200
    assert functions.doc(f"channels/{mine['id']}") is None
    before = functions.dump()
    stopped = notify(functions, mine["id"], mine["token"], "exists")
    assert (stopped.status_code, stopped.get_json()) == (200, {"result": "ignored"})
    assert changes(before, functions.dump()) == {}

    # None of these queued a pull.
    assert [d for d in functions.receiver.deliveries(wait=1.2) if d.path == "/pull_worker"] == []


# --- the clinic-facing functions ------------------------------------------------------------------------
def test_oauth_start_with_another_clinics_ids(functions: Deployed) -> None:
    start = {"clinicId": "demo", "centerId": "centro-b", "userId": "pautrave", "bidirectional": True}
    cases = [
        ({"userId": "ana"}, 404, "user_not_found"),
        ({"clinicId": "other"}, 404, "center_not_found"),
        ({"clinicId": "other", "centerId": "sede"}, 404, "user_not_found"),
        ({"centerId": "sede"}, 404, "center_not_found"),
        ({"professionalId": "doc"}, 404, "professional_not_found"),
        (
            {"clinicId": "other", "centerId": "sede", "userId": "ana", "professionalId": "marina"},
            404,
            "professional_not_found",
        ),
        ({"professionalId": "otro"}, 403, "user_not_linked_to_professional"),
    ]
    for change, status, code in cases:
        refused_without_a_write(functions, "oauth_start", {**start, **change}, status, code)


def test_approving_is_for_the_clinics_master_from_the_right_centre(functions: Deployed) -> None:
    pending = functions.sign_in()["linkId"]
    decision = {
        "clinicId": "demo",
        "centerId": "centro-b",
        "userId": "admin",
        "linkId": pending,
        "decision": "approve",
    }
    cases = [
        ({"userId": "pautrave"}, 403, "not_master"),  # the requester approving their own link
        ({"userId": "marina"}, 403, "not_master"),
        ({"centerId": "centro-a"}, 403, "wrong_center"),
        ({"centerId": "sede"}, 403, "wrong_center"),
        ({"clinicId": "other", "userId": "boss"}, 404, "link_not_found"),
        ({"userId": "boss"}, 404, "user_not_found"),
        ({"clinicId": "other"}, 404, "user_not_found"),
        ({"linkId": secrets.token_urlsafe(16)}, 404, "link_not_found"),
        ({"userId": "marina", "decision": "reject"}, 403, "not_master"),
    ]
    for change, status, code in cases:
        refused_without_a_write(functions, "approve_link", {**decision, **change}, status, code)
    link = functions.doc(link_path(pending))
    assert link is not None and link["status"] == "pending_approval" and link.get("approvedBy") is None


def test_disabling_is_for_the_owner_or_the_clinics_master(functions: Deployed) -> None:
    active = functions.active_link()
    request = {"clinicId": "demo", "userId": "pautrave", "linkId": active["id"]}
    cases = [
        ({"userId": "marina"}, 404, "link_not_found"),  # someone else's link is not even shown to exist
        ({"userId": "ana"}, 404, "user_not_found"),
        ({"userId": "boss"}, 404, "user_not_found"),
        ({"clinicId": "other", "userId": "boss"}, 404, "link_not_found"),
        ({"clinicId": "other", "userId": "ana"}, 404, "link_not_found"),
        ({"linkId": secrets.token_urlsafe(16)}, 404, "link_not_found"),
        ({"userId": "admin", "linkId": secrets.token_urlsafe(16)}, 404, "link_not_found"),
    ]
    for change, status, code in cases:
        refused_without_a_write(functions, "disable_link", {**request, **change}, status, code)
    link = functions.doc(link_path(active["id"]))
    assert link is not None and link["status"] == "active"
    assert functions.doc(f"linkSecrets/{active['id']}") is not None


def test_listing_shows_nothing_of_another_clinic(functions: Deployed) -> None:
    functions.active_link()
    refused_without_a_write(
        functions, "list_links", {"clinicId": "demo", "userId": "boss"}, 404, "user_not_found"
    )
    refused_without_a_write(
        functions, "list_links", {"clinicId": "other", "userId": "admin"}, 404, "user_not_found"
    )

    for clinic, user in (("other", "boss"), ("other", "ana"), ("demo", "marina")):
        response = functions.get("list_links", {"clinicId": clinic, "userId": user})
        assert (response.status_code, response.get_json()) == (200, {"links": []}), (clinic, user)
