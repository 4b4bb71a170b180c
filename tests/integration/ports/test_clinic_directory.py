"""ClinicDirectory and AgendaReader: the contract the memory fake and the Firestore adapter both keep."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore as firestore_lib

from shared.adapters.firestore.directory import FirestoreDirectory
from shared.domain.clinic import (
    Appointment,
    AppointmentStatus,
    Center,
    Clinic,
    EventOrigin,
    Privacy,
    Professional,
    User,
)
from shared.domain.errors import InvalidRequest
from tests.integration.ports.conftest import T0, Backend, appointment_document

ADMIN = User("demo", "admin", "admin@demo.test", "Admin", True, ())
PAU = User("demo", "pautrave", "pau@demo.test", "Pau Trave", False, ("marina",))
BOSS = User("other", "boss", "boss@other.test", "Boss", True, ())


def appointment(appointment_id: str, start_hours: float, **fields: Any) -> Appointment:
    start = T0 + timedelta(hours=start_hours)
    booked = Appointment(
        "demo",
        appointment_id,
        "marina",
        "centro-b",
        start,
        start + timedelta(minutes=30),
        patient_name="Ana López",
    )
    return replace(booked, **fields)


@pytest.fixture
def clinic(backend: Backend) -> Backend:
    """The demo clinic, and another one, as the clinic app wrote them."""
    put = backend.documents
    put.clinic(Clinic("demo", "Clínica Demo", Privacy.INITIALS, share_notes=True))
    put.clinic(Clinic("other", "Otra"))
    put.center(Center("demo", "centro-b", "Centro B", "Europe/Madrid"))
    put.professional(Professional("demo", "marina", "Marina Puig"))
    for user in (ADMIN, PAU, BOSS):
        put.user(user)
    return backend


def test_people_and_places_read_back(clinic: Backend) -> None:
    directory = clinic.directory
    assert directory.clinic("demo") == Clinic("demo", "Clínica Demo", Privacy.INITIALS, share_notes=True)
    assert directory.center("demo", "centro-b") == Center("demo", "centro-b", "Centro B", "Europe/Madrid")
    assert directory.professional("demo", "marina") == Professional("demo", "marina", "Marina Puig")
    assert directory.user("demo", "pautrave") == PAU


def test_what_does_not_exist_reads_as_none(clinic: Backend) -> None:
    directory = clinic.directory
    assert directory.clinic("nope") is None
    assert directory.center("demo", "nope") is None
    assert directory.center("other", "centro-b") is None
    assert directory.professional("demo", "nope") is None
    assert directory.user("other", "pautrave") is None
    assert directory.appointment("demo", "nope") is None


def test_masters_are_the_clinics_master_users(clinic: Backend) -> None:
    assert clinic.directory.masters("demo") == [ADMIN]
    assert clinic.directory.masters("other") == [BOSS]
    assert clinic.directory.masters("empty") == []


def test_an_appointment_reads_back_whole(clinic: Backend) -> None:
    written = appointment(
        "a1", 1, service="Fisioterapia", notes="rodilla", title="Revisión", origin=EventOrigin("cal", "ev1")
    )
    clinic.documents.appointment(written)
    assert clinic.directory.appointment("demo", "a1") == written


def test_appointments_are_read_together_by_id(clinic: Backend) -> None:
    first, second = appointment("a1", 1), appointment("a2", 2, service="Revisión")
    clinic.documents.appointment(first)
    clinic.documents.appointment(second)
    found = clinic.directory.appointments_by_id("demo", ["a1", "nope", "a2", "a1"])
    assert found == {"a1": first, "nope": None, "a2": second}
    assert clinic.directory.appointments_by_id("other", ["a1"]) == {"a1": None}  # one clinic's only
    assert clinic.directory.appointments_by_id("demo", []) == {}


def _agenda(backend: Backend) -> dict[str, Appointment]:
    """Marina's appointments around the window [T0, T0 + 1 day), and some of others."""
    agenda = {
        "at-start": appointment("at-start", 0),
        "inside": appointment("inside", 5),
        "cancelled": appointment("cancelled", 6, status=AppointmentStatus.CANCELLED),
        "zero-length": replace(appointment("zero-length", 7), end=T0 + timedelta(hours=7)),
        "before": appointment("before", -1),
        "at-end": appointment("at-end", 24),
        "jordi": appointment("jordi", 2, professional_id="jordi"),
        "elsewhere": appointment("elsewhere", 3, clinic_id="other"),
    }
    for a in agenda.values():
        backend.documents.appointment(a)
    return agenda


def test_upcoming_appointments_are_the_scheduled_ones_starting_in_the_window(clinic: Backend) -> None:
    agenda = _agenda(clinic)
    found = clinic.directory.upcoming_appointments("demo", "marina", T0, T0 + timedelta(days=1))
    assert sorted(found, key=lambda a: a.id) == [agenda["at-start"], agenda["inside"], agenda["zero-length"]]


def test_the_agenda_reader_shows_cancelled_appointments_too(clinic: Backend) -> None:
    agenda = _agenda(clinic)
    found = clinic.agenda.appointments_starting("demo", "marina", T0, T0 + timedelta(days=1))
    assert sorted(found, key=lambda a: a.id) == [
        agenda["at-start"],
        agenda["cancelled"],
        agenda["inside"],
        agenda["zero-length"],
    ]


