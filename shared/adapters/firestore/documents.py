"""Where our documents live in Firestore, shared by the adapters of our ports.

Layout (see README, "Data"):
  clinics/{c}/syncLinks/{linkId}                      the link, as the clinic app may read it
  clinics/{c}/calendars/{calendarId}/eventLinks/{apptId}
                                                      what we last wrote to a Google calendar for an
                                                      appointment: kept per calendar, not per link, so
                                                      that a redo in the same account inherits it
  clinics/{c}/syncLinks/{l}/deadLetters/{key}         a task that failed its queue's last attempt, until
                                                      healed; counted in the link's pendingFailures
  oauthStates/{state}                                 single-use consent state; `expiresAt` is a TTL field
  oauthConsents/{linkId}                              a consent held until its one-time code is redeemed
                                                      (the code's SHA-256, the sealed token); `expiresAt`
                                                      is a TTL field
  linkKeys/{key}                                      uniqueness keys (one Google account, one user)
  linkSecrets/{linkId}                                the encrypted refresh token, apart from the link
  clinics/{c}/googleAccounts/{accountKey}             the calendar we created for the clinic in a Google
                                                      account (one per clinic and account: a calendar and
                                                      its event links belong to one clinic)
  channels/{channelId}                                which link a watch channel belongs to
"""

from __future__ import annotations

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters import firestore_codec as codec
from shared.domain.link import SyncLink

CLINICS = "clinics"
LINKS = "syncLinks"
CALENDARS = "calendars"
EVENT_LINKS = "eventLinks"
DEAD_LETTERS = "deadLetters"
STATES = "oauthStates"
CONSENTS = "oauthConsents"
KEYS = "linkKeys"
SECRETS = "linkSecrets"
ACCOUNTS = "googleAccounts"
CHANNELS = "channels"


def links(db: firestore.Client, clinic_id: str) -> firestore.CollectionReference:
    return db.collection(CLINICS).document(clinic_id).collection(LINKS)


def link(db: firestore.Client, clinic_id: str, link_id: str) -> firestore.DocumentReference:
    return links(db, clinic_id).document(link_id)


def links_with_status(db: firestore.Client, status: str) -> list[SyncLink]:
    """Every clinic's links in `status` (a collection-group query)."""
    query = db.collection_group(LINKS).where(filter=FieldFilter("status", "==", status))
    return [codec.link_from(s.to_dict() or {}) for s in query.stream()]


def account_calendar(db: firestore.Client, clinic_id: str, account: str) -> firestore.DocumentReference:
    return db.collection(CLINICS).document(clinic_id).collection(ACCOUNTS).document(account)


def dead_letters(db: firestore.Client, sync_link: SyncLink) -> firestore.CollectionReference:
    return link(db, sync_link.clinic_id, sync_link.id).collection(DEAD_LETTERS)


def event_links(db: firestore.Client, sync_link: SyncLink) -> firestore.CollectionReference:
    assert sync_link.calendar_id, "only a link with a calendar has event links"
    return (
        db.collection(CLINICS)
        .document(sync_link.clinic_id)
        .collection(CALENDARS)
        .document(sync_link.calendar_id)
        .collection(EVENT_LINKS)
    )
