"""firestore.rules on the Firestore emulator, with client requests: what clients may and may not do.

The emulator enforces the rules it was started with (`--rules`, infra/local/emulators.py) on requests that
carry a client's ID token, and lets `Authorization: Bearer owner` through as an administrator, as the
server client libraries are in the cloud (every other test here writes through them, with the rules on).
A client's token is an unsigned JWT with the clinic app's custom claims: the emulator accepts unsigned
tokens and reads their claims (`request.auth.token`).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from google.cloud import firestore as firestore_lib

from tests.conftest import FirestoreEmulatorHandle

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
# One document of each of the sync's own top-level collections (shared/adapters/firestore.py).
TOP_LEVEL_SYNC_DOCUMENTS = (
    "linkSecrets/l1",
    "oauthStates/s1",
    "oauthConsents/l1",
    "linkKeys/k1",
    "googleAccounts/g1",
    "channels/ch1",
    "mail/m1",
)
Client = Callable[..., requests.Response]


def client_token(project: str, uid: str, **claims: Any) -> str:
    """An unsigned Firebase Authentication ID token, as the emulator accepts from client SDKs."""
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
        **claims,
    }

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def value(item: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST API Value."""
    if isinstance(item, bool):
        return {"booleanValue": item}
    if isinstance(item, int):
        return {"integerValue": str(item)}
    if isinstance(item, datetime):
        return {"timestampValue": item.isoformat().replace("+00:00", "Z")}
    if isinstance(item, dict):
        return {"mapValue": {"fields": {key: value(inner) for key, inner in item.items()}}}
    if item is None:
        return {"nullValue": None}
    return {"stringValue": str(item)}


@pytest.fixture
def db(firestore: firestore_lib.Client) -> firestore_lib.Client:
    """The emulator emptied, then the clinic and the sync's documents written as our functions write them."""
    firestore.document("clinics/demo").set({"name": "Demo", "privacy": "none"})
    firestore.document("clinics/demo/users/pautrave").set({"name": "Pau", "professionalIds": ["marina"]})
    firestore.document("clinics/demo/professionals/marina").set({"name": "Marina"})
    firestore.document("clinics/demo/centers/centro-b").set({"name": "B", "timeZone": "Europe/Madrid"})
    firestore.document("clinics/demo/appointments/a1").set(
        {
            "professionalId": "marina",
            "centerId": "centro-b",
            "start": START,
            "end": START + timedelta(minutes=30),
            "status": "scheduled",
        }
    )
    firestore.document("clinics/demo/appointments/pulled").set(
        {
            "professionalId": "marina",
            "centerId": "centro-b",
            "start": START,
            "end": START + timedelta(minutes=30),
            "syncSource": {"linkId": "l1", "at": START},
            "origin": {"calendarId": "c1", "eventId": "e1"},
        }
    )
    firestore.document("clinics/demo/syncLinks/l1").set(
        {"id": "l1", "userId": "pautrave", "professionalId": "marina", "status": "active", "syncToken": "t"}
    )
    firestore.document("clinics/demo/calendars/c1/eventLinks/a1").set({"eventId": "e1", "etag": "1"})
    firestore.document("clinics/demo/googleAccounts/g1").set({"calendarId": "c1", "lastPullAt": None})
    firestore.document("clinics/demo/notifications/n1").set(
        {"userId": "admin", "type": "approval_requested", "read": False, "title": "t"}
    )
    firestore.document("clinics/demo/notifications/n2").set(
        {"userId": "pautrave", "type": "link_active", "read": False, "title": "t"}
    )
    for path in TOP_LEVEL_SYNC_DOCUMENTS:
        firestore.document(path).set({"secret": "x"})
    return firestore


def rest_client(emulator: FirestoreEmulatorHandle, authorization: str | None) -> Client:
    base = f"http://{emulator.host}/v1/projects/{emulator.project}/databases/(default)/documents"
    headers = {"Authorization": authorization} if authorization else {}

    def call(
        method: str, path: str, fields: dict[str, Any] | None = None, mask: list[str] | None = None
    ) -> Any:
        params = [("updateMask.fieldPaths", field) for field in mask or []]
        body = {"fields": {key: value(item) for key, item in fields.items()}} if fields is not None else None
        return requests.request(
            method, f"{base}/{path}", params=params, json=body, headers=headers, timeout=10
        )

    return call


@pytest.fixture
def clinic_user(firestore_emulator: FirestoreEmulatorHandle) -> Client:
    """pautrave, signed in to the clinic app of clinic demo."""
    token = client_token(firestore_emulator.project, "uid-pau", clinicId="demo", userId="pautrave")
    return rest_client(firestore_emulator, f"Bearer {token}")


@pytest.fixture
def other_clinic_user(firestore_emulator: FirestoreEmulatorHandle) -> Client:
    token = client_token(firestore_emulator.project, "uid-x", clinicId="other", userId="pautrave")
    return rest_client(firestore_emulator, f"Bearer {token}")


@pytest.fixture
def anonymous(firestore_emulator: FirestoreEmulatorHandle) -> Client:
    return rest_client(firestore_emulator, None)


@pytest.fixture
def admin(firestore_emulator: FirestoreEmulatorHandle) -> Client:
    """The emulator's administrator: what the server client libraries are."""
    return rest_client(firestore_emulator, "Bearer owner")


SYNC_DOCUMENTS = (
    *TOP_LEVEL_SYNC_DOCUMENTS,
    "clinics/demo/syncLinks/l1",
    "clinics/demo/calendars/c1/eventLinks/a1",
    "clinics/demo/googleAccounts/g1",
)


