"""The clinic app's documents: read by the sync, written only by two-way links' pulls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.clinic import Appointment, Center, Clinic, Professional, User


class ClinicDirectory(Protocol):
    """The clinic app's documents, read-only except for the appointment writes of two-way links."""

    def clinic(self, clinic_id: str) -> Clinic | None: ...

    def center(self, clinic_id: str, center_id: str) -> Center | None: ...

    def professional(self, clinic_id: str, professional_id: str) -> Professional | None: ...

    def user(self, clinic_id: str, user_id: str) -> User | None: ...

    def masters(self, clinic_id: str) -> list[User]:
        """The clinic's master users (none of another clinic's)."""
        ...

    def appointment(self, clinic_id: str, appointment_id: str) -> Appointment | None:
        """The appointment (None when there is none); InvalidRequest when its document is malformed."""
        ...

    def appointments_by_id(
        self, clinic_id: str, appointment_ids: Sequence[str]
    ) -> dict[str, Appointment | None]:
        """These appointments read together (None for one that does not exist): a pull's page reads its
        appointments in one round trip. A malformed one is left out; `appointment` says what is wrong."""
        ...

    def upcoming_appointments(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        """The professional's scheduled appointments starting in [since, until); cancelled ones and
        malformed documents are left out."""
        ...

    def appointments_changed_since(self, clinic_id: str, since: datetime) -> list[Appointment]:
        """The clinic's appointments written at or after `since` (their `updatedAt`), whatever their status
        and agenda; documents without `updatedAt` and malformed ones are left out."""
        ...

    def write_appointments(self, appointments: Sequence[Appointment], source_link_id: str) -> None:
        """Write changes that came from a linked Google calendar, each marked with that link (syncSource), in
        as few write batches as Firestore allows (500 writes each)."""
        ...


class AgendaReader(Protocol):
    """A professional's agenda as the clinic app shows it, cancelled appointments included (the console)."""

    def appointments_starting(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        """The professional's appointments starting in [since, until), whatever their status; malformed
        documents are left out."""
        ...
