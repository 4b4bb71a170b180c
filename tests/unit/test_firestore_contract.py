"""docs/schemas against the code: what the codec reads is declared, what it writes fits, and the demo
clinic is a clinic the contract allows. (What the adapters write to the emulator: the integration tier.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from infra.local.demo_data import DEMO_DOCUMENTS
from shared.adapters import firestore_codec as codec
from shared.domain.link import Channel, LinkStatus, SyncLink
from tests import firestore_schemas as schemas

ROOT = schemas.SCHEMAS.parents[1]
CLINIC_DOCUMENTS = ["clinic", "center", "professional", "user", "appointment"]
# Which schema describes a document, by its path.
PATHS = {
    r"clinics/[^/]+": "clinic",
    r"clinics/[^/]+/centers/[^/]+": "center",
    r"clinics/[^/]+/professionals/[^/]+": "professional",
    r"clinics/[^/]+/users/[^/]+": "user",
    r"clinics/[^/]+/appointments/[^/]+": "appointment",
    r"clinics/[^/]+/syncLinks/[^/]+": "sync-link",
    r"clinics/[^/]+/notifications/[^/]+": "notification",
    r"mail/[^/]+": "mail",
}
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def schema_of(path: str) -> str:
    for pattern, name in PATHS.items():
        if re.fullmatch(pattern, path):
            return name
    raise AssertionError(f"no schema describes {path}")


class Reads(dict[str, Any]):
    """A document that records which of its fields the code asked for, nested ones as `a.b`."""

    def __init__(self, data: Mapping[str, Any], record: set[str], prefix: str = "") -> None:
        super().__init__(
            {
                key: Reads(value, record, f"{prefix}{key}.") if isinstance(value, Mapping) else value
                for key, value in data.items()
            }
        )
        self.record = record
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.record.add(self.prefix + key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.record.add(self.prefix + key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.record.add(f"{self.prefix}{key}")
        return super().__contains__(key)


def declared_paths(schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for name, body in schema.get("properties", {}).items():
        yield prefix + name
        yield from declared_paths(body, f"{prefix}{name}.")


def read_fields(read: Callable[[Mapping[str, Any]], object], document: Mapping[str, Any]) -> set[str]:
    record: set[str] = set()
    read(Reads(document, record))
    return record


# A full document of each kind, with every field the contract names (so that every read path is taken).
FULL = {
    "clinic": {"name": "Clínica", "privacy": "initials", "shareNotes": True},
    "center": {"name": "Centro A", "timeZone": "Europe/Madrid"},
    "professional": {"name": "Marina Puig"},
    "user": {"name": "Pau", "email": "pau@clinic.test", "isMaster": False, "professionalIds": ["marina"]},
    "appointment": {
        "professionalId": "marina",
        "centerId": "centro-a",
        "start": NOW,
        "end": NOW + timedelta(minutes=30),
        "status": "scheduled",
        "patientName": "Ana López",
        "service": "Fisioterapia",
        "notes": "Traer informe",
        "title": "Reunión",
        "origin": {"calendarId": "cal@group.calendar.google.com", "eventId": "abc123"},
        "location": "Sala 2",
        "allDay": False,
        "syncSource": {"linkId": "link-1", "at": NOW},
        "updatedAt": NOW,
    },
}
READERS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "clinic": lambda doc: codec.clinic_from("c", doc),
    "center": lambda doc: codec.center_from("c", "centro-a", doc),
    "professional": lambda doc: codec.professional_from("c", "marina", doc),
    "user": lambda doc: codec.user_from("c", "pau", doc),
    "appointment": lambda doc: codec.appointment_from("c", "a1", doc),
}


def test_every_schema_is_a_valid_draft_2020_12_schema_of_a_known_path() -> None:
    found = schemas.names()
    assert set(CLINIC_DOCUMENTS) <= set(found)
    assert set(found) == set(PATHS.values())
    for name in found:
        schema = schemas.schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
        assert schema_of(schema["x-firestore-path"].replace("{", "").replace("}", "")) == name


@pytest.mark.parametrize("name", CLINIC_DOCUMENTS)
def test_every_field_the_codec_reads_is_declared(name: str) -> None:
    assert not schemas.errors(name, FULL[name]), "the full example itself must fit"
    read = read_fields(READERS[name], FULL[name])
    undeclared = read - set(declared_paths(schemas.schema(name)))
    assert not undeclared, f"{name}: the codec reads {sorted(undeclared)}, the contract does not declare them"


def test_every_declared_clinic_field_is_read_or_marked_written_or_planned() -> None:
    """No field in the contract that the code ignores, unless the schema says why."""
    for name in CLINIC_DOCUMENTS:
        schema = schemas.schema(name)
        read = {path.split(".")[0] for path in read_fields(READERS[name], FULL[name])}
        extra = set(schema.get("x-written-by-us", [])) | set(schema.get("x-planned", []))
        unused = schemas.properties(name) - read - extra
        assert not unused, f"{name}: {sorted(unused)} declared but neither read, written nor planned"


def test_what_a_pull_writes_is_declared_ours_and_nothing_is_left_planned() -> None:
    appointment = schemas.schema("appointment")
    assert not appointment.get("x-planned")
    made_in_google = codec.appointment_from("c", "a1", FULL["appointment"])
    # The adapter stamps the syncSource marker and updatedAt (the server's time) beside these fields.
    written = set(codec.pulled_fields(made_in_google)) | {codec.SYNC_SOURCE, "updatedAt"}
    assert written == set(appointment["x-written-by-us"])
    for name in ("allDay", "notes", "location", "title"):
        assert "written by a pull" in appointment["properties"][name]["description"].lower()
    # An appointment of the clinic's own (no origin) gets only its agenda, times and status from a pull.
    own = codec.appointment_from("c", "a1", {k: v for k, v in FULL["appointment"].items() if k != "origin"})
    assert set(codec.pulled_fields(own)) == {"professionalId", "centerId", "start", "end", "status"}


@pytest.mark.parametrize("path", sorted(DEMO_DOCUMENTS))
def test_the_demo_clinic_fits_the_contract(path: str) -> None:
    assert not schemas.errors(schema_of(path), DEMO_DOCUMENTS[path])


def test_malformed_clinic_documents_do_not_fit() -> None:
    """The schemas refuse what the codec refuses (so that the tests above can fail)."""
    appointment = dict(FULL["appointment"])
    assert schemas.errors("appointment", {**appointment, "status": "deleted"})
    assert schemas.errors("appointment", {key: v for key, v in appointment.items() if key != "start"})
    assert schemas.errors("appointment", {**appointment, "start": "yesterday"})
    assert schemas.errors("appointment", {**appointment, "origin": {"calendarId": "c"}})
    assert schemas.errors("user", {**FULL["user"], "professionalIds": "marina"})
    assert schemas.errors("clinic", {**FULL["clinic"], "privacy": "everything"})


def links() -> Iterator[SyncLink]:
    pending = SyncLink(
        id="link-1",
        clinic_id="demo",
        center_id="centro-b",
        user_id="pautrave",
        professional_id="marina",
        bidirectional=True,
        status=LinkStatus.PENDING_OAUTH,
        created_at=NOW,
        return_url="https://clinic.test/back",
    )
    yield pending
    approved = pending.moved(LinkStatus.PENDING_APPROVAL, NOW, google_email="pau@gmail.com")
    yield approved
    yield approved.moved(
        LinkStatus.ACTIVE,
        NOW,
        approved_by="admin",
        calendar_id="cal@group.calendar.google.com",
        activated_at=NOW,
        channel=Channel("ch-1", "res-1", NOW + timedelta(days=7)),
        sync_token="token",
        last_push_at=NOW,
        last_pull_at=NOW,
        conflicts=2,
        last_error={"code": "rateLimitExceeded", "message": "slow down", "at": NOW.isoformat()},
        adopt_since=NOW,
    )
    yield pending.moved(LinkStatus.FAILED, NOW, reason="access_denied")


@pytest.mark.parametrize("link", list(links()), ids=lambda link: link.status.value)
def test_link_documents_the_codec_writes_fit_and_read_back(link: SyncLink) -> None:
    document = codec.link_to(link)
    assert not schemas.errors("sync-link", document)
    assert codec.link_from(document) == link


def test_the_contract_document_names_every_schema() -> None:
    contract = (ROOT / "docs/firestore-contract.md").read_text()
    for name in schemas.names():
        assert f"schemas/{name}.schema.json" in contract
    for name in ("allDay", "notes", "location", "syncSource", "origin"):
        assert f"`{name}`" in contract


def test_the_contract_document_names_every_field_of_a_sync_link() -> None:
    contract = (ROOT / "docs/firestore-contract.md").read_text()
    missing = [name for name in schemas.schema("sync-link")["properties"] if f"`{name}`" not in contract]
    assert not missing, f"docs/firestore-contract.md does not name {missing}"
