"""ClinicDirectory and AgendaReader over the clinic app's documents (clinics/{c}/...)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters import firestore_codec as codec
from shared.adapters.ttl_cache import TtlCache
from shared.domain.clinic import Appointment, AppointmentStatus, Center, Clinic, Professional, User
from shared.domain.errors import InvalidRequest

# Firestore takes at most 500 writes in one batch.
_BATCH = 500


class FirestoreDirectory:
    """ClinicDirectory and AgendaReader over the clinic app's documents.

    A clinic's own document (its name and privacy settings) is reused for `cache_seconds` by an instance:
    every push reads it, and it changes rarely.
    """

    def __init__(self, db: firestore.Client, cache_seconds: float = 0) -> None:
        self.db = db
        self._clinics: TtlCache[str, Clinic] = TtlCache(cache_seconds)

    def _clinic(self, clinic_id: str) -> firestore.DocumentReference:
        return self.db.collection("clinics").document(clinic_id)

    def _get(self, ref: firestore.DocumentReference) -> dict[str, Any] | None:
        snapshot = ref.get()
        return snapshot.to_dict() if snapshot.exists else None

    def clinic(self, clinic_id: str) -> Clinic | None:
        def read() -> Clinic | None:
            doc = self._get(self._clinic(clinic_id))
            return codec.clinic_from(clinic_id, doc) if doc is not None else None

        return self._clinics.get(clinic_id, read)

    def center(self, clinic_id: str, center_id: str) -> Center | None:
        doc = self._get(self._clinic(clinic_id).collection("centers").document(center_id))
        return codec.center_from(clinic_id, center_id, doc) if doc is not None else None

    def professional(self, clinic_id: str, professional_id: str) -> Professional | None:
        doc = self._get(self._clinic(clinic_id).collection("professionals").document(professional_id))
        return codec.professional_from(clinic_id, professional_id, doc) if doc is not None else None

    def user(self, clinic_id: str, user_id: str) -> User | None:
        doc = self._get(self._clinic(clinic_id).collection("users").document(user_id))
        return codec.user_from(clinic_id, user_id, doc) if doc is not None else None

    def masters(self, clinic_id: str) -> list[User]:
        query = self._clinic(clinic_id).collection("users").where(filter=FieldFilter("isMaster", "==", True))
        return [codec.user_from(clinic_id, s.id, s.to_dict() or {}) for s in query.stream()]

    def appointment(self, clinic_id: str, appointment_id: str) -> Appointment | None:
        doc = self._get(self._clinic(clinic_id).collection("appointments").document(appointment_id))
        return codec.appointment_from(clinic_id, appointment_id, doc) if doc is not None else None

    def appointments_by_id(
        self, clinic_id: str, appointment_ids: Sequence[str]
    ) -> dict[str, Appointment | None]:
        # One streamed batch get, however many: billed per document as single gets are.
        collection = self._clinic(clinic_id).collection("appointments")
        refs = [collection.document(appointment_id) for appointment_id in dict.fromkeys(appointment_ids)]
        found: dict[str, Appointment | None] = {}
        for snapshot in self.db.get_all(refs) if refs else ():
            if not snapshot.exists:
                found[snapshot.id] = None
                continue
            with contextlib.suppress(InvalidRequest):  # malformed: left out, as the port says
                found[snapshot.id] = codec.appointment_from(clinic_id, snapshot.id, snapshot.to_dict() or {})
        return found

    def upcoming_appointments(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        return [
            appointment
            for appointment in self.appointments_starting(clinic_id, professional_id, since, until)
            if appointment.status is AppointmentStatus.SCHEDULED
        ]

    def appointments_changed_since(self, clinic_id: str, since: datetime) -> list[Appointment]:
        # One field's range: served by its automatic single-field index, no composite index needed.
        query = (
            self._clinic(clinic_id)
            .collection("appointments")
            .where(filter=FieldFilter("updatedAt", ">=", since))
        )
        return _readable(clinic_id, query)

    def appointments_starting(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        """The professional's appointments starting in [since, until), whatever their status."""
        query = (
            self._clinic(clinic_id)
            .collection("appointments")
            .where(filter=FieldFilter("professionalId", "==", professional_id))
            .where(filter=FieldFilter("start", ">=", since))
            .where(filter=FieldFilter("start", "<", until))
        )
        return _readable(clinic_id, query)

    def write_appointments(self, appointments: Sequence[Appointment], source_link_id: str) -> None:
        for start in range(0, len(appointments), _BATCH):
            batch = self.db.batch()
            for appointment in appointments[start : start + _BATCH]:
                fields = codec.pulled_fields(appointment)
                # A new value on every pull write, so that the trigger can tell it from later clinic edits.
                fields[codec.SYNC_SOURCE] = {"linkId": source_link_id, "at": firestore.SERVER_TIMESTAMP}
                # A field Google no longer has (a description removed there) goes rather than holding a null.
                fields = {k: firestore.DELETE_FIELD if v is None else v for k, v in fields.items()}
                # Stamped as the clinic app stamps its own writes: another link's drift check must see it.
                fields["updatedAt"] = firestore.SERVER_TIMESTAMP
                ref = self._clinic(appointment.clinic_id).collection("appointments").document(appointment.id)
                batch.set(ref, fields, merge=True)
            batch.commit()


def _readable(clinic_id: str, query: firestore.Query) -> list[Appointment]:
    """The appointments a query finds; a malformed one must not stop the others."""
    found = []
    for snapshot in query.stream():
        try:
            found.append(codec.appointment_from(clinic_id, snapshot.id, snapshot.to_dict() or {}))
        except Exception:  # noqa: S112 - a malformed appointment must not stop the others
            continue
    return found
