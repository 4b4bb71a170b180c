"""How our domain objects are laid out in Firestore documents (camelCase, as the clinic app reads them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.adapters.clinic_documents import AppointmentDocument, ClinicDocument
from shared.domain.clinic import (
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    Center,
    Clinic,
    EventOrigin,
    Privacy,
    Professional,
    User,
)
from shared.domain.errors import InvalidRequest
from shared.domain.event_link import EventLink
from shared.domain.link import Channel, FullSyncProgress, LinkStatus, SyncLink
from shared.domain.repair import DeadLetter, LostWork

# Set on appointments written by a pull, naming the link whose calendar the change came from (with a
# new `at` on every pull write, so that a later clinic edit, which leaves it as it was, is told apart).
SYNC_SOURCE = "syncSource"
# A Firestore document id: no "/", not "." or "..", not __reserved__ (and our own ids are at most 128).
_DOCUMENT_ID = re.compile(r"(?!\.\.?$)(?!__.*__$)[^/]+")
MAX_ID_LENGTH = 128


def aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidRequest(f"expected a timestamp, got {type(value).__name__}", code="invalid_appointment")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def clinic_from(clinic_id: str, doc: Mapping[str, Any]) -> Clinic:
    """A clinic document as the domain sees it; InvalidRequest (`invalid_clinic`) when it is malformed.

    An unknown privacy value reads as "none" (the contract says so: the safest reading), but a privacy
    or shareNotes of the wrong type is refused rather than guessed: `"false"` must never share notes.
    """
    try:
        parsed = ClinicDocument.model_validate(_fields_of(ClinicDocument, doc))
    except ValidationError as exc:
        raise InvalidRequest(
            f"La clínica no es válida ({_fields(exc)}): no se sincroniza hasta que se corrija.",
            code="invalid_clinic",
        ) from None
    privacy = parsed.privacy or "none"
    return Clinic(
        id=clinic_id,
        name=parsed.name or "",
        privacy=Privacy(privacy) if privacy in Privacy._value2member_map_ else Privacy.NONE,
        share_notes=bool(parsed.shareNotes),
    )


def center_from(clinic_id: str, center_id: str, doc: Mapping[str, Any]) -> Center:
    return Center(clinic_id, center_id, str(doc.get("name") or ""), str(doc.get("timeZone") or "UTC"))


def professional_from(clinic_id: str, professional_id: str, doc: Mapping[str, Any]) -> Professional:
    return Professional(clinic_id, professional_id, str(doc.get("name") or ""))


def user_from(clinic_id: str, user_id: str, doc: Mapping[str, Any]) -> User:
    return User(
        clinic_id=clinic_id,
        id=user_id,
        email=str(doc.get("email") or ""),
        name=str(doc.get("name") or ""),
        is_master=doc.get("isMaster") is True,
        professional_ids=tuple(str(p) for p in doc.get("professionalIds") or ()),
    )


def appointment_from(clinic_id: str, appointment_id: str, doc: Mapping[str, Any]) -> Appointment:
    """An appointment document as the domain sees it; InvalidRequest when it is malformed.

    The message names the appointment and the fields at fault, never a value: the document is any client's
    writing, and a value may be a patient's name.
    """
    try:
        parsed = AppointmentDocument.model_validate(_fields_of(AppointmentDocument, doc))
    except ValidationError as exc:
        raise InvalidRequest(
            f"La cita «{appointment_id[:MAX_ID_LENGTH]}» no es válida ({_fields(exc)}): no se sincroniza hasta que se corrija.",
            code="invalid_appointment",
        ) from None
    start, end = _utc(parsed.start), _utc(parsed.end)
    if end < start:
        raise InvalidRequest(
            f"La cita «{appointment_id[:MAX_ID_LENGTH]}» termina antes de empezar: no se sincroniza hasta que se corrija.",
            code="invalid_time_range",
        )
    return Appointment(
        clinic_id=clinic_id,
        id=appointment_id,
        professional_id=parsed.professionalId,
        center_id=parsed.centerId,
        start=start,
        end=end,
        status=AppointmentStatus(parsed.status or "scheduled"),
        patient_name=parsed.patientName or None,
        service=parsed.service or None,
        notes=parsed.notes or None,
        title=parsed.title or None,
        origin=_origin(doc.get("origin")),
        location=parsed.location or None,
        all_day=parsed.allDay is True,
        updated_at=aware(doc.get("updatedAt")),
    )


def pulled_fields(appointment: Appointment) -> dict[str, Any]:
    """What a pull writes of an appointment, beside the syncSource marker: its agenda, times and status; for
    one made in Google, also what was typed there (a field cleared in Google is removed here)."""
    fields: dict[str, Any] = {
        "professionalId": appointment.professional_id,
        "centerId": appointment.center_id,
        "start": appointment.start,
        "end": appointment.end,
        "status": appointment.status.value,
    }
    if appointment.origin:
        fields["origin"] = {
            "calendarId": appointment.origin.calendar_id,
            "eventId": appointment.origin.event_id,
        }
        fields["title"] = appointment.title
        fields["notes"] = appointment.notes
        fields["location"] = appointment.location
        fields["allDay"] = appointment.all_day
    return fields


def _fields_of(model: type[BaseModel], doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document's fields that the model reads (the others are the clinic app's alone)."""
    return {name: doc[name] for name in model.model_fields if name in doc}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _fields(error: ValidationError) -> str:
    """The fields a validation refused, by name only (their values may be patient data)."""
    names = sorted({str(item["loc"][0]) for item in error.errors() if item.get("loc")})
    return ", ".join(names[:8]) or "documento"


