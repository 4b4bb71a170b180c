"""AccountCalendars: the calendar we created in each Google account (googleAccounts/{accountKey})."""

from __future__ import annotations

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.ports import KnownCalendar


class FirestoreAccountCalendars:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def remembered_calendar(self, account: str) -> KnownCalendar | None:
        doc = self.db.collection(documents.ACCOUNTS).document(account).get().to_dict() or {}
        if not doc.get("calendarId"):
            return None
        return KnownCalendar(doc["calendarId"], codec.aware(doc.get("lastPullAt")))

    def remember_calendar(self, account: str, calendar: KnownCalendar) -> None:
        self.db.collection(documents.ACCOUNTS).document(account).set(
            {"calendarId": calendar.calendar_id, "lastPullAt": calendar.last_pull_at}
        )
