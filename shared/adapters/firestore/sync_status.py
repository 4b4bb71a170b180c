"""SyncStatus: the fields of a link document (clinics/{c}/syncLinks/{id}) that only the sync writes
(lastError, pushedPrivacy, syncToken, lastPullAt, conflicts, lastConflictAt, fullSync, health)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.domain.link import FullSyncProgress, SyncLink


class FirestoreSyncStatus:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        documents.link(self.db, link.clinic_id, link.id).update({"lastError": dict(error)})

    def save_pushed_privacy(self, link: SyncLink, privacy: str) -> None:
        documents.link(self.db, link.clinic_id, link.id).update({"pushedPrivacy": privacy})

    def save_pull(self, link: SyncLink, sync_token: str | None, pulled_at: datetime, conflicts: int) -> None:
        changes: dict[str, Any] = {
            "syncToken": sync_token,
            "lastPullAt": pulled_at,
            "fullSync": None,
            "health": None,
        }
        if conflicts:
            changes["conflicts"] = firestore.Increment(conflicts)
            changes["lastConflictAt"] = pulled_at
        documents.link(self.db, link.clinic_id, link.id).update(changes)

    def save_full_sync(self, link: SyncLink, progress: FullSyncProgress, conflicts: int) -> None:
        changes: dict[str, Any] = {"fullSync": codec.full_sync_to(progress)}
        if conflicts:
            changes["conflicts"] = firestore.Increment(conflicts)
        documents.link(self.db, link.clinic_id, link.id).update(changes)

    def save_health(self, link: SyncLink, health: Mapping[str, Any]) -> None:
        documents.link(self.db, link.clinic_id, link.id).update({"health": dict(health)})
