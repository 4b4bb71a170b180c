"""ChannelIndex: a link's channel fields, and the index channels/{channelId} -> (clinicId, linkId)."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.adapters.ttl_cache import TtlCache
from shared.domain.link import Channel, SyncLink


class FirestoreChannelIndex:
    """The owner of a watch channel is reused for `cache_seconds` by an instance (every notification needs
    it; it never changes, a channel is only stopped): another instance may queue one more pull of a link
    for a channel stopped less than `cache_seconds` ago, which the pull itself makes harmless.
    """

    def __init__(self, db: firestore.Client, cache_seconds: float = 0) -> None:
        self.db = db
        self._channel_owners: TtlCache[str, tuple[str, str]] = TtlCache(cache_seconds)

    def save_channel(self, link: SyncLink, old: Channel | None) -> None:
        channels = self.db.collection(documents.CHANNELS)
        batch = self.db.batch()
        doc = codec.link_to(link)
        batch.update(
            documents.link(self.db, link.clinic_id, link.id),
            {"channel": doc["channel"], "channelExpiresAt": doc["channelExpiresAt"]},
        )
        if link.channel is not None:
            batch.set(
                channels.document(link.channel.id),
                {"clinicId": link.clinic_id, "linkId": link.id, "expiresAt": link.channel.expires_at},
            )
        if old is not None and (link.channel is None or old.id != link.channel.id):
            batch.delete(channels.document(old.id))
        batch.commit()
        if old is not None:
            self._channel_owners.forget(old.id)

    def save_calendar_shown(self, link: SyncLink, shown: str) -> None:
        documents.link(self.db, link.clinic_id, link.id).update({"calendarShown": shown})

    def channel_owner(self, channel_id: str) -> tuple[str, str] | None:
        def read() -> tuple[str, str] | None:
            snapshot = self.db.collection(documents.CHANNELS).document(channel_id).get()
            if not snapshot.exists:
                return None
            doc = snapshot.to_dict() or {}
            return str(doc["clinicId"]), str(doc["linkId"])

        return self._channel_owners.get(channel_id, read)

    def links_to_renew(self, before: datetime) -> list[SyncLink]:
        return [
            link
            for link in documents.links_with_status(self.db, "active")
            if link.bidirectional and (link.channel is None or link.channel.expires_at < before)
        ]
