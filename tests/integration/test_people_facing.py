"""What people read from the HTTP functions: error messages in Spanish (English on request) with English
codes, the pages and redirects after Google's consent, and answers that are safe to retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from functions.messages import ERRORS, PAGES, REASONS
from tests.integration.functions_app import Deployed, assert_error, assert_refusal_page, query_of

RETURN_URL = "https://clinic.example/back?tab=google"


def decide(functions: Deployed, link_id: str, decision: str, **headers: str) -> Any:
    body = {"clinicId": "demo", "centerId": "centro-b", "userId": "admin", "linkId": link_id}
    return functions.post("approve_link", {**body, "decision": decision}, headers=headers)


def page(answer: Any) -> str:
    assert answer.mimetype == "text/html", answer.get_data(as_text=True)
    text: str = answer.get_data(as_text=True)
    return text


# --- error messages -------------------------------------------------------------------------------------
def test_errors_speak_spanish_unless_english_is_preferred(functions: Deployed) -> None:
    cases = {
        None: "es",
        "es-ES,es;q=0.9": "es",
        "fr-FR,fr;q=0.9": "es",  # neither: the clinic app's language
        "es,en;q=0.8": "es",
        "en": "en",
        "en-GB,en;q=0.9,es;q=0.5": "en",
    }
    for header, language in cases.items():
        headers = {"Accept-Language": header} if header else {}
        answer = decide(functions, "no-such-link", "approve", **headers)
        error = assert_error(answer, 404, "link_not_found")
        assert error["message"] == ERRORS["link_not_found"][0 if language == "es" else 1], header
        assert answer.headers["Content-Language"] == language


def test_a_bad_field_is_named_in_the_people_message(functions: Deployed) -> None:
    body = {"clinicId": "demo", "centerId": "centro-b", "userId": "admin", "linkId": "x", "decision": "maybe"}
    spanish = assert_error(functions.post("approve_link", body), 400, "invalid_request")
    assert spanish["message"] == "La petición no es válida: revise el campo «decision»."
    english = assert_error(
        functions.post("approve_link", body, headers={"Accept-Language": "en"}), 400, "invalid_request"
    )
    assert english["message"] == "The request is not valid: check the field “decision”."
    wrong_method = functions.client("approve_link").get("/")
    assert assert_error(wrong_method, 405, "method_not_allowed")["message"] == ERRORS["method_not_allowed"][0]


# --- oauth_callback: pages and redirects ----------------------------------------------------------------
def test_an_unknown_or_reused_state_gets_a_spanish_page(functions: Deployed) -> None:
    started = functions.start()
    consent = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    assert functions.callback(consent).status_code == 200  # the first use: pending_approval page
    before = functions.dump()

    for query in (consent, {"state": "never-issued", "code": "4/abc"}):
        answer = functions.callback(query)
        html = page(answer)
        assert answer.status_code == 404
        assert (
            '<html lang="es">' in html
            and 'data-status="error"' in html
            and 'data-reason="invalid_state"' in html
        )
        assert PAGES["error"][0] in html and ERRORS["invalid_state"][0] in html
        assert answer.headers["Content-Language"] == "es"
    assert functions.dump() == before

    english = functions.get("oauth_callback", {"state": "never-issued"}, headers={"Accept-Language": "en"})
    assert '<html lang="en">' in page(english) and ERRORS["invalid_state"][1] in page(english)


def test_an_expired_state_sends_the_person_back_with_the_reason(functions: Deployed) -> None:
    started = functions.start(returnUrl=RETURN_URL)
    consent = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    functions.db.document(f"oauthStates/{consent['state']}").update(
        {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}
    )

    answer = functions.callback(consent)

    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://clinic.example/back"
    assert query_of(answer.headers["Location"]) == {
        "tab": "google",
        "status": "error",
        "reason": "invalid_state",
    }
    assert functions.doc(f"oauthStates/{consent['state']}") is None  # single use, even expired
    link = functions.doc(f"clinics/demo/syncLinks/{started['linkId']}")
    assert link is not None and link["status"] == "pending_oauth" and link["googleEmail"] is None


def test_an_expired_state_without_return_url_gets_a_page(functions: Deployed) -> None:
    started = functions.start()
    consent = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    functions.db.document(f"oauthStates/{consent['state']}").update(
        {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}
    )
    assert_refusal_page(functions.callback(consent), 404, "invalid_state")


def test_a_link_no_longer_pending_sends_the_person_back_with_the_reason(functions: Deployed) -> None:
    started = functions.start(returnUrl=RETURN_URL)
    consent = functions.consent(started["authorizationUrl"], "pau@gmail.com")
    disabled = functions.post(
        "disable_link", {"clinicId": "demo", "userId": "pautrave", "linkId": started["linkId"]}
    )
    assert disabled.status_code == 200

    answer = functions.callback(consent)

    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query) == {
        "tab": ["google"],
        "status": ["error"],
        "reason": ["link_not_pending"],
    }
    assert functions.doc(f"linkSecrets/{started['linkId']}") is None


def test_a_denied_consent_page_explains_the_reason_in_spanish(functions: Deployed) -> None:
    started = functions.start()
    denied = functions.consent(started["authorizationUrl"], "pau@gmail.com", decision="deny")

    answer = functions.callback(denied)

    html = page(answer)
    assert answer.status_code == 200
    assert 'data-status="failed"' in html and 'data-reason="access_denied"' in html
    assert PAGES["failed"][0] in html and REASONS["access_denied"][0] in html and PAGES["close"][0] in html


# --- safe retries ---------------------------------------------------------------------------------------
def test_approving_twice_answers_the_same_and_does_it_once(functions: Deployed) -> None:
    linked = functions.sign_in()
    first = decide(functions, linked["linkId"], "approve")
    assert first.status_code == 200, first.get_data(as_text=True)
    functions.receiver.wait_for(
        "/push_worker", {"clinicId": "demo", "linkId": linked["linkId"], "backfill": True}
    )
    calendars = functions.google_state()["calendars"]

    again = decide(functions, linked["linkId"], "approve")

    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert functions.google_state()["calendars"] == calendars, "no second calendar, no second channel"
    assert functions.receiver.deliveries(wait=0.5) == [], "no second backfill"
    refused = decide(functions, linked["linkId"], "reject")
    assert_error(refused, 409, "link_not_pending")
    assert functions.doc(f"clinics/demo/syncLinks/{linked['linkId']}")["status"] == "active"  # type: ignore[index]


def test_rejecting_twice_answers_the_same_and_notifies_once(functions: Deployed) -> None:
    linked = functions.sign_in()
    first = decide(functions, linked["linkId"], "reject")
    assert first.status_code == 200 and first.get_json()["link"]["status"] == "rejected"

    again = decide(functions, linked["linkId"], "reject")

    assert again.status_code == 200 and again.get_json() == first.get_json()
    rejections = [
        n.to_dict()
        for n in functions.db.collection("clinics/demo/notifications").stream()
        if n.to_dict()["type"] == "link_rejected"
    ]
    assert len(rejections) == 1
    assert_error(decide(functions, linked["linkId"], "approve"), 409, "link_not_pending")


def test_a_decision_on_a_disabled_link_is_refused(functions: Deployed) -> None:
    link = functions.active_link()
    functions.post("disable_link", {"clinicId": "demo", "userId": "pautrave", "linkId": link["id"]})
    for decision in ("approve", "reject"):
        assert_error(decide(functions, link["id"], decision), 409, "link_not_pending")


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_busy_google_is_a_503_that_says_when_to_retry(functions: Deployed, language: str) -> None:
    link = functions.active_link()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    functions.db.document("clinics/demo/appointments/a1").set(
        {
            "professionalId": "marina",
            "centerId": "centro-b",
            "start": start,
            "end": start + timedelta(minutes=30),
            "status": "scheduled",
        }
    )
    requests.post(
        f"{functions.google.url}/_fake/faults",
        json={"route": "calendar.events.insert", "rate": 1, "status": 503},
        timeout=10,
    ).raise_for_status()
    try:
        answer = functions.post(
            "push_worker",
            {"clinicId": "demo", "linkId": link["id"], "appointmentId": "a1"},
            headers={"Accept-Language": language},
        )
    finally:
        requests.post(f"{functions.google.url}/_fake/faults", json={}, timeout=10).raise_for_status()

    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert int(answer.headers["Retry-After"]) > 0
    body = answer.get_json()
    assert body["error"]["code"] == "retry_later"
    assert body["error"]["message"] == ERRORS["retry_later"][0 if language == "es" else 1]
