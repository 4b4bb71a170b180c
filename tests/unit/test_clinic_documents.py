"""Clinic documents are untrusted: every malformed shape is refused with a code and a message that names
fields, never their values (which may be a patient's name)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters import firestore_codec as codec
from shared.domain.clinic import Privacy
from shared.domain.errors import InvalidRequest

START = datetime(2026, 12, 3, 9, tzinfo=UTC)
GOOD: dict[str, Any] = {
    "professionalId": "marina",
    "centerId": "centro-a",
    "start": START,
    "end": START + timedelta(minutes=30),
    "status": "scheduled",
    "patientName": "Ana López",
}
SECRET = "Ana López Secreta"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"start": "2026-12-03T09:00:00Z"}, "invalid_appointment", "start"),  # a string is not a timestamp
        ({"end": 1764752400}, "invalid_appointment", "end"),
        ({"start": None}, "invalid_appointment", "start"),
        ({"centerId": None}, "invalid_appointment", "centerId"),
        ({"professionalId": 42}, "invalid_appointment", "professionalId"),
        ({"professionalId": ""}, "invalid_appointment", "professionalId"),
        ({"status": SECRET}, "invalid_appointment", "status"),
        ({"status": True}, "invalid_appointment", "status"),
        ({"patientName": SECRET * 100}, "invalid_appointment", "patientName"),
        ({"patientName": {"first": SECRET}}, "invalid_appointment", "patientName"),
        ({"notes": SECRET * 2000}, "invalid_appointment", "notes"),
        ({"service": ["Fisio"]}, "invalid_appointment", "service"),
        ({"title": 3.5}, "invalid_appointment", "title"),
        ({"end": START - timedelta(minutes=1)}, "invalid_time_range", None),
    ],
)
def test_a_malformed_appointment_is_refused_naming_fields_not_values(
    changes: dict[str, Any], code: str, field: str | None
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        codec.appointment_from("demo", "a1", {**GOOD, **changes})
    assert refused.value.code == code
    assert "a1" in refused.value.message and "no se sincroniza" in refused.value.message
    assert field is None or field in refused.value.message
    assert "Ana" not in refused.value.message and "Secreta" not in refused.value.message


@pytest.mark.parametrize("missing", ["professionalId", "centerId", "start", "end"])
def test_an_appointment_missing_a_required_field_is_refused(missing: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        codec.appointment_from("demo", "a1", {k: v for k, v in GOOD.items() if k != missing})
    assert refused.value.code == "invalid_appointment" and missing in refused.value.message


def test_a_well_formed_appointment_reads_and_fields_the_clinic_app_adds_are_left_alone() -> None:
    naive = datetime(2026, 12, 3, 9)  # Firestore answers aware times; a naive one reads as UTC
    read = codec.appointment_from("demo", "a1", {**GOOD, "start": naive, "room": 7, "status": None})
    assert read.start == START and read.patient_name == "Ana López" and read.status.value == "scheduled"


@pytest.mark.parametrize(
    "doc",
    [
        {"privacy": 1},
        {"privacy": ["full"]},
        {"shareNotes": "false"},  # read as true before: a string never shares notes
        {"shareNotes": 1},
        {"name": {"es": "Clínica"}},
        {"name": "C" * 10_000},
    ],
)
def test_a_malformed_clinic_is_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        codec.clinic_from("demo", doc)
    assert refused.value.code == "invalid_clinic" and "no se sincroniza" in refused.value.message


def test_a_clinic_reads_with_its_defaults_and_an_unknown_privacy_shows_nothing() -> None:
    assert codec.clinic_from("demo", {}).privacy is Privacy.NONE
    assert codec.clinic_from("demo", {"privacy": "everything"}).privacy is Privacy.NONE
    full = codec.clinic_from("demo", {"name": "Fisio Norte", "privacy": "full", "shareNotes": True})
    assert (full.name, full.privacy, full.share_notes) == ("Fisio Norte", Privacy.FULL, True)
