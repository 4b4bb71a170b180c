"""Every entry point through functions-framework's own app, configured from the environment as deployed,
on the Firestore emulator, an in-process fake Google and the Cloud Tasks emulator.

What each function answers (the clinic app's contract: README, "HTTP functions"), and that bad input of any kind is a 4xx with the
contract's error body, never a 5xx.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.cloud import firestore as firestore_lib
from werkzeug.test import EnvironBuilder

from infra.local.bridge import build_event
from infra.local.environment import TASKS_LOCATION
from shared.bootstrap import services
from shared.domain.event_link import event_id
from tests.integration.functions_app import (
    HTTP_FUNCTIONS,
    Deployed,
    assert_error,
    assert_refusal_page,
    channel_token,
    notify,
    query_of,
)

# Method each HTTP function takes; every other method is refused with 405.
METHODS = {name: "POST" for name in HTTP_FUNCTIONS} | {"oauth_callback": "GET", "list_links": "GET"}
# The POST functions that read a body (the webhook and the scheduler targets never read theirs).
BODY_FUNCTIONS = ["approve_link", "disable_link", "oauth_start", "pull_worker", "push_worker", "resync_link"]

# A valid body of each POST function that takes one (renew_channels and reconcile_links take none).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "oauth_start": {"clinicId": "demo", "centerId": "centro-b", "userId": "pautrave", "bidirectional": True},
    "approve_link": {
        "clinicId": "demo",
        "centerId": "centro-b",
        "userId": "admin",
        "linkId": "no-such-link",
        "decision": "approve",
    },
    "disable_link": {"clinicId": "demo", "userId": "pautrave", "linkId": "no-such-link"},
    "complete_link": {"clinicId": "demo", "userId": "pautrave", "linkId": "no-such-link", "code": "c0de"},
    "resync_link": {"clinicId": "demo", "userId": "pautrave", "linkId": "no-such-link"},
    "push_worker": {"clinicId": "demo", "linkId": "no-such-link", "appointmentId": "a1"},
    "pull_worker": {"clinicId": "demo", "linkId": "no-such-link"},
}
# Fields of each body with a value of the wrong JSON type (no coercion: "true" or 1 is not a boolean).
WRONG_TYPES: dict[str, list[tuple[str, Any]]] = {
    "oauth_start": [("bidirectional", "true"), ("bidirectional", 1), ("returnUrl", 5), ("userId", ["a"])],
    "approve_link": [("decision", 1), ("decision", True), ("linkId", 7)],
    "disable_link": [("userId", 42), ("linkId", {"id": "x"})],
    "complete_link": [("code", 7), ("linkId", None)],
    "resync_link": [("userId", 42), ("linkId", ["x"])],
    "push_worker": [("backfill", 0), ("backfill", "yes"), ("appointmentId", 3)],
    "pull_worker": [("linkId", None), ("clinicId", 1.5), ("full", "yes")],
}


def appointment(functions: Deployed, appointment_id: str, **fields: Any) -> firestore_lib.DocumentSnapshot:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    ref = functions.db.document(f"clinics/demo/appointments/{appointment_id}")
    ref.set(
        {
            "professionalId": "marina",
            "centerId": "centro-b",
            "start": start,
            "end": start + timedelta(minutes=30),
            "status": "scheduled",
            **fields,
        }
    )
    return ref.get()


# --- every function: methods and bad input ---------------------------------------------------------
@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_other_methods_are_refused_with_405(functions: Deployed, function: str) -> None:
    wrong = "GET" if METHODS[function] == "POST" else "POST"
    for method in (wrong, "PUT", "DELETE"):
        response = functions.client(function).open("/", method=method, json={})
        assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize("function", BODY_FUNCTIONS)
def test_malformed_json_is_a_400(functions: Deployed, function: str) -> None:
    for raw in (b"{", b"[]", b'"text"', b"null", b"\xff\xfe", b""):
        response = functions.post(function, data=raw, content_type="application/json")
        assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("function", sorted(VALID_BODIES))
def test_wrong_types_missing_and_unknown_fields_are_400s(functions: Deployed, function: str) -> None:
    valid = VALID_BODIES[function]
    before = functions.dump()

    for field, wrong_value in WRONG_TYPES[function]:
        wrong = functions.post(function, {**valid, field: wrong_value})
        assert field in assert_error(wrong, 400, "invalid_request")["message"]

    for missing in [key for key in valid if key in ("clinicId", "linkId", "userId")]:
        body = {key: value for key, value in valid.items() if key != missing}
        assert missing in assert_error(functions.post(function, body), 400, "invalid_request")["message"]

    unknown = functions.post(function, {**valid, "isMaster": True})
    assert "isMaster" in assert_error(unknown, 400, "invalid_request")["message"]

    # Ids that Firestore cannot take as document ids must be refused before any read.
    for bad_id in ("", "a/b", "x" * 129, "../users/admin", ".", "..", "__name__", " "):
        for key in ("clinicId", "linkId"):
            if key in valid:
                assert_error(functions.post(function, {**valid, key: bad_id}), 400, "invalid_request")
    assert functions.dump() == before


@pytest.mark.parametrize("function", BODY_FUNCTIONS)
def test_an_oversized_body_is_a_413(functions: Deployed, function: str) -> None:
    body = {**VALID_BODIES[function], "padding": "x" * (64 * 1024)}
    response = functions.post(function, data=json.dumps(body), content_type="application/json")
    assert_error(response, 413, "payload_too_large")


class EndlessBody(io.RawIOBase):
    """A request body that never ends, counting what the server reads of it."""

    def __init__(self, start: bytes) -> None:
        self.start = start
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        size = min(len(view), 8192)  # short reads, as a socket gives them
        data = (self.start + b"x" * size)[:size] if self.given == 0 else b"x" * size
        view[: len(data)] = data
        self.given += len(data)
        return len(data)


def chunked_call(functions: Deployed, function: str, body: io.RawIOBase) -> tuple[str, bytes]:
    """The function's app called as a server hands it a chunked request: no Content-Length, and
    `wsgi.input_terminated` (the server decodes the chunks and ends the stream)."""
    environ = EnvironBuilder(method="POST", path="/", content_type="application/json").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": body, "wsgi.input_terminated": True})
    status: list[str] = []
    app = functions.client(function).application
    answer = b"".join(app(environ, lambda code, headers, exc_info=None: status.append(code)))
    return status[0], answer


@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_a_chunked_body_is_never_read_past_the_cap(functions: Deployed, function: str) -> None:
    start = json.dumps(VALID_BODIES.get(function, {}))[:-1].encode() + b', "padding": "'
    endless = EndlessBody(start)
    status, answer = chunked_call(functions, function, endless)
    assert status.startswith("413"), answer
    assert b"payload_too_large" in answer
    # The function's cap, and functions-framework's read of the whole request after it, stop there.
    assert endless.given <= 64 * 1024 + 8192, f"{endless.given} bytes read of a body with no end"


@pytest.mark.parametrize("function", BODY_FUNCTIONS)
def test_a_chunked_body_under_the_cap_is_read_whole(functions: Deployed, function: str) -> None:
    small = json.dumps({**VALID_BODIES[function], "unknownField": 1}).encode()
    status, answer = chunked_call(functions, function, io.BytesIO(small))  # type: ignore[arg-type]
    assert status.startswith("400") and b"unknownField" in answer, answer  # read whole, then validated


def test_bad_queries_are_400s(functions: Deployed) -> None:
    assert_error(functions.get("list_links", {"clinicId": "demo"}), 400, "invalid_request")
    assert_error(functions.get("list_links", {"clinicId": "demo", "userId": "a b"}), 400, "invalid_request")
    unknown = functions.get("list_links", {"clinicId": "demo", "userId": "admin", "all": "1"})
    assert "all" in assert_error(unknown, 400, "invalid_request")["message"]
    # Google's redirect lands in a browser: its refusals are pages (tests/integration/test_people_facing.py).
    for query in ({"code": "c"}, {"state": "s" * 300}):
        assert_refusal_page(functions.get("oauth_callback", query), 400, "invalid_request")


# --- oauth_start ---------------------------------------------------------------------------------------
def test_oauth_start_answers_the_consent_url(functions: Deployed) -> None:
    response = functions.post(
        "oauth_start",
        {"clinicId": "demo", "centerId": "centro-b", "userId": "pautrave", "bidirectional": True},
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"linkId", "authorizationUrl"}
    url = urlsplit(body["authorizationUrl"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{functions.google.url}/o/oauth2/v2/auth"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["client_id"] == "local-client"
    assert query["redirect_uri"] == f"{functions.receiver.url}/oauth_callback"
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert set(query["scope"].split()) == {
        "openid",
        "email",
        "https://www.googleapis.com/auth/calendar.app.created",
    }
    link = functions.doc(f"clinics/demo/syncLinks/{body['linkId']}")
    assert link is not None and link["status"] == "pending_oauth" and link["professionalId"] == "marina"
    state = functions.doc(f"oauthStates/{query['state']}")
    assert state is not None and state["linkId"] == body["linkId"]


def test_oauth_start_refuses_what_the_clinic_does_not_hold(functions: Deployed) -> None:
    start = {"clinicId": "demo", "centerId": "centro-b", "userId": "pautrave", "bidirectional": False}
    before = functions.dump()
    cases = [
        ({"clinicId": "nowhere"}, 404, "clinic_not_found"),
        ({"centerId": "centro-z"}, 404, "center_not_found"),
        ({"userId": "nobody"}, 404, "user_not_found"),
        ({"professionalId": "nobody"}, 404, "professional_not_found"),
        ({"userId": "admin"}, 403, "user_not_linked_to_professional"),
        ({"returnUrl": "javascript:alert(1)"}, 400, "invalid_request"),
        # The user goes back only to a configured host (RETURN_URL_HOSTS: clinic.example, 127.0.0.1),
        # over https; plain http only to a loopback host.
        ({"returnUrl": "https://evil.example/back"}, 400, "return_url_not_allowed"),
        ({"returnUrl": "https://clinic.example.evil.example/"}, 400, "return_url_not_allowed"),
        ({"returnUrl": "https://clinic.example@evil.example/"}, 400, "return_url_not_allowed"),
        ({"returnUrl": "http://clinic.example/back"}, 400, "return_url_not_allowed"),
        ({"returnUrl": "ftp://clinic.example/back"}, 400, "invalid_request"),
        ({"returnUrl": "http://localhost/back"}, 400, "return_url_not_allowed"),  # loopback, not configured
    ]
    for change, status, code in cases:
        assert_error(functions.post("oauth_start", {**start, **change}), status, code)
    assert functions.dump() == before


def test_oauth_start_takes_a_configured_return_url(functions: Deployed) -> None:
    for url in (
        "https://clinic.example/back?tab=google",
        "https://CLINIC.example:8443/x",
        "http://127.0.0.1:9/b",
    ):
        started = functions.post("oauth_start", {**VALID_BODIES["oauth_start"], "returnUrl": url})
        assert started.status_code == 200, (url, started.get_data(as_text=True))


# --- oauth_callback ------------------------------------------------------------------------------------
def test_oauth_callback_redirects_to_the_return_url(functions: Deployed) -> None:
    started = functions.start(returnUrl="https://clinic.example/back?tab=google")
    answer = functions.callback(functions.consent(started["authorizationUrl"], "pau@gmail.com"))

    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://clinic.example/back"
    back = query_of(answer.headers["Location"])
    code = back.pop("code")
    assert back == {"tab": "google", "linkId": started["linkId"], "status": "consented"}
    # Nothing counts until the clinic app redeems the code: the link still waits, no key is held.
    assert functions.doc(f"clinics/demo/syncLinks/{started['linkId']}")["status"] == "pending_oauth"  # type: ignore[index]
    assert list(functions.db.collection("linkKeys").stream()) == []
    redeemed = functions.complete("pautrave", {"linkId": started["linkId"], "code": code})
    assert redeemed.status_code == 200, redeemed.get_data(as_text=True)
    assert redeemed.get_json()["link"]["status"] == "pending_approval"


def test_oauth_callback_without_return_url_shows_a_page_with_the_code(functions: Deployed) -> None:
    started = functions.start()
    answer = functions.callback(functions.consent(started["authorizationUrl"], "pau@gmail.com"))

    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert 'data-status="consented"' in page and "introduzca este código" in page
    code = page.split('<code id="code"')[1].split(">")[1].split("<")[0]
    redeemed = functions.complete("pautrave", {"linkId": started["linkId"], "code": code})
    assert redeemed.get_json()["link"]["status"] == "pending_approval"


def test_oauth_callback_with_an_unknown_state_is_a_404(functions: Deployed) -> None:
    before = functions.dump()
    assert_refusal_page(functions.callback({"state": "never-issued", "code": "4/abc"}), 404, "invalid_state")
    assert functions.dump() == before


def test_oauth_callback_when_the_user_denies_access(functions: Deployed) -> None:
    started = functions.start(returnUrl="https://clinic.example/back")
    denied = functions.consent(started["authorizationUrl"], "pau@gmail.com", decision="deny")
    assert denied["error"] == "access_denied"

    answer = functions.callback(denied)

    assert answer.status_code == 302
    assert query_of(answer.headers["Location"]) == {
        "linkId": started["linkId"],
        "status": "failed",
        "reason": "access_denied",
    }
    link = functions.doc(f"clinics/demo/syncLinks/{started['linkId']}")
    assert link is not None and (link["status"], link["reason"]) == ("failed", "access_denied")
    assert functions.doc(f"linkSecrets/{started['linkId']}") is None


# --- approve_link, disable_link, list_links ------------------------------------------------------------
def test_approve_link_activates_and_queues_the_backfill(functions: Deployed) -> None:
    linked = functions.sign_in()
    response = functions.approve(linked["linkId"])

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"link"}
    link = body["link"]
    assert link["id"] == linked["linkId"] and link["status"] == "active" and link["approvedBy"] == "admin"
    assert link["calendarId"] and link["channelExpiresAt"] and link["activatedAt"]
    for key in (
        "clinicId",
        "centerId",
        "userId",
        "professionalId",
        "googleEmail",
        "bidirectional",
        "createdAt",
        "lastPushAt",
        "lastPullAt",
        "lastError",
    ):
        assert key in link
    task = functions.receiver.wait_for(
        "/push_worker", {"clinicId": "demo", "linkId": link["id"], "backfill": True}
    )
    assert task.headers["content-type"] == "application/json"


def test_approve_link_can_reject(functions: Deployed) -> None:
    linked = functions.sign_in()
    body = {"clinicId": "demo", "centerId": "centro-b", "userId": "admin", "linkId": linked["linkId"]}
    response = functions.post("approve_link", {**body, "decision": "reject"})

    assert response.status_code == 200
    assert response.get_json()["link"]["status"] == "rejected"
    assert_error(functions.post("approve_link", {**body, "decision": "approve"}), 409, "link_not_pending")


def test_disable_link_answers_the_disabled_link(functions: Deployed) -> None:
    link = functions.active_link()
    response = functions.post(
        "disable_link", {"clinicId": "demo", "userId": "pautrave", "linkId": link["id"]}
    )

    assert response.status_code == 200
    disabled = response.get_json()["link"]
    assert (disabled["id"], disabled["status"], disabled["calendarId"]) == (
        link["id"],
        "disabled",
        link["calendarId"],
    )
    assert functions.doc(f"linkSecrets/{link['id']}") is None


def test_list_links_own_and_the_masters(functions: Deployed) -> None:
    mine = functions.active_link()
    functions.sign_in("marina", "marina@gmail.com")

    own = functions.get("list_links", {"clinicId": "demo", "userId": "pautrave"})
    every = functions.get("list_links", {"clinicId": "demo", "userId": "admin"})

    assert own.status_code == every.status_code == 200
    assert [link["id"] for link in own.get_json()["links"]] == [mine["id"]]
    assert {link["userId"] for link in every.get_json()["links"]} == {"pautrave", "marina"}
    assert_error(functions.get("list_links", {"clinicId": "demo", "userId": "nobody"}), 404, "user_not_found")


# --- calendar_webhook ----------------------------------------------------------------------------------
def test_calendar_webhook(functions: Deployed) -> None:
    link = functions.active_link()
    [channel] = [c for c in functions.google_state()["channels"] if c["calendarId"] == link["calendarId"]]
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}")
    assert stored is not None and stored["channel"]["id"] == channel["id"]
    functions.receiver.clear()

    missing = functions.post("calendar_webhook", headers={"X-Goog-Channel-ID": channel["id"]})
    assert_error(missing, 400, "invalid_request")
    assert_error(notify(functions, channel["id"], "wrong", "exists"), 403, "bad_channel_token")

    unknown = str(uuid.uuid4())
    ignored = notify(functions, unknown, channel_token(unknown), "exists")
    assert (ignored.status_code, ignored.get_json()) == (200, {"result": "ignored"})

    synced = notify(functions, channel["id"], channel["token"], "sync")
    assert (synced.status_code, synced.get_json()) == (200, {"result": "acknowledged"})

    queued = notify(functions, channel["id"], channel["token"], "exists")
    assert (queued.status_code, queued.get_json()) == (200, {"result": "queued"})
    functions.receiver.wait_for("/pull_worker", {"clinicId": "demo", "linkId": link["id"]})


def test_calendar_webhook_not_exists_marks_the_link_and_answers_200(functions: Deployed) -> None:
    link = functions.active_link()
    [channel] = [c for c in functions.google_state()["channels"] if c["calendarId"] == link["calendarId"]]
    gone = notify(functions, channel["id"], channel["token"], "not_exists")
    assert (gone.status_code, gone.get_json()) == (200, {"result": "calendar_deleted"})
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}")
    assert stored and stored["status"] == "needs_reconnect" and stored["reason"] == "calendar_deleted"


# --- push_worker and pull_worker -----------------------------------------------------------------------
@pytest.mark.parametrize("worker", ["push_worker", "pull_worker"])
def test_workers_skip_an_unknown_link(functions: Deployed, worker: str) -> None:
    response = functions.post(worker, VALID_BODIES[worker])
    assert response.status_code == 200
    assert response.get_json()["skipped"]


def test_push_worker_needs_an_appointment_or_a_backfill(functions: Deployed) -> None:
    response = functions.post("push_worker", {"clinicId": "demo", "linkId": "l1"})
    assert_error(response, 400, "invalid_request")
    for bad_id in ("a/b", "..", "__a__"):
        task = {"clinicId": "demo", "linkId": "l1", "appointmentId": bad_id}
        assert_error(functions.post("push_worker", task), 400, "invalid_request")


def test_push_worker_puts_the_appointment_in_google(functions: Deployed) -> None:
    link = functions.active_link()
    appointment(functions, "a1", patientName="Ana López")

    response = functions.post(
        "push_worker", {"clinicId": "demo", "linkId": link["id"], "appointmentId": "a1"}
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"done": 1, "unchanged": 0, "failed": 0, "skipped": None}
    token = requests.post(f"{functions.google.url}/_fake/token", json={"email": "pau@gmail.com"}, timeout=10)
    event = requests.get(
        f"{functions.google.url}/calendar/v3/calendars/{link['calendarId']}/events/{event_id('demo', 'a1')}",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    assert event.status_code == 200 and event.json()["summary"] == "Cita"


def test_pull_worker_reads_the_calendar(functions: Deployed) -> None:
    link = functions.active_link()

    response = functions.post("pull_worker", {"clinicId": "demo", "linkId": link["id"]})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert set(response.get_json()) == {
        "events",
        "applied",
        "pushedBack",
        "conflicts",
        "skipped",
        "continued",
    }
    assert response.get_json()["skipped"] is None
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}")
    assert stored is not None and stored["lastPullAt"] is not None

    # The next part of a full sync names its page; with none under way, it is an ordinary pull.
    part = {"clinicId": "demo", "linkId": link["id"], "pageToken": "next-page"}
    again = functions.post("pull_worker", part)
    assert again.status_code == 200 and again.get_json()["continued"] is False


def test_pull_worker_defers_a_pull_refused_for_quota(functions: Deployed) -> None:
    link = functions.active_link()
    faults = f"{functions.google.url}/_fake/faults"
    rule = {"route": "calendar.events.list", "rate": 1, "status": 429, "count": 1}
    requests.post(faults, json=rule, timeout=10).raise_for_status()
    try:
        response = functions.post("pull_worker", {"clinicId": "demo", "linkId": link["id"]})
    finally:
        requests.post(faults, json={}, timeout=10).raise_for_status()

    # Answered, not retried: a new pull task runs once the quota's minute has passed.
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["skipped"] == "deferred: Google quota"


def test_push_worker_keeps_a_dead_letter_on_the_queues_last_attempt_and_a_later_push_heals_it(
    functions: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    link = functions.active_link()
    appointment(functions, "a1")
    task = {"clinicId": "demo", "linkId": link["id"], "appointmentId": "a1"}
    faults = f"{functions.google.url}/_fake/faults"
    requests.post(
        faults, json={"route": "calendar.events.insert", "status": 500}, timeout=10
    ).raise_for_status()
    last = services().settings.push_max_attempts - 1
    try:
        earlier = functions.post("push_worker", task, headers={"X-CloudTasks-TaskRetryCount": str(last - 1)})
        capsys.readouterr()
        final = functions.post("push_worker", task, headers={"X-CloudTasks-TaskRetryCount": str(last)})
    finally:
        requests.post(faults, json={}, timeout=10).raise_for_status()

    assert_error(earlier, 503, "retry_later")  # Cloud Tasks retries
    assert (final.status_code, final.get_json()) == (200, {"deadLetter": True, "attempts": last + 1})
    # The line infra/monitoring.tf's dead_letters metric counts.
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [line] = [entry for entry in lines if entry.get("event") == "dead_letter"]
    assert (line["severity"], line["queue"], line["linkId"]) == ("ERROR", "push", link["id"])
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}")
    assert stored is not None and stored["pendingFailures"] == 1 and stored["status"] == "active"
    assert stored["lastError"]["code"] == "dead_letter"
    letter = functions.doc(f"clinics/demo/syncLinks/{link['id']}/deadLetters/push-a1")
    assert letter is not None and (letter["kind"], letter["attempts"]) == ("push", last + 1)
    listed = functions.get("list_links", {"clinicId": "demo", "userId": "pautrave"}).get_json()["links"]
    assert listed[0]["pendingFailures"] == 1

    healed = functions.post("push_worker", task)
    assert healed.get_json()["done"] == 1
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}")
    assert stored is not None and stored["pendingFailures"] == 0
    assert functions.doc(f"clinics/demo/syncLinks/{link['id']}/deadLetters/push-a1") is None


def test_resync_link_queues_a_backfill_and_a_full_pull(functions: Deployed) -> None:
    link = functions.active_link()
    functions.receiver.clear()
    body = {"clinicId": "demo", "userId": "pautrave", "linkId": link["id"]}

    response = functions.post("resync_link", body)

    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["queued"] == ["backfill", "pull"]
    assert response.get_json()["link"]["id"] == link["id"]
    # Both tasks run at once, in whichever order the queues deliver them.
    delivered = {
        (d.path, json.dumps(d.json(), sort_keys=True)) for d in functions.receiver.deliveries(wait=3)
    }
    ids = {"clinicId": "demo", "linkId": link["id"]}
    assert ("/push_worker", json.dumps({**ids, "backfill": True}, sort_keys=True)) in delivered
    assert ("/pull_worker", json.dumps({**ids, "full": True}, sort_keys=True)) in delivered
    assert functions.post("resync_link", body).get_json()["queued"] == []  # within the minute: nothing more
    assert_error(functions.post("resync_link", {**body, "userId": "marina"}), 404, "link_not_found")
    functions.post("disable_link", body)
    refused = assert_error(functions.post("resync_link", body), 409, "link_not_active")
    assert "activa" in refused["message"]


def test_pull_worker_takes_a_full_pull(functions: Deployed) -> None:
    link = functions.active_link()
    response = functions.post("pull_worker", {"clinicId": "demo", "linkId": link["id"], "full": True})
    assert response.status_code == 200 and response.get_json()["skipped"] is None


def test_drift_check_reports_what_it_checked(functions: Deployed) -> None:
    link = functions.active_link()
    functions.receiver.clear()
    response = functions.post("drift_check")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"links": 1, "repaired": 0, "backfills": 0, "pulls": 0, "skipped": 0}
    stored = functions.doc(f"clinics/demo/syncLinks/{link['id']}")
    assert stored is not None and stored["driftCheckedAt"] is not None


# --- renew_channels and reconcile_links ----------------------------------------------------------------
def test_renew_channels_reports_what_it_did(functions: Deployed) -> None:
    response = functions.post("renew_channels")
    assert response.status_code == 200
    assert response.get_json() == {
        "renewed": 0,
        "started": 0,
        "failed": 0,
        "activationsRetried": 0,
        "privacyBackfills": 0,
    }


def test_reconcile_links_queues_a_pull_per_two_way_link(functions: Deployed) -> None:
    link = functions.active_link()
    functions.receiver.clear()

    response = functions.post("reconcile_links")

    assert (response.status_code, response.get_json()) == (200, {"queued": 1})
    # The pull runs at once (only notifications wait a moment, to gather a burst).
    functions.receiver.wait_for("/pull_worker", {"clinicId": "demo", "linkId": link["id"]})


# --- on_appointment_written ----------------------------------------------------------------------------
def test_on_appointment_written_queues_a_push_per_active_link(functions: Deployed) -> None:
    link = functions.active_link()
    functions.receiver.clear()
    written = appointment(functions, "a2")
    event = build_event(
        written.reference.path, None, written, "demo-clinic", TASKS_LOCATION, datetime.now(UTC)
    )

    response = functions.client("on_appointment_written").post("/", headers=event.headers, data=event.body)

    assert response.status_code == 200, response.get_data(as_text=True)
    functions.receiver.wait_for(
        "/push_worker", {"clinicId": "demo", "linkId": link["id"], "appointmentId": "a2"}
    )


def test_on_appointment_written_acknowledges_an_undecodable_event(functions: Deployed) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "bad-1",
        "ce-source": "//firestore.googleapis.com/projects/demo-clinic/databases/(default)",
        "ce-type": "google.cloud.firestore.document.v1.written",
        "Content-Type": "application/protobuf",
    }
    response = functions.client("on_appointment_written").post("/", headers=headers, data=b"\xff\x00garbage")
    # Retrying cannot make it decodable: acknowledged (and logged), never a retry loop.
    assert response.status_code == 200


def test_on_appointment_written_ignores_other_documents(functions: Deployed) -> None:
    functions.active_link()
    functions.receiver.clear()
    user = functions.db.document("clinics/demo/users/admin").get()
    event = build_event(user.reference.path, None, user, "demo-clinic", TASKS_LOCATION, datetime.now(UTC))

    response = functions.client("on_appointment_written").post("/", headers=event.headers, data=event.body)

    assert response.status_code == 200
    assert [d for d in functions.receiver.deliveries(wait=0.5) if d.path == "/push_worker"] == []