@pytest.mark.parametrize("path", SYNC_DOCUMENTS)
def test_a_client_never_reads_or_writes_the_sync_documents(
    db: firestore_lib.Client, clinic_user: Client, admin: Client, path: str
) -> None:
    before = db.document(path).get().to_dict()
    assert clinic_user("GET", path).status_code == 403
    assert clinic_user("PATCH", path, {"secret": "mine"}).status_code == 403
    assert clinic_user("DELETE", path).status_code == 403
    new = path.rsplit("/", 1)[0] + "/new-one"
    assert clinic_user("PATCH", new, {"status": "active"}).status_code == 403
    assert db.document(path).get().to_dict() == before
    assert not db.document(new).get().exists
    # The administrator (the functions' server library) is not bound by the rules.
    assert admin("GET", path).status_code == 200


def test_a_client_cannot_list_the_links_of_its_clinic(db: firestore_lib.Client, clinic_user: Client) -> None:
    assert clinic_user("GET", "clinics/demo/syncLinks").status_code == 403


def test_a_user_reads_the_own_clinic_only(
    db: firestore_lib.Client, clinic_user: Client, other_clinic_user: Client, anonymous: Client
) -> None:
    for path in ("clinics/demo", "clinics/demo/appointments/a1", "clinics/demo/users/pautrave"):
        assert clinic_user("GET", path).status_code == 200, path
        assert other_clinic_user("GET", path).status_code == 403, path
        assert anonymous("GET", path).status_code == 403, path


def test_a_user_cannot_change_who_is_linked_to_which_professional(
    db: firestore_lib.Client, clinic_user: Client
) -> None:
    answer = clinic_user(
        "PATCH", "clinics/demo/users/pautrave", {"professionalIds": "otro"}, mask=["professionalIds"]
    )
    assert answer.status_code == 403
    assert clinic_user("PATCH", "clinics/demo/professionals/marina", {"name": "X"}).status_code == 403
    assert db.document("clinics/demo/users/pautrave").get().to_dict()["professionalIds"] == ["marina"]


def appointment(**extra: Any) -> dict[str, Any]:
    return {
        "professionalId": "marina",
        "centerId": "centro-b",
        "start": START,
        "end": START + timedelta(minutes=30),
        "status": "scheduled",
        **extra,
    }


def test_clinic_users_write_appointments_of_their_clinic(
    db: firestore_lib.Client, clinic_user: Client, other_clinic_user: Client
) -> None:
    assert clinic_user("PATCH", "clinics/demo/appointments/new", appointment()).status_code == 200
    moved = appointment(start=START + timedelta(hours=1), end=START + timedelta(hours=2))
    assert clinic_user("PATCH", "clinics/demo/appointments/a1", moved).status_code == 200
    # A clinic edit of an appointment that a pull wrote keeps the sync's fields as they are.
    mask = ["status"]
    answer = clinic_user("PATCH", "clinics/demo/appointments/pulled", {"status": "cancelled"}, mask=mask)
    assert answer.status_code == 200, answer.text
    assert db.document("clinics/demo/appointments/pulled").get().to_dict()["status"] == "cancelled"

    assert other_clinic_user("PATCH", "clinics/demo/appointments/a1", appointment()).status_code == 403
    assert other_clinic_user("PATCH", "clinics/demo/appointments/x", appointment()).status_code == 403
    assert other_clinic_user("DELETE", "clinics/demo/appointments/a1").status_code == 403
    assert clinic_user("DELETE", "clinics/demo/appointments/new").status_code == 200


def test_clients_never_set_the_sync_fields_of_an_appointment(
    db: firestore_lib.Client, clinic_user: Client
) -> None:
    forged = {"linkId": "l1", "at": START}
    assert (
        clinic_user("PATCH", "clinics/demo/appointments/x", appointment(syncSource=forged)).status_code == 403
    )
    origin = {"calendarId": "c1", "eventId": "e9"}
    assert clinic_user("PATCH", "clinics/demo/appointments/y", appointment(origin=origin)).status_code == 403
    # Marking a clinic edit as pulled would keep it from being pushed to that link's calendar.
    answer = clinic_user("PATCH", "clinics/demo/appointments/a1", {"syncSource": forged}, mask=["syncSource"])
    assert answer.status_code == 403
    answer = clinic_user("PATCH", "clinics/demo/appointments/pulled", {}, mask=["syncSource"])
    assert answer.status_code == 403  # removing it
    assert "syncSource" not in db.document("clinics/demo/appointments/a1").get().to_dict()
    assert not db.document("clinics/demo/appointments/x").get().exists


def test_a_user_reads_and_marks_read_only_the_own_notifications(
    db: firestore_lib.Client, clinic_user: Client
) -> None:
    assert clinic_user("GET", "clinics/demo/notifications/n2").status_code == 200
    assert clinic_user("GET", "clinics/demo/notifications/n1").status_code == 403
    mark = clinic_user("PATCH", "clinics/demo/notifications/n2", {"read": True}, mask=["read"])
    assert mark.status_code == 200, mark.text
    retitle = clinic_user("PATCH", "clinics/demo/notifications/n2", {"title": "x"}, mask=["title"])
    assert retitle.status_code == 403
    assert (
        clinic_user("PATCH", "clinics/demo/notifications/n1", {"read": True}, mask=["read"]).status_code
        == 403
    )
    assert clinic_user("PATCH", "clinics/demo/notifications/n9", {"userId": "pautrave"}).status_code == 403
    assert db.document("clinics/demo/notifications/n1").get().to_dict()["read"] is False
