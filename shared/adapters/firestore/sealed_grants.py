"""SealedGrants: uniqueness keys (linkKeys/{key}) and sealed refresh tokens (linkSecrets/{linkId}).

claim and release also write the link document: in one transaction with the keys and the token, so that
two consents racing for one Google account (or one user) can never both hold it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.adapters.ttl_cache import TtlCache
from shared.domain.errors import Conflict
from shared.domain.link import SyncLink, link_keys


class FirestoreSealedGrants:
    """A link's sealed refresh token is reused for `cache_seconds` by an instance (every push and pull needs
    it; it is written once, when the link is claimed). Callers check the link's status first, so a token
    kept after the link ended is never used for it.
    """

    def __init__(self, db: firestore.Client, cache_seconds: float = 0) -> None:
        self.db = db
        self._sealed_tokens: TtlCache[str, Mapping[str, Any]] = TtlCache(cache_seconds)

    def claim(
        self, link: SyncLink, keys: Mapping[str, str], encrypted_token: Mapping[str, Any] | None
    ) -> None:
        key_refs = {code: self.db.collection(documents.KEYS).document(key) for code, key in keys.items()}

        @firestore.transactional
        def claim(transaction: firestore.Transaction) -> None:
            for code, ref in key_refs.items():
                snapshot = ref.get(transaction=transaction)
                holder = snapshot.to_dict() if snapshot.exists else None
                if holder and holder.get("linkId") != link.id:
                    raise Conflict(_CONFLICT_MESSAGES.get(code, "already linked"), code=code)
            for ref in key_refs.values():
                transaction.set(ref, {"linkId": link.id, "clinicId": link.clinic_id})
            if encrypted_token is not None:
                transaction.set(
                    self.db.collection(documents.SECRETS).document(link.id),
                    {"refreshToken": dict(encrypted_token)},
                )
            transaction.set(documents.link(self.db, link.clinic_id, link.id), codec.link_to(link))

        claim(self.db.transaction())
        self._sealed_tokens.forget(link.id)

    def release(self, link: SyncLink) -> None:
        keys = self.db.collection(documents.KEYS)
        refs = [keys.document(key) for key in link_keys(link).values()]

        @firestore.transactional
        def release(transaction: firestore.Transaction) -> None:
            held = [
                ref
                for ref in refs
                if (ref.get(transaction=transaction).to_dict() or {}).get("linkId") == link.id
            ]
            for ref in held:
                transaction.delete(ref)
            transaction.delete(self.db.collection(documents.SECRETS).document(link.id))
            transaction.set(documents.link(self.db, link.clinic_id, link.id), codec.link_to(link))

        release(self.db.transaction())
        self._sealed_tokens.forget(link.id)

    def encrypted_token(self, link_id: str) -> Mapping[str, Any] | None:
        def read() -> Mapping[str, Any] | None:
            snapshot = self.db.collection(documents.SECRETS).document(link_id).get()
            return (snapshot.to_dict() or {}).get("refreshToken") if snapshot.exists else None

        return self._sealed_tokens.get(link_id, read)

    def holder(self, key: str) -> str | None:
        # Read as stored, never cached: it decides whether a grant may be revoked.
        snapshot = self.db.collection(documents.KEYS).document(key).get()
        holder = (snapshot.to_dict() or {}).get("linkId") if snapshot.exists else None
        return str(holder) if holder else None


_CONFLICT_MESSAGES = {
    "email_already_linked": "this Google account already syncs an agenda",
    "user_already_linked": "this user already syncs an agenda",
    "account_already_linked": "this Google account already syncs an agenda",
}
