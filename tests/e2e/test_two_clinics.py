"""The same Google account at the demo data's two clinics, through the running local stack over HTTP.

Marina works at `norte` (privacy `full`, where she is the master) and at `demo`. Her Gmail is linked at
norte, an appointment with a patient's name is pushed, the link is disabled; then the same Gmail is linked
two-way at demo. Each clinic gets its own calendar, and demo never imports norte's appointment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from infra.local.demo_data import OTHER_CLINIC_ID
from infra.local.stack import LocalStack
from shared.domain.event_link import event_id
from tests.e2e.test_seed_flow import (
    CLINIC,
    RETURN_URL,
    ClinicApp,
    GoogleUser,
    tomorrow_at,
    unique,
    wait_for,
)

pytestmark = pytest.mark.e2e

PATIENT = "Nuria Norte"


@pytest.fixture(scope="module")
def clinic(local_stack: LocalStack) -> ClinicApp:
    return ClinicApp(local_stack, local_stack.firestore_client())


def sign_in_at_norte(clinic: ClinicApp, email: str) -> dict[str, str]:
    """Marina, master at norte, links her own agenda one-way: active without approval."""
    started = clinic.post(
        "oauth_start",
        {
            "clinicId": OTHER_CLINIC_ID,
            "centerId": "centro-norte",
            "userId": "marina",
            "returnUrl": RETURN_URL,
        },
    )
    assert started.status_code == 200, started.text
    consent = urlencode({"login_hint": email, "fake_decision": "allow"})
    callback = requests.get(
        f"{started.json()['authorizationUrl']}&{consent}", allow_redirects=False, timeout=15
    ).headers["Location"]
    back = requests.get(callback, allow_redirects=False, timeout=15)
    assert back.status_code == 302, back.text
    answer = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
    if answer.get("status") != "consented":
        return answer
    # The clinic app redeems the callback's one-time code for the user who started the link.
    redeemed = clinic.post(
        "complete_link",
        {"clinicId": OTHER_CLINIC_ID, "userId": "marina", "linkId": answer["linkId"], "code": answer["code"]},
    )
    assert redeemed.status_code == 200, redeemed.text
    return {"linkId": answer["linkId"], "status": redeemed.json()["link"]["status"]}


@pytest.fixture
def written(clinic: ClinicApp) -> Iterator[list[str]]:
    """Paths of documents the test writes, deleted afterwards (the stack is shared)."""
    paths: list[str] = []
    yield paths
    for path in paths:
        clinic.db.document(path).delete()


def test_the_same_gmail_at_two_clinics_keeps_each_clinics_events_its_own(
    clinic: ClinicApp, written: list[str]
) -> None:
    email = f"{unique('marina')}@gmail.com"
    answer = sign_in_at_norte(clinic, email)
    assert answer["status"] == "active", answer
    norte_link = answer["linkId"]
    norte_doc = clinic.db.document(f"clinics/{OTHER_CLINIC_ID}/syncLinks/{norte_link}").get().to_dict() or {}
    norte_calendar = norte_doc["calendarId"]
    token = clinic.fake("POST", "/_fake/token", json={"email": email}).json()["access_token"]
    google = GoogleUser(clinic.stack.ports.fake_google_url, email, token)

    appointment_id = unique("e2e-norte")
    path = f"clinics/{OTHER_CLINIC_ID}/appointments/{appointment_id}"
    written.append(path)
    start = tomorrow_at(11)
    clinic.db.document(path).set(
        {
            "professionalId": "marina",
            "centerId": "centro-norte",
            "start": start,
            "end": start.replace(hour=12),
            "status": "scheduled",
            "patientName": PATIENT,
        }
    )
    pushed, _ = wait_for(lambda: google.event(norte_calendar, event_id(OTHER_CLINIC_ID, appointment_id)), 10)
    assert PATIENT in pushed["summary"]
    disabled = clinic.post(
        "disable_link", {"clinicId": OTHER_CLINIC_ID, "userId": "marina", "linkId": norte_link}
    )
    assert disabled.status_code == 200, disabled.text

    # The same Gmail, two-way, at the demo clinic: a new user asks, the master approves.
    user = unique("e2e-user")
    clinic.add_user(user)
    written.append(f"clinics/{CLINIC}/users/{user}")
    asked = clinic.sign_in(user, email)
    assert asked["status"] == "pending_approval", asked
    approved = clinic.approve(asked["linkId"])
    assert approved.status_code == 200, approved.text
    demo: dict[str, Any] = approved.json()["link"]
    try:
        assert demo["status"] == "active" and demo["calendarId"] != norte_calendar
        clinic.settle()  # the backfill and the first pull
        imported = [
            d.id
            for d in clinic.db.collection(f"clinics/{CLINIC}/appointments").stream()
            if PATIENT in repr(d.to_dict())
            or ((d.to_dict() or {}).get("origin") or {}).get("calendarId") == norte_calendar
        ]
        assert imported == []
        still = google.event(norte_calendar, pushed["id"])
        assert still is not None and still["summary"] == pushed["summary"]
        assert still["extendedProperties"]["private"]["clinicId"] == OTHER_CLINIC_ID
        # Demo's calendar shows demo's appointments only (the shared stack may hold some of Marina's).
        listed = google.call("GET", f"/calendars/{demo['calendarId']}/events").json()["items"]
        marks = {((e.get("extendedProperties") or {}).get("private") or {}).get("clinicId") for e in listed}
        assert marks <= {CLINIC} and not [e for e in listed if PATIENT in e.get("summary", "")]
    finally:
        clinic.disable(user, demo["id"])
