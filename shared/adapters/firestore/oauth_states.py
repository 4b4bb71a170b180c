"""OAuthStates: single-use consent states (oauthStates/{state}), created with their link."""

from __future__ import annotations

import hmac
from datetime import datetime

from google.cloud import firestore

from shared.adapters import firestore_codec as codec
from shared.adapters.firestore import documents
from shared.domain.errors import ExpiredState, NotFound
from shared.domain.link import SyncLink
from shared.ports import HeldConsent, OAuthState


class FirestoreOAuthStates:
    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        batch = self.db.batch()
        batch.create(documents.link(self.db, link.clinic_id, link.id), codec.link_to(link))
        batch.create(self.db.collection(documents.STATES).document(state.id), _state_doc(state))
        batch.commit()

    def create_state(self, state: OAuthState) -> None:
        self.db.collection(documents.STATES).document(state.id).create(_state_doc(state))

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

    def hold_consent(self, consent: HeldConsent) -> None:
        # One per link (its id): a new consent for the link replaces the one it held.
        self.db.collection(documents.CONSENTS).document(consent.link_id).set(
            {
                "clinicId": consent.clinic_id,
                "codeHash": consent.code_hash,
                "expiresAt": consent.expires_at,
                "refreshToken": dict(consent.sealed_token),
                "email": consent.email,
                "sub": consent.subject,
            }
        )

    def take_consent(self, clinic_id: str, link_id: str, code_hash: str) -> HeldConsent:
        ref = self.db.collection(documents.CONSENTS).document(link_id)

        @firestore.transactional
        def take(transaction: firestore.Transaction) -> HeldConsent:
            snapshot = ref.get(transaction=transaction)
            doc = snapshot.to_dict() if snapshot.exists else None
            if (
                not doc
                or doc.get("clinicId") != clinic_id
                or not hmac.compare_digest(str(doc.get("codeHash", "")), code_hash)
            ):
                raise NotFound("unknown or already used code", code="invalid_code")
            transaction.delete(ref)  # single use
            return HeldConsent(
                clinic_id,
                link_id,
                doc["codeHash"],
                codec.aware(doc["expiresAt"]) or doc["expiresAt"],
                doc["refreshToken"],
                doc["email"],
                doc.get("sub"),
            )

        return take(self.db.transaction())


def _state_doc(state: OAuthState) -> dict[str, object]:
    return {
        "clinicId": state.clinic_id,
        "linkId": state.link_id,
        "codeVerifier": state.code_verifier,
        "expiresAt": state.expires_at,
    }


class _Expired(Exception):
    """Carries an expired state out of the transaction (which then rolls back); the state is deleted after."""
