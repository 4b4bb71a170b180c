"""The clinic side of the console: the demo clinic's documents in Firestore, as the clinic app has them.

Reads go through the same codec as the functions (so the console shows what the sync sees); writes are
the clinic app's own: appointment documents created, moved and cancelled, with the fields of the clinic
app's contract (as shared/adapters/firestore_codec.py reads them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore.directory import FirestoreDirectory
from shared.domain.clinic import Appointment, AppointmentStatus, Center, Professional, User
from shared.domain.link import SyncLink
from shared.ports import AgendaReader


@dataclass(frozen=True)
class Notification:
    """An in-app notification to a clinic user (clinics/{c}/notifications/{id})."""

    id: str
    type: str
    title: str
    text: str
    link_id: str | None
    center_id: str | None
    created_at: datetime | None
    read: bool
    details: dict[str, str]


class ClinicSide:
    """One clinic's documents: people and places, appointments, notifications and sync links."""

    def __init__(self, db: firestore.Client, clinic_id: str) -> None:
        self.db = db
        self.clinic_id = clinic_id
        self._root = db.collection("clinics").document(clinic_id)
        # The agenda is read through its port, by the same adapter (and codec) the functions use.
        self._agenda: AgendaReader = FirestoreDirectory(db)

    # --- people and places -------------------------------------------------------------------------
    def name(self) -> str:
        snapshot = self._root.get()
        return str((snapshot.to_dict() or {}).get("name") or self.clinic_id)

    def users(self) -> list[User]:
        return sorted(
            (codec.user_from(self.clinic_id, s.id, s.to_dict() or {}) for s in self._stream("users")),
            key=lambda user: (not user.is_master, user.id),
        )

    def user(self, user_id: str) -> User | None:
        snapshot = self._root.collection("users").document(user_id).get()
        return codec.user_from(self.clinic_id, user_id, snapshot.to_dict() or {}) if snapshot.exists else None

    def centers(self) -> list[Center]:
        return sorted(
            (codec.center_from(self.clinic_id, s.id, s.to_dict() or {}) for s in self._stream("centers")),
            key=lambda center: center.id,
        )

    def center(self, center_id: str) -> Center | None:
        return next((center for center in self.centers() if center.id == center_id), None)

    def professionals(self) -> list[Professional]:
        return sorted(
            (
                codec.professional_from(self.clinic_id, s.id, s.to_dict() or {})
                for s in self._stream("professionals")
            ),
            key=lambda professional: professional.id,
        )

    # --- the agenda --------------------------------------------------------------------------------
    def appointments(self, professional_id: str, since: datetime, until: datetime) -> list[Appointment]:
        """The professional's appointments starting in [since, until), cancelled ones included."""
        found = self._agenda.appointments_starting(self.clinic_id, professional_id, since, until)
        return sorted(found, key=lambda appointment: appointment.start)

    def appointment(self, appointment_id: str) -> Appointment | None:
        snapshot = self._root.collection("appointments").document(appointment_id).get()
        if not snapshot.exists:
            return None
        return codec.appointment_from(self.clinic_id, appointment_id, snapshot.to_dict() or {})

    def create_appointment(
        self,
        professional_id: str,
        center_id: str,
        start: datetime,
        end: datetime,
        patient_name: str | None,
        service: str | None,
    ) -> str:
        """A new scheduled appointment, written as the clinic app writes one; returns its id."""
        document: dict[str, Any] = {
            "professionalId": professional_id,
            "centerId": center_id,
            "start": start,
            "end": end,
            "status": AppointmentStatus.SCHEDULED.value,
        }
        if patient_name:
            document["patientName"] = patient_name
        if service:
            document["service"] = service
        ref = self._root.collection("appointments").document()
        ref.create(document)
        return str(ref.id)

    def move_appointment(self, appointment_id: str, start: datetime, end: datetime) -> None:
        # An update, as the clinic app makes one: every other field, the sync's marker too, stays.
        self._root.collection("appointments").document(appointment_id).update({"start": start, "end": end})

    def cancel_appointment(self, appointment_id: str) -> None:
        self._root.collection("appointments").document(appointment_id).update(
            {"status": AppointmentStatus.CANCELLED.value}
        )

    # --- notifications and links -------------------------------------------------------------------
    def notifications(self, user_id: str) -> list[Notification]:
        """The user's notifications, newest first."""
        query = self._root.collection("notifications").where(filter=FieldFilter("userId", "==", user_id))
        found = [
            Notification(
                id=snapshot.id,
                type=str(doc.get("type") or ""),
                title=str(doc.get("title") or ""),
                text=str(doc.get("text") or ""),
                link_id=doc.get("linkId"),
                center_id=doc.get("centerId"),
                created_at=doc.get("createdAt"),
                read=bool(doc.get("read")),
                details={str(k): str(v) for k, v in (doc.get("details") or {}).items()},
            )
            for snapshot in query.stream()
            for doc in [snapshot.to_dict() or {}]
        ]
        return sorted(found, key=lambda n: n.created_at or datetime.min.astimezone(), reverse=True)

    def mark_read(self, notification_id: str) -> None:
        self._root.collection("notifications").document(notification_id).update({"read": True})

    def links(self) -> list[tuple[SyncLink, dict[str, Any]]]:
        """Every sync link of the clinic, newest first, with its raw document (for what the model omits)."""
        found = []
        for snapshot in self._root.collection("syncLinks").stream():
            document = snapshot.to_dict() or {}
            found.append((codec.link_from(document), document))
        return sorted(found, key=lambda pair: pair[0].created_at, reverse=True)

    def link(self, link_id: str) -> SyncLink | None:
        snapshot = self._root.collection("syncLinks").document(link_id).get()
        return codec.link_from(snapshot.to_dict() or {}) if snapshot.exists else None

    def _stream(self, collection: str) -> Any:
        return self._root.collection(collection).stream()
