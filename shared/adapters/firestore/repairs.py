"""Repairs: a link's dead letters (clinics/{c}/syncLinks/{l}/deadLetters/{key}), their count on the link
(pendingFailures) and the drift check's checkpoint (driftSyncToken, driftCheckedAt)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.domain.link import SyncLink
from shared.domain.repair import DeadLetter


class FirestoreRepairs:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def add_dead_letter(self, link: SyncLink, letter: DeadLetter, error: dict[str, Any]) -> bool:
        ref = documents.dead_letters(self.db, link).document(letter.key)
        link_ref = documents.link(self.db, link.clinic_id, link.id)

        # A transaction: two last attempts of the same appointment racing must count it once.
        @firestore.transactional
        def add(transaction: firestore.Transaction) -> bool:
            new = not ref.get(transaction=transaction).exists
            transaction.set(ref, codec.dead_letter_to(letter))
            changes: dict[str, Any] = {"lastError": dict(error)}
            if new:
                changes["pendingFailures"] = firestore.Increment(1)
            transaction.update(link_ref, changes)
            return new

        return bool(add(self.db.transaction()))

    def remove_dead_letters(self, link: SyncLink, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        letters = documents.dead_letters(self.db, link)
        refs = [letters.document(key) for key in dict.fromkeys(keys)]
        link_ref = documents.link(self.db, link.clinic_id, link.id)

        @firestore.transactional
        def remove(transaction: firestore.Transaction) -> int:
            present = [s.reference for s in self.db.get_all(refs, transaction=transaction) if s.exists]
            for ref in present:
                transaction.delete(ref)
            if present:
                transaction.update(link_ref, {"pendingFailures": firestore.Increment(-len(present))})
            return len(present)

        return int(remove(self.db.transaction()))

    def dead_letters(self, link: SyncLink) -> list[DeadLetter]:
        found = [
            codec.dead_letter_from(s.to_dict() or {}) for s in documents.dead_letters(self.db, link).stream()
        ]
        return sorted(found, key=lambda letter: letter.at)

    def save_drift_check(self, link: SyncLink, sync_token: str | None, checked_at: datetime) -> None:
        documents.link(self.db, link.clinic_id, link.id).update(
            {"driftSyncToken": sync_token, "driftCheckedAt": checked_at}
        )