def appointment_change(
    clinic_id: str,
    appointment_id: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    update_time: datetime | None,
) -> AppointmentChange:
    """One write of an appointment document (before and after, None when absent) in the domain's terms."""
    professionals = {agenda for agenda in (_agenda(old), _agenda(new)) if agenda}
    return AppointmentChange(
        clinic_id=clinic_id,
        appointment_id=appointment_id,
        professional_ids=tuple(sorted(professionals)),
        written_by_link=_written_by_link(old, new),
        update_time=update_time,
    )


def _agenda(document: Mapping[str, Any] | None) -> str | None:
    """The agenda a written document names. Any client may write any value in professionalId: one that is
    no document id names no agenda, instead of failing every delivery of the write."""
    value = (document or {}).get("professionalId")
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH and _DOCUMENT_ID.fullmatch(value):
        return value
    return None


def _written_by_link(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str | None:
    """The link a pull wrote this change for; a later clinic edit leaves the marker as it was."""
    before = (old or {}).get(SYNC_SOURCE)
    after = (new or {}).get(SYNC_SOURCE)
    if isinstance(after, Mapping) and after != before:
        link_id = after.get("linkId")
        return str(link_id) if link_id else None
    return None


def _origin(value: Any) -> EventOrigin | None:
    if isinstance(value, Mapping) and value.get("calendarId") and value.get("eventId"):
        return EventOrigin(str(value["calendarId"]), str(value["eventId"]))
    return None


def link_to(link: SyncLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "clinicId": link.clinic_id,
        "centerId": link.center_id,
        "userId": link.user_id,
        "professionalId": link.professional_id,
        "bidirectional": link.bidirectional,
        "status": link.status.value,
        "createdAt": link.created_at,
        "googleEmail": link.google_email,
        "googleSub": link.google_sub,
        "calendarId": link.calendar_id,
        "returnUrl": link.return_url,
        "activatedAt": link.activated_at,
        "approvedBy": link.approved_by,
        "lastPushAt": link.last_push_at,
        "lastPullAt": link.last_pull_at,
        "lastError": link.last_error,
        "channel": (
            {
                "id": link.channel.id,
                "resourceId": link.channel.resource_id,
                "expiresAt": link.channel.expires_at,
            }
            if link.channel
            else None
        ),
        "channelExpiresAt": link.channel.expires_at if link.channel else None,
        "syncToken": link.sync_token,
        "conflicts": link.conflicts,
        "reason": link.reason,
        "adoptSince": link.adopt_since,
        "pushedPrivacy": link.pushed_privacy,
        "fullSync": full_sync_to(link.full_sync),
        "health": link.health,
        "calendarShown": link.calendar_shown,
        "pendingFailures": link.pending_failures,
        "driftSyncToken": link.drift_sync_token,
        "driftCheckedAt": link.drift_checked_at,
    }


def full_sync_to(progress: FullSyncProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    return {
        "pageToken": progress.page_token,
        "timeMin": progress.time_min,
        "timeMax": progress.time_max,
        "pages": progress.pages,
        "savedAt": progress.saved_at,
        "startedAt": progress.started_at,
    }


def full_sync_from(doc: Mapping[str, Any] | None) -> FullSyncProgress | None:
    if not doc:
        return None
    return FullSyncProgress(
        page_token=doc["pageToken"],
        time_min=aware(doc["timeMin"]) or datetime.fromtimestamp(0, UTC),
        time_max=aware(doc["timeMax"]) or datetime.fromtimestamp(0, UTC),
        pages=int(doc.get("pages") or 0),
        saved_at=aware(doc.get("savedAt")),
        started_at=aware(doc.get("startedAt")),
    )


def link_from(doc: Mapping[str, Any]) -> SyncLink:
    channel = doc.get("channel")
    return SyncLink(
        id=doc["id"],
        clinic_id=doc["clinicId"],
        center_id=doc["centerId"],
        user_id=doc["userId"],
        professional_id=doc["professionalId"],
        bidirectional=bool(doc.get("bidirectional")),
        status=LinkStatus(doc["status"]),
        created_at=aware(doc.get("createdAt")) or datetime.fromtimestamp(0, UTC),
        google_email=doc.get("googleEmail"),
        google_sub=doc.get("googleSub"),
        calendar_id=doc.get("calendarId"),
        return_url=doc.get("returnUrl"),
        activated_at=aware(doc.get("activatedAt")),
        approved_by=doc.get("approvedBy"),
        last_push_at=aware(doc.get("lastPushAt")),
        last_pull_at=aware(doc.get("lastPullAt")),
        last_error=doc.get("lastError"),
        channel=(
            Channel(channel["id"], channel["resourceId"], aware(channel["expiresAt"]) or datetime.now(UTC))
            if channel
            else None
        ),
        sync_token=doc.get("syncToken"),
        conflicts=int(doc.get("conflicts") or 0),
        reason=doc.get("reason"),
        adopt_since=aware(doc.get("adoptSince")),
        pushed_privacy=doc.get("pushedPrivacy"),
        full_sync=full_sync_from(doc.get("fullSync")),
        health=doc.get("health"),
        calendar_shown=doc.get("calendarShown"),
        pending_failures=max(0, int(doc.get("pendingFailures") or 0)),
        drift_sync_token=doc.get("driftSyncToken"),
        drift_checked_at=aware(doc.get("driftCheckedAt")),
    )


def event_link_to(event_link: EventLink, synced_at: datetime) -> dict[str, Any]:
    return {
        "appointmentId": event_link.appointment_id,
        "eventId": event_link.event_id,
        "etag": event_link.etag,
        "contentHash": event_link.content_hash,
        "deleted": event_link.deleted,
        "syncedAt": synced_at,
        "seriesId": event_link.series_id,
    }


def event_link_from(doc: Mapping[str, Any]) -> EventLink:
    return EventLink(
        appointment_id=doc["appointmentId"],
        event_id=doc["eventId"],
        etag=doc.get("etag"),
        content_hash=doc.get("contentHash"),
        deleted=bool(doc.get("deleted")),
        synced_at=aware(doc.get("syncedAt")),
        series_id=doc.get("seriesId") or None,
    )


def dead_letter_to(letter: DeadLetter) -> dict[str, Any]:
    return {
        "kind": letter.kind.value,
        "appointmentId": letter.appointment_id,
        "code": letter.code,
        "attempts": letter.attempts,
        "at": letter.at,
    }


def dead_letter_from(doc: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(
        kind=LostWork(doc["kind"]),
        appointment_id=doc.get("appointmentId"),
        code=str(doc.get("code") or ""),
        attempts=int(doc.get("attempts") or 0),
        at=aware(doc.get("at")) or datetime.fromtimestamp(0, UTC),
    )
