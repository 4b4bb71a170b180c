"""Links: the sync link documents (clinics/{c}/syncLinks/{linkId})."""

from __future__ import annotations

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.domain.link import SyncLink


class FirestoreLinks:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def get(self, clinic_id: str, link_id: str) -> SyncLink | None:
        snapshot = documents.link(self.db, clinic_id, link_id).get()
        return codec.link_from(snapshot.to_dict() or {}) if snapshot.exists else None

    def save(self, link: SyncLink) -> None:
        documents.link(self.db, link.clinic_id, link.id).set(codec.link_to(link))

    def links_of_user(self, clinic_id: str, user_id: str) -> list[SyncLink]:
        query = documents.links(self.db, clinic_id).where(filter=FieldFilter("userId", "==", user_id))
        return _oldest_first(query)

    def links_of_clinic(self, clinic_id: str) -> list[SyncLink]:
        return _oldest_first(documents.links(self.db, clinic_id))

    def active_links_of_professional(self, clinic_id: str, professional_id: str) -> list[SyncLink]:
        query = (
            documents.links(self.db, clinic_id)
            .where(filter=FieldFilter("professionalId", "==", professional_id))
            .where(filter=FieldFilter("status", "==", "active"))
        )
        return [codec.link_from(s.to_dict() or {}) for s in query.stream()]

    def links_awaiting_activation(self) -> list[SyncLink]:
        return [
            link
            for link in documents.links_with_status(self.db, "pending_approval")
            if link.approved_by and (link.last_error or {}).get("code") == "activation_pending"
        ]

    def active_two_way_links(self) -> list[SyncLink]:
        return [link for link in documents.links_with_status(self.db, "active") if link.bidirectional]

    def active_links(self) -> list[SyncLink]:
        return documents.links_with_status(self.db, "active")


def _oldest_first(query: firestore.Query | firestore.CollectionReference) -> list[SyncLink]:
    return sorted((codec.link_from(s.to_dict() or {}) for s in query.stream()), key=lambda li: li.created_at)