def written_now(found: Appointment | None) -> Appointment:
    """A pull's write read back: stamped with updatedAt (the server's time, now), as the clinic stamps its own."""
    assert found is not None and found.updated_at is not None
    assert abs(found.updated_at - datetime.now(UTC)) < timedelta(minutes=1)
    return replace(found, updated_at=None)


def test_write_appointment_creates_an_appointment_made_in_google(clinic: Backend) -> None:
    made = appointment("g1", 3, patient_name=None, title="Café", origin=EventOrigin("cal-1", "ev-1"))
    clinic.directory.write_appointments([made], "l1")
    assert written_now(clinic.directory.appointment("demo", "g1")) == made


def test_write_appointment_keeps_what_a_pull_does_not_write(clinic: Backend) -> None:
    booked = appointment("a1", 1, service="Fisioterapia", notes="rodilla", title="Revisión")
    clinic.documents.appointment(booked)
    moved = appointment("a1", 2, status=AppointmentStatus.CANCELLED, patient_name=None)
    clinic.directory.write_appointments([moved], "l1")
    assert written_now(clinic.directory.appointment("demo", "a1")) == replace(
        booked, start=moved.start, end=moved.end, status=AppointmentStatus.CANCELLED
    )


def test_write_appointment_brings_what_was_typed_in_google_and_clears_what_was_removed(
    clinic: Backend,
) -> None:
    origin = EventOrigin("cal-1", "ev-1")
    made = appointment(
        "g1", 3, patient_name=None, title="Vacaciones", notes="Playa", location="Cádiz", origin=origin
    )
    block = replace(made, all_day=True, start=T0, end=T0 + timedelta(days=2))
    clinic.directory.write_appointments([block, appointment("g2", 4, patient_name=None, origin=origin)], "l1")
    assert written_now(clinic.directory.appointment("demo", "g1")) == block
    cleared = replace(block, notes=None, location=None, all_day=False)
    clinic.directory.write_appointments([cleared], "l1")
    assert written_now(clinic.directory.appointment("demo", "g1")) == cleared


# --- what only the Firestore adapter can meet: documents the clinic app wrote badly, and its markers -------
def test_malformed_appointments_are_left_out_of_the_agenda(firestore: firestore_lib.Client) -> None:
    directory = FirestoreDirectory(firestore)
    appointments = firestore.collection("clinics").document("demo").collection("appointments")
    appointments.document("good").set(appointment_document(appointment("good", 1)))
    appointments.document("backwards").set(
        {**appointment_document(appointment("backwards", 2)), "end": T0 + timedelta(hours=1)}
    )
    appointments.document("odd-status").set(
        {**appointment_document(appointment("odd-status", 3)), "status": "tentative"}
    )
    appointments.document("no-center").set(
        {k: v for k, v in appointment_document(appointment("no-center", 4)).items() if k != "centerId"}
    )
    window = ("demo", "marina", T0, T0 + timedelta(days=1))
    assert [a.id for a in directory.upcoming_appointments(*window)] == ["good"]
    assert [a.id for a in directory.appointments_starting(*window)] == ["good"]
    # Read by id, a malformed one is left out of those read together, and read alone says what is wrong.
    assert list(directory.appointments_by_id("demo", ["good", "backwards", "no-center"])) == ["good"]
    with pytest.raises(InvalidRequest):
        directory.appointment("demo", "backwards")


def test_a_pull_write_is_marked_with_its_link_every_time(firestore: firestore_lib.Client) -> None:
    directory = FirestoreDirectory(firestore)
    ref = firestore.document("clinics/demo/appointments/a1")
    directory.write_appointments([appointment("a1", 1)], "l1")
    first = (ref.get().to_dict() or {})["syncSource"]
    directory.write_appointments([appointment("a1", 2)], "l1")
    second = (ref.get().to_dict() or {})["syncSource"]
    assert first["linkId"] == second["linkId"] == "l1"
    # A new value on every write: the trigger tells the pull's own write from a later clinic edit by it.
    assert second["at"] > first["at"]


def test_appointments_changed_since_are_those_the_clinic_wrote_since_whatever_their_status_and_agenda(
    clinic: Backend,
) -> None:
    written = {
        "before": appointment("before", 1, updated_at=T0 - timedelta(minutes=1)),
        "at": appointment("at", 2, updated_at=T0),
        "after-cancelled": appointment(
            "after-cancelled", -50, status=AppointmentStatus.CANCELLED, updated_at=T0 + timedelta(hours=1)
        ),
        "unstamped": appointment("unstamped", 3),
        "other-professional": appointment("other-professional", 4, professional_id="jordi", updated_at=T0),
    }
    for a in written.values():
        clinic.documents.appointment(a)
    clinic.documents.appointment(replace(written["at"], clinic_id="other"))
    found = clinic.directory.appointments_changed_since("demo", T0)
    assert sorted(found, key=lambda a: a.id) == [
        written["after-cancelled"],
        written["at"],
        written["other-professional"],
    ]
    assert clinic.directory.appointments_changed_since("demo", T0 + timedelta(hours=2)) == []
