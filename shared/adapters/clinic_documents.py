"""The clinic app's documents we read, as pydantic models: what a well-formed one holds.

Any client of the clinic app may write these documents (within its own clinic), so nothing in them is
trusted: a document that does not fit is refused by the codec (`firestore_codec`) with a code, and the
sync records that code on the link and goes on with the others; it never retries it for ever. The bounds
on text are ours: they keep a document that a faulty client filled with megabytes from reaching Google or
our logs. `docs/schemas/*.json` describe the same documents for the clinic app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

# The longest id we accept (our own ids are at most 128; Firestore's document ids at most 1,500 bytes).
MAX_ID = 128
# A name or a title: far above any real one.
MAX_NAME = 500
# A clinical note: long, but bounded.
MAX_NOTES = 20_000

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME)]
Notes = Annotated[str, StringConstraints(max_length=MAX_NOTES)]


class _Document(BaseModel):
    # Strict: a string is not a timestamp, "false" is not a boolean, 3 is not an id. Fields we do not read
    # are the clinic app's, and are left alone.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ClinicDocument(_Document):
    """clinics/{clinicId}"""

    name: Name | None = None
    # Any string: an unknown mode reads as "none", the safest (see firestore_codec.clinic_from).
    privacy: Annotated[str, StringConstraints(max_length=MAX_ID)] | None = None
    shareNotes: bool | None = None


class AppointmentDocument(_Document):
    """clinics/{clinicId}/appointments/{appointmentId}"""

    professionalId: Id
    centerId: Id
    # Firestore timestamps, read as datetimes (a string, even an ISO one, is not a timestamp).
    start: datetime
    end: datetime
    status: Literal["scheduled", "cancelled"] | None = None
    patientName: Name | None = None
    service: Name | None = None
    notes: Notes | None = None
    title: Name | None = None
    # Written by a pull for an appointment made in Google: where the event says it is, and a whole-day block.
    location: Name | None = None
    allDay: bool | None = None
    # `origin` and `syncSource` are ours, written by a pull; the codec reads them leniently.
