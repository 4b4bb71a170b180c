"""AccountCalendars: the calendar we created in a Google account for a clinic
(clinics/{clinicId}/googleAccounts/{accountKey})."""

from __future__ import annotations

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.ports import KnownCalendar


class FirestoreAccountCalendars:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def remembered_calendar(self, clinic_id: str, account: str) -> KnownCalendar | None:
        doc = documents.account_calendar(self.db, clinic_id, account).get().to_dict() or {}
        if not doc.get("calendarId"):
            return None
        return KnownCalendar(doc["calendarId"], codec.aware(doc.get("lastPullAt")))

    def remember_calendar(self, clinic_id: str, account: str, calendar: KnownCalendar) -> None:
        documents.account_calendar(self.db, clinic_id, account).set(
            {"calendarId": calendar.calendar_id, "lastPullAt": calendar.last_pull_at}
        )
