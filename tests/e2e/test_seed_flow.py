"""The product description's flows through the running local stack, over HTTP only.

The clinic app is played by HTTP calls to the functions and by writes to Firestore; Google's user by the
fake Google's consent page and by Calendar API calls with a token from `/_fake/token`. Every test uses its
own users, e-mails and appointments, and disables what it linked, because the stack is shared.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from google.cloud import firestore as firestore_lib

from infra.local.stack import LocalStack
from shared.domain.event_link import event_id

pytestmark = pytest.mark.e2e

CLINIC = "demo"
MASTER = "admin"
PROFESSIONAL = "marina"
# The local stack allows loopback return URLs only (RETURN_URL_HOSTS); this one is never fetched.
RETURN_URL = "http://127.0.0.1:9/clinic/back"
CALENDAR_NAME = "DASI eCLINIC"
WRITES = (
    "calendar.events.insert",
    "calendar.events.patch",
    "calendar.events.update",
    "calendar.events.delete",
)
# Field names that would mean a secret leaked into a reply to the clinic app.
SECRET_FIELD = re.compile(r"token|secret|verifier|password|credential", re.IGNORECASE)

T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(probe: Callable[[], T | None], timeout: float, interval: float = 0.05) -> tuple[T, float]:
    """Poll `probe` until it answers something truthy; returns it and the seconds it took."""
    began = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise AssertionError(f"nothing after {timeout} s")
        time.sleep(interval)


def secret_fields(value: Any, path: str = "") -> list[str]:
    """Every key, anywhere in a JSON value, whose name suggests a token or a secret."""
    if isinstance(value, dict):
        found = [f"{path}.{key}" for key in value if SECRET_FIELD.search(str(key))]
        return found + [hit for key, item in value.items() for hit in secret_fields(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [hit for index, item in enumerate(value) for hit in secret_fields(item, f"{path}[{index}]")]
    return []


@dataclass
class ClinicApp:
    """The clinic app's view of the running stack: its functions, its Firestore, and the fake Google."""

    stack: LocalStack
    db: firestore_lib.Client

    # --- the functions, as the clinic app's backend calls them --------------------------------------
    def post(self, function: str, body: dict[str, Any]) -> requests.Response:
        url, headers = self.stack.function_url(function), self.stack.caller_headers(function)
        return requests.post(url, json=body, headers=headers, timeout=15)

    def get(self, function: str, params: dict[str, str]) -> requests.Response:
        url, headers = self.stack.function_url(function), self.stack.caller_headers(function)
        return requests.get(url, params=params, headers=headers, timeout=15)

    def sign_in(self, user: str, email: str, center: str = "centro-b", bidirectional: bool = True) -> dict:
        """oauth_start, Google's consent page, oauth_callback, complete_link: answers the query the clinic
        app gets back, with the link's status once the app redeemed the code."""
        started = self.post(
            "oauth_start",
            {
                "clinicId": CLINIC,
                "centerId": center,
                "userId": user,
                "bidirectional": bidirectional,
                "returnUrl": RETURN_URL,
            },
        )
        assert started.status_code == 200, started.text
        body = started.json()
        assert set(body) == {"linkId", "authorizationUrl"}
        consent = urlencode({"login_hint": email, "fake_decision": "allow"})
        to_callback = requests.get(f"{body['authorizationUrl']}&{consent}", allow_redirects=False, timeout=15)
        assert to_callback.status_code in (302, 303), to_callback.text
        callback = to_callback.headers["Location"]
        assert callback.startswith(self.stack.function_url("oauth_callback") + "?")
        back = requests.get(callback, allow_redirects=False, timeout=15)
        assert back.status_code == 302, back.text
        location = back.headers["Location"]
        assert location.startswith(RETURN_URL + "?")
        answer = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        assert answer["linkId"] == body["linkId"]
        if answer["status"] != "consented":
            return answer
        # The clinic app redeems the one-time code from the session of the user who started the link.
        redeemed = self.post(
            "complete_link",
            {"clinicId": CLINIC, "userId": user, "linkId": answer["linkId"], "code": answer.pop("code")},
        )
        assert redeemed.status_code == 200, redeemed.text
        outcome = redeemed.json()
        answer["status"] = outcome["link"]["status"]
        if "reason" in outcome:
            answer["reason"] = outcome["reason"]
        return answer

    def approve(self, link_id: str, center: str = "centro-b") -> requests.Response:
        return self.post(
            "approve_link",
            {
                "clinicId": CLINIC,
                "centerId": center,
                "userId": MASTER,
                "linkId": link_id,
                "decision": "approve",
            },
        )

    def disable(self, user: str, link_id: str) -> requests.Response:
        return self.post("disable_link", {"clinicId": CLINIC, "userId": user, "linkId": link_id})

    # --- Firestore, as the clinic app writes it ------------------------------------------------------
    def add_user(self, user: str, professional: str = PROFESSIONAL) -> None:
        self.db.document(f"clinics/{CLINIC}/users/{user}").set(
            {
                "name": "Usuario E2E",
                "email": f"{user}@demo-clinic.test",
                "isMaster": False,
                "professionalIds": [professional],
            }
        )

    def appointment_ref(self, appointment_id: str) -> firestore_lib.DocumentReference:
        return self.db.document(f"clinics/{CLINIC}/appointments/{appointment_id}")

    def link_doc(self, link_id: str) -> dict[str, Any]:
        return self.db.document(f"clinics/{CLINIC}/syncLinks/{link_id}").get().to_dict() or {}

    # --- the fake Google ------------------------------------------------------------------------------
    def fake(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.stack.ports.fake_google_url}{path}", timeout=15, **kwargs)

    def google_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.fake("GET", "/_fake/state").json()
        return state

    def write_counts(self) -> dict[str, int]:
        counts = self.fake("GET", "/_fake/requests").json()
        return {route: counts.get(route, 0) for route in WRITES}

    def settle(self, quiet: float = 0.8, timeout: float = 15.0) -> None:
        """Wait until the fake Google has seen no request for `quiet` seconds (backfills, echoes, pulls)."""
        deadline = time.monotonic() + timeout
        last, since = self.fake("GET", "/_fake/requests").json(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.fake("GET", "/_fake/requests").json()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
        raise AssertionError("the fake Google never went quiet")


@dataclass
class GoogleUser:
    """A Google account acting in Google Calendar's own UI (full scope; its edits notify channels)."""

    base: str
    email: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(
            method, f"{self.base}/calendar/v3{path}", headers=headers, timeout=15, **kwargs
        )

    def event(self, calendar_id: str, event_id_: str) -> dict[str, Any] | None:
        """The event, or None when it does not exist or is cancelled."""
        answer = self.call("GET", f"/calendars/{calendar_id}/events/{event_id_}")
        if answer.status_code in (404, 410):
            return None
        answer.raise_for_status()
        event: dict[str, Any] = answer.json()
        return None if event.get("status") == "cancelled" else event


@dataclass
class ActiveLink:
    id: str
    user: str
    email: str
    calendar_id: str
    google: GoogleUser


def tomorrow_at(hour: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


def event_start(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["start"]["dateTime"])


@pytest.fixture(scope="module")
def clinic(local_stack: LocalStack) -> ClinicApp:
    return ClinicApp(local_stack, local_stack.firestore_client())


@pytest.fixture
def appointments(clinic: ClinicApp) -> Iterator[list[str]]:
    """Ids of the appointments a test writes; deleted afterwards (after its link is disabled)."""
    written: list[str] = []
    yield written
    for appointment_id in written:
        clinic.appointment_ref(appointment_id).delete()


@pytest.fixture
def link_agenda(clinic: ClinicApp, appointments: list[str]) -> Iterator[Callable[[str], ActiveLink]]:
    """Links a professional's agenda two-way for a new clinic user, approved by the master.

    Every link made is disabled afterwards, and the users and professionals made for it deleted.
    """
    users: list[str] = []
    links: list[tuple[str, str]] = []

    def link(professional: str = PROFESSIONAL) -> ActiveLink:
        user, email = unique("e2e-user"), f"{unique('e2e')}@gmail.com"
        clinic.add_user(user, professional)
        users.append(user)
        answer = clinic.sign_in(user, email)
        assert answer["status"] == "pending_approval", answer
        links.append((user, answer["linkId"]))
        approved = clinic.approve(answer["linkId"])
        assert approved.status_code == 200, approved.text
        active = approved.json()["link"]
        assert active["status"] == "active"
        token = clinic.fake("POST", "/_fake/token", json={"email": email}).json()["access_token"]
        google = GoogleUser(clinic.stack.ports.fake_google_url, email, token)
        clinic.settle()  # the activation's backfill
        return ActiveLink(active["id"], user, email, active["calendarId"], google)

    yield link
    for user, link_id in links:
        clinic.disable(user, link_id)
    for user in users:
        clinic.db.document(f"clinics/{CLINIC}/users/{user}").delete()


@pytest.fixture
def two_way_link(link_agenda: Callable[[str], ActiveLink]) -> ActiveLink:
    """A new clinic user's active two-way link to Marina's agenda."""
    return link_agenda(PROFESSIONAL)


def schedule(clinic: ClinicApp, appointments: list[str], start: datetime, **fields: Any) -> str:
    """The clinic app books an appointment in Marina's agenda; answers its id."""
    appointment_id = unique("e2e-appt")
    appointments.append(appointment_id)
    clinic.appointment_ref(appointment_id).set(
        {
            "professionalId": PROFESSIONAL,
            "centerId": "centro-b",
            "start": start,
            "end": start + timedelta(minutes=30),
            "status": "scheduled",
            "patientName": "Ana López",
            **fields,
        }
    )
    return appointment_id


def pushed_and_pulled(clinic: ClinicApp, link: ActiveLink, appointment_id: str) -> dict[str, Any]:
    """Wait until the appointment's event is in Google and the echo's notification has been pulled."""
    eid = event_id(CLINIC, appointment_id)
    event, _ = wait_for(lambda: link.google.event(link.calendar_id, eid), timeout=5)
    pulled_before = clinic.link_doc(link.id).get("lastPullAt")
    wait_for(lambda: clinic.link_doc(link.id).get("lastPullAt") != pulled_before, timeout=5)
    clinic.settle()
    return event


# --- 1. the seed's example ---------------------------------------------------------------------------
def test_the_seed_example_over_http(clinic: ClinicApp) -> None:
    email = f"{unique('pau')}@gmail.com"

    # pautrave (not master) links Marina's agenda two-way from centro-b: the master must authorize.
    answer = clinic.sign_in("pautrave", email)
    assert answer["status"] == "pending_approval" and "reason" not in answer
    link_id = answer["linkId"]

    # From centro-a the master is refused, and nothing changes; from centro-b the link becomes active.
    wrong = clinic.approve(link_id, center="centro-a")
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "wrong_center"
    assert clinic.link_doc(link_id)["status"] == "pending_approval"
    approved = clinic.approve(link_id)
    assert approved.status_code == 200, approved.text
    link = approved.json()["link"]
    assert (link["status"], link["approvedBy"], link["googleEmail"]) == ("active", MASTER, email)
    assert link["calendarId"] and link["bidirectional"] is True

    # Exactly one "DASI eCLINIC" calendar in that Google account.
    def ours() -> list[dict[str, Any]]:
        calendars = clinic.google_state()["calendars"]
        return [c for c in calendars if c["owner"] == email and c["summary"] == CALENDAR_NAME]

    assert [c["id"] for c in ours()] == [link["calendarId"]]

    # The same Google account cannot sync a second agenda (Marina's own user tries it).
    second = clinic.sign_in("marina", email)
    assert (second["status"], second["reason"]) == ("failed", "email_already_linked")

    # The owner disables it; linking again reuses the calendar.
    disabled = clinic.disable("pautrave", link_id)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["link"]["status"] == "disabled"
    again = clinic.sign_in("pautrave", email)
    assert again["status"] == "pending_approval"
    redo = clinic.approve(again["linkId"])
    try:
        assert redo.status_code == 200, redo.text
        assert redo.json()["link"]["calendarId"] == link["calendarId"]
        assert [c["id"] for c in ours()] == [link["calendarId"]]

        # list_links: pautrave sees their own links; the master sees the clinic's.
        own = clinic.get("list_links", {"clinicId": CLINIC, "userId": "pautrave"})
        everyone = clinic.get("list_links", {"clinicId": CLINIC, "userId": MASTER})
        assert own.status_code == everyone.status_code == 200
        own_ids = {item["id"] for item in own.json()["links"]}
        all_ids = {item["id"] for item in everyone.json()["links"]}
        assert {item["userId"] for item in own.json()["links"]} == {"pautrave"}
        assert {link_id, again["linkId"]} <= own_ids
        assert own_ids | {second["linkId"]} <= all_ids

        # No reply carries a token or a secret: neither by field name nor by value.
        replies = [approved, disabled, redo, own, everyone]
        assert [hit for reply in replies for hit in secret_fields(reply.json())] == []
        channel_tokens = [c["token"] for c in clinic.google_state()["channels"]]
        assert channel_tokens
        for reply in replies:
            assert not any(token in reply.text for token in channel_tokens)
    finally:
        clinic.disable("pautrave", again["linkId"])


# --- 2. push within 2 s ------------------------------------------------------------------------------
def test_clinic_changes_reach_google_within_two_seconds(
    clinic: ClinicApp, two_way_link: ActiveLink, appointments: list[str]
) -> None:
    link, start = two_way_link, tomorrow_at(9)
    began = time.monotonic()
    appointment_id = schedule(clinic, appointments, start)
    eid = event_id(CLINIC, appointment_id)
    event, _ = wait_for(lambda: link.google.event(link.calendar_id, eid), timeout=5)
    assert time.monotonic() - began < 2.0
    assert event_start(event) == start
    assert "Ana" not in event["summary"]  # the demo clinic shows no patient data

    moved = start + timedelta(hours=2)
    began = time.monotonic()
    clinic.appointment_ref(appointment_id).update({"start": moved, "end": moved + timedelta(minutes=45)})

    def moved_in_google() -> dict[str, Any] | None:
        current = link.google.event(link.calendar_id, eid)
        return current if current and event_start(current) == moved else None

    event, _ = wait_for(moved_in_google, timeout=5)
    assert time.monotonic() - began < 2.0
    assert datetime.fromisoformat(event["end"]["dateTime"]) == moved + timedelta(minutes=45)

    began = time.monotonic()
    clinic.appointment_ref(appointment_id).update({"status": "cancelled"})
    wait_for(lambda: link.google.event(link.calendar_id, eid) is None, timeout=5)
    assert time.monotonic() - began < 2.0


# --- 3. pull within 3 s ------------------------------------------------------------------------------
def test_google_changes_reach_the_clinic_within_three_seconds(
    clinic: ClinicApp, two_way_link: ActiveLink, appointments: list[str]
) -> None:
    link, start = two_way_link, tomorrow_at(11)
    appointment_id = schedule(clinic, appointments, start)
    pushed_and_pulled(clinic, link, appointment_id)

    # The user drags the event an hour later in Google Calendar.
    moved = start + timedelta(hours=1)
    began = time.monotonic()
    patched = link.google.call(
        "PATCH",
        f"/calendars/{link.calendar_id}/events/{event_id(CLINIC, appointment_id)}",
        json={
            "start": {"dateTime": moved.isoformat(), "timeZone": "Europe/Madrid"},
            "end": {"dateTime": (moved + timedelta(minutes=30)).isoformat(), "timeZone": "Europe/Madrid"},
        },
    )
    assert patched.status_code == 200, patched.text
    ref = clinic.appointment_ref(appointment_id)
    wait_for(lambda: (ref.get().to_dict() or {}).get("start") == moved, timeout=5)
    assert time.monotonic() - began < 3.0
    stored = ref.get().to_dict() or {}
    assert stored["end"] == moved + timedelta(minutes=30)
    assert stored["patientName"] == "Ana López"  # what Google cannot know is kept

    # An event made in Google becomes an appointment of that agenda, with no patient.
    made = start + timedelta(hours=3)
    began = time.monotonic()
    inserted = link.google.call(
        "POST",
        f"/calendars/{link.calendar_id}/events",
        json={
            "summary": "Reunión",
            "start": {"dateTime": made.isoformat(), "timeZone": "Europe/Madrid"},
            "end": {"dateTime": (made + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Madrid"},
        },
    )
    assert inserted.status_code == 200, inserted.text
    google_event_id = inserted.json()["id"]
    query = clinic.db.collection(f"clinics/{CLINIC}/appointments").where(
        filter=firestore_lib.FieldFilter("origin.eventId", "==", google_event_id)
    )
    found, _ = wait_for(lambda: list(query.stream()), timeout=5)
    assert time.monotonic() - began < 3.0
    [snapshot] = found
    appointments.append(snapshot.id)
    created = snapshot.to_dict() or {}
    assert (created["professionalId"], created["centerId"], created["status"]) == (
        PROFESSIONAL,
        "centro-b",
        "scheduled",
    )
    assert (created["start"], created["end"]) == (made, made + timedelta(hours=1))
    assert "patientName" not in created and created.get("title") == "Reunión"


# --- 4. no echo loop ---------------------------------------------------------------------------------
def test_a_pushed_change_does_not_come_back(
    clinic: ClinicApp, two_way_link: ActiveLink, appointments: list[str]
) -> None:
    link = two_way_link
    appointment_id = schedule(clinic, appointments, tomorrow_at(13))
    pushed_and_pulled(clinic, link, appointment_id)

    ref = clinic.appointment_ref(appointment_id)
    writes, updated = clinic.write_counts(), ref.get().update_time
    assert writes["calendar.events.insert"] >= 1
    time.sleep(2.0)
    assert clinic.write_counts() == writes
    assert ref.get().update_time == updated


def test_a_pulled_change_is_not_pushed_back(
    clinic: ClinicApp, two_way_link: ActiveLink, appointments: list[str]
) -> None:
    link, start = two_way_link, tomorrow_at(15)
    appointment_id = schedule(clinic, appointments, start)
    pushed_and_pulled(clinic, link, appointment_id)

    moved = start + timedelta(minutes=30)
    link.google.call(
        "PATCH",
        f"/calendars/{link.calendar_id}/events/{event_id(CLINIC, appointment_id)}",
        json={
            "start": {"dateTime": moved.isoformat()},
            "end": {"dateTime": (moved + timedelta(minutes=30)).isoformat()},
        },
    ).raise_for_status()
    ref = clinic.appointment_ref(appointment_id)
    wait_for(lambda: (ref.get().to_dict() or {}).get("start") == moved, timeout=5)
    clinic.settle()

    writes, updated = clinic.write_counts(), ref.get().update_time
    time.sleep(2.0)
    assert clinic.write_counts() == writes
    assert ref.get().update_time == updated


def test_an_event_made_in_google_first_on_a_new_link_becomes_an_appointment(
    clinic: ClinicApp, link_agenda: Callable[[str], ActiveLink], appointments: list[str]
) -> None:
    # A professional with an empty agenda: the backfill pushes nothing, so no pull has happened yet; the
    # first pull must still take what the user made in Google after the link became active.
    professional = unique("e2e-prof")
    clinic.db.document(f"clinics/{CLINIC}/professionals/{professional}").set({"name": "Profesional E2E"})
    try:
        link = link_agenda(professional)
        made = tomorrow_at(17)
        inserted = link.google.call(
            "POST",
            f"/calendars/{link.calendar_id}/events",
            json={
                "summary": "Bloqueo",
                "start": {"dateTime": made.isoformat(), "timeZone": "Europe/Madrid"},
                "end": {"dateTime": (made + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Madrid"},
            },
        )
        assert inserted.status_code == 200, inserted.text
        query = clinic.db.collection(f"clinics/{CLINIC}/appointments").where(
            filter=firestore_lib.FieldFilter("origin.eventId", "==", inserted.json()["id"])
        )
        try:
            found, _ = wait_for(lambda: list(query.stream()), timeout=4)
        finally:
            appointments.extend(snapshot.id for snapshot in query.stream())
        [snapshot] = found
        assert (snapshot.to_dict() or {})["professionalId"] == professional
    finally:
        clinic.db.document(f"clinics/{CLINIC}/professionals/{professional}").delete()


# --- a calendar deleted by its user --------------------------------------------------------------------
def test_a_calendar_deleted_in_google_takes_the_link_to_needs_reconnect(
    clinic: ClinicApp, two_way_link: ActiveLink
) -> None:
    """Google's last `not_exists` message reaches the webhook, which marks the link; the user is told."""
    deleted = clinic.fake("DELETE", f"/_fake/calendars/{two_way_link.calendar_id}")
    assert deleted.status_code == 200, deleted.text

    def marked() -> dict[str, Any] | None:
        stored = clinic.link_doc(two_way_link.id)
        return stored if stored.get("status") == "needs_reconnect" else None

    stored, _ = wait_for(marked, timeout=5)
    assert stored["reason"] == "calendar_deleted"
    notices = clinic.db.collection(f"clinics/{CLINIC}/notifications")

    def told() -> set[str] | None:
        # The link is saved first, then its people are told: wait for both notices.
        people = {
            (n.to_dict() or {}).get("userId")
            for n in notices.stream()
            if (n.to_dict() or {}).get("linkId") == two_way_link.id
        }
        return {str(p) for p in people} if {two_way_link.user, MASTER} <= people else None

    wait_for(told, timeout=5)


def test_no_function_failed_and_no_stack_caller_was_refused(local_stack: LocalStack) -> None:
    """After the flows above (and the console's, earlier in the session), on functions that each hold only
    their Terraform grants: no function answered 5xx, and the front door refused none of the calls that
    Cloud Tasks, Eventarc, Scheduler or the clinic backend made with the identity Terraform allows them."""
    callers = {account for grant in local_stack.grants.values() for account in grant.callers}
    failures, refused = [], []
    for line in local_stack.functions.log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("message") in ("function answered 5xx", "function unreachable", "unexpected error"):
            failures.append(entry)
        if entry.get("message") == "call refused" and entry.get("caller") in callers:
            refused.append(entry)
    assert not failures, failures[:5]
    # Only the deliberate refusals of test_local_stack (every identity but the allowed one) are expected.
    allowed = {(name, account) for name, grant in local_stack.grants.items() for account in grant.callers}
    assert not [entry for entry in refused if (entry["function"], entry["caller"]) in allowed]
    tasks_log = local_stack.tasks.log_path.read_text(errors="replace")
    assert "Error submitting task" not in tasks_log, "a task delivery was refused or failed"
