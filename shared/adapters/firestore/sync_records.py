"""SyncRecords: event links (clinics/{c}/calendars/{calendarId}/eventLinks/{apptId}), and the link's
lastPushAt written with them (the link's other sync fields are FirestoreSyncStatus's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.domain.event_link import EventLink, series_of_instance_id
from shared.domain.link import SyncLink

# A write batch holds at most 500 writes: 499 event links and the link's lastPushAt.
_BATCH = 499
# Values of one `in` filter (Firestore's limit for a disjunction).
_IN = 30


class FirestoreSyncRecords:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def event_link(self, link: SyncLink, appointment_id: str) -> EventLink | None:
        snapshot = documents.event_links(self.db, link).document(appointment_id).get()
        return codec.event_link_from(snapshot.to_dict() or {}) if snapshot.exists else None

    def event_links_for(self, link: SyncLink, appointment_ids: Sequence[str]) -> dict[str, EventLink]:
        # One round trip (a streamed batch get) for all of them, however many: a backfill reads thousands.
        events = documents.event_links(self.db, link)
        refs = [events.document(appointment_id) for appointment_id in dict.fromkeys(appointment_ids)]
        if not refs:
            return {}
        found = (codec.event_link_from(s.to_dict() or {}) for s in self.db.get_all(refs) if s.exists)
        return {event_link.appointment_id: event_link for event_link in found}

    def event_links_of_series(self, link: SyncLink, series_id: str) -> list[EventLink]:
        events = documents.event_links(self.db, link)
        found = {
            s.id: codec.event_link_from(s.to_dict() or {})
            for s in events.where(filter=FieldFilter("seriesId", "==", series_id)).stream()
        }
        # Records made before seriesId was kept name their series only in their id, as Google formed
        # instance ids until then (`{seriesId}_{original start}`): a range of ids.
        prefix = f"{series_id}_"
        before = events.where(filter=FieldFilter("eventId", ">=", prefix)).where(
            filter=FieldFilter("eventId", "<", prefix + "\uffff")
        )
        for snapshot in before.stream():
            event_link = codec.event_link_from(snapshot.to_dict() or {})
            if event_link.series_id is None and series_of_instance_id(event_link.event_id) == series_id:
                found.setdefault(snapshot.id, event_link)
        return list(found.values())

    def instances_by_series(self, link: SyncLink) -> dict[str, list[EventLink]]:
        # Read on a link's first pull of a day and after a full sync. The inequality leaves out the event
        # links of plain events (their seriesId is null), and a query is billed per document it returns:
        # one read per instance recorded, not one per event of the calendar, and one query for every
        # series, not two per series. A series whose instances we all saw go is done with: not read again.
        query = documents.event_links(self.db, link).where(filter=FieldFilter("seriesId", ">", ""))
        by_series: dict[str, list[EventLink]] = {}
        for snapshot in query.stream():
            event_link = codec.event_link_from(snapshot.to_dict() or {})
            if event_link.series_id:
                by_series.setdefault(event_link.series_id, []).append(event_link)
        return {series: found for series, found in by_series.items() if not all(e.deleted for e in found)}

    def event_links_by_events(self, link: SyncLink, event_ids: Sequence[str]) -> dict[str, EventLink]:
        # `eventId in [...]`, 30 at a time: a query is billed per document it returns (one when none), so
        # events never recorded (most of a full sync of a calendar made in Google) cost 1/30 read each.
        events = documents.event_links(self.db, link)
        wanted = list(dict.fromkeys(event_ids))
        found: dict[str, EventLink] = {}
        for start in range(0, len(wanted), _IN):
            query = events.where(filter=FieldFilter("eventId", "in", wanted[start : start + _IN]))
            for snapshot in query.stream():
                event_link = codec.event_link_from(snapshot.to_dict() or {})
                found[event_link.event_id] = event_link
        return found

    def record_event_links(
        self, link: SyncLink, event_links: Sequence[EventLink], pushed_at: datetime | None
    ) -> None:
        events = documents.event_links(self.db, link)
        now = pushed_at or datetime.now().astimezone()
        for start in range(0, len(event_links), _BATCH):
            batch = self.db.batch()
            for event_link in event_links[start : start + _BATCH]:
                batch.set(events.document(event_link.appointment_id), codec.event_link_to(event_link, now))
            if pushed_at is not None and start == 0:
                batch.update(
                    documents.link(self.db, link.clinic_id, link.id),
                    {"lastPushAt": pushed_at, "health": None},
                )
            batch.commit()
