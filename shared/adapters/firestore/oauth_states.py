"""OAuthStates: single-use consent states (oauthStates/{state}), created with their link."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.domain.errors import ExpiredState, NotFound
from shared.domain.link import SyncLink
from shared.ports import OAuthState


class FirestoreOAuthStates:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        batch = self.db.batch()
        batch.create(documents.link(self.db, link.clinic_id, link.id), codec.link_to(link))
        batch.create(
            self.db.collection(documents.STATES).document(state.id),
            {
                "clinicId": state.clinic_id,
                "linkId": state.link_id,
                "codeVerifier": state.code_verifier,
                "expiresAt": state.expires_at,
            },
        )
        batch.commit()

    def take_state(self, state_id: str, now: datetime) -> OAuthState:
        ref = self.db.collection(documents.STATES).document(state_id)

        @firestore.transactional
        def take(transaction: firestore.Transaction) -> OAuthState:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise NotFound("unknown or already used sign-in state", code="invalid_state")
            doc = snapshot.to_dict() or {}
            transaction.delete(ref)  # single use, even when expired
            if doc["expiresAt"] <= now:
                raise _Expired(doc["clinicId"], doc["linkId"])
            return OAuthState(state_id, doc["clinicId"], doc["linkId"], doc["codeVerifier"], doc["expiresAt"])

        try:
            return take(self.db.transaction())
        except _Expired as expired:
            ref.delete()
            raise ExpiredState(*expired.args) from None


class _Expired(Exception):
    """Carries an expired state out of the transaction (which then rolls back); the state is deleted after."""
