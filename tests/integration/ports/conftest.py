"""Each storage port, twice: its memory fake (tests/fakes.py) and its Firestore adapter on the emulator.

Every contract test runs against both, so the fakes the unit tests rely on cannot drift from the adapters
deployed. The Firestore adapters keep their per-instance caches on (as deployed), so a contract also holds
across what an instance keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore as firestore_lib

from shared.adapters.firestore.account_calendars import FirestoreAccountCalendars
from shared.adapters.firestore.channel_index import FirestoreChannelIndex
from shared.adapters.firestore.directory import FirestoreDirectory
from shared.adapters.firestore.links import FirestoreLinks
from shared.adapters.firestore.oauth_states import FirestoreOAuthStates
from shared.adapters.firestore.repairs import FirestoreRepairs
from shared.adapters.firestore.sealed_grants import FirestoreSealedGrants
from shared.adapters.firestore.sync_records import FirestoreSyncRecords
from shared.adapters.firestore.sync_status import FirestoreSyncStatus
from shared.domain.clinic import Appointment, Center, Clinic, Professional, User
from shared.domain.link import Channel, LinkStatus, SyncLink
from shared.ports import (
    AccountCalendars,
    AgendaReader,
    ChannelIndex,
    ClinicDirectory,
    Links,
    OAuthStates,
    Repairs,
    SealedGrants,
    SyncRecords,
    SyncStatus,
)
from tests.fakes import (
    MemoryAccountCalendars,
    MemoryChannelIndex,
    MemoryDirectory,
    MemoryLinks,
    MemoryOAuthStates,
    MemoryRepairs,
    MemorySealedGrants,
    MemoryStore,
    MemorySyncRecords,
    MemorySyncStatus,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CACHE_SECONDS = 60


@dataclass
class ClinicDocuments:
    """Puts the clinic app's own documents in place (no port writes them): people, places, appointments."""

    clinic: Callable[[Clinic], object]
    center: Callable[[Center], object]
    professional: Callable[[Professional], object]
    user: Callable[[User], object]
    appointment: Callable[[Appointment], object]


@dataclass
class Backend:
    name: str
    links: Links
    grants: SealedGrants
    records: SyncRecords
    status: SyncStatus
    channel_index: ChannelIndex
    states: OAuthStates
    accounts: AccountCalendars
    repairs: Repairs
    directory: ClinicDirectory
    agenda: AgendaReader
    documents: ClinicDocuments


def _memory() -> Backend:
    store, directory = MemoryStore(), MemoryDirectory()
    documents = ClinicDocuments(
        clinic=lambda c: directory.clinics.__setitem__(c.id, c),
        center=lambda c: directory.centers.__setitem__((c.clinic_id, c.id), c),
        professional=lambda p: directory.professionals.__setitem__((p.clinic_id, p.id), p),
        user=lambda u: directory.users.__setitem__((u.clinic_id, u.id), u),
        appointment=lambda a: directory.appointments.__setitem__((a.clinic_id, a.id), a),
    )
    return Backend(
        "memory",
        links=MemoryLinks(store),
        grants=MemorySealedGrants(store),
        records=MemorySyncRecords(store),
        status=MemorySyncStatus(store),
        channel_index=MemoryChannelIndex(store),
        states=MemoryOAuthStates(store),
        accounts=MemoryAccountCalendars(store),
        repairs=MemoryRepairs(store),
        directory=directory,
        agenda=directory,
        documents=documents,
    )


def _firestore(db: firestore_lib.Client) -> Backend:
    def clinic_doc(clinic_id: str) -> firestore_lib.DocumentReference:
        return db.collection("clinics").document(clinic_id)

    def put(clinic_id: str, collection: str, doc_id: str, fields: dict[str, Any]) -> None:
        clinic_doc(clinic_id).collection(collection).document(doc_id).set(fields)

    documents = ClinicDocuments(
        clinic=lambda c: clinic_doc(c.id).set(
            {"name": c.name, "privacy": c.privacy.value, "shareNotes": c.share_notes}
        ),
        center=lambda c: put(c.clinic_id, "centers", c.id, {"name": c.name, "timeZone": c.time_zone}),
        professional=lambda p: put(p.clinic_id, "professionals", p.id, {"name": p.name}),
        user=lambda u: put(
            u.clinic_id,
            "users",
            u.id,
            {
                "email": u.email,
                "name": u.name,
                "isMaster": u.is_master,
                "professionalIds": list(u.professional_ids),
            },
        ),
        appointment=lambda a: put(a.clinic_id, "appointments", a.id, appointment_document(a)),
    )
    directory = FirestoreDirectory(db, cache_seconds=CACHE_SECONDS)
    return Backend(
        "firestore",
        links=FirestoreLinks(db),
        grants=FirestoreSealedGrants(db, cache_seconds=CACHE_SECONDS),
        records=FirestoreSyncRecords(db),
        status=FirestoreSyncStatus(db),
        channel_index=FirestoreChannelIndex(db, cache_seconds=CACHE_SECONDS),
        states=FirestoreOAuthStates(db),
        accounts=FirestoreAccountCalendars(db),
        repairs=FirestoreRepairs(db),
        directory=directory,
        agenda=directory,
        documents=documents,
    )


def appointment_document(a: Appointment) -> dict[str, Any]:
    """An appointment as the clinic app writes it."""
    doc: dict[str, Any] = {
        "professionalId": a.professional_id,
        "centerId": a.center_id,
        "start": a.start,
        "end": a.end,
        "status": a.status.value,
        "patientName": a.patient_name,
        "service": a.service,
        "notes": a.notes,
    }
    if a.title:
        doc["title"] = a.title
    if a.origin:
        doc["origin"] = {"calendarId": a.origin.calendar_id, "eventId": a.origin.event_id}
    if a.updated_at:
        doc["updatedAt"] = a.updated_at
    return doc


@pytest.fixture(params=["memory", "firestore"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return _memory()
    return _firestore(request.getfixturevalue("firestore"))


def a_link(
    link_id: str,
    *,
    clinic_id: str = "demo",
    user_id: str = "pautrave",
    professional_id: str = "marina",
    status: LinkStatus = LinkStatus.ACTIVE,
    bidirectional: bool = True,
    created_minutes: int = 0,
    **fields: Any,
) -> SyncLink:
    """A link with every field the codec stores set to something (history is not stored)."""
    return SyncLink(
        id=link_id,
        clinic_id=clinic_id,
        center_id="centro-b",
        user_id=user_id,
        professional_id=professional_id,
        bidirectional=bidirectional,
        status=status,
        created_at=T0 + timedelta(minutes=created_minutes),
        **{"google_email": f"{link_id}@gmail.test", "calendar_id": f"cal-{link_id}", **fields},
    )


def a_channel(channel_id: str, expires_in: timedelta) -> Channel:
    return Channel(channel_id, "res-" + channel_id, T0 + expires_in)
