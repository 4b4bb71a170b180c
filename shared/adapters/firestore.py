"""Firestore: the clinic's documents (ClinicDirectory), ours (LinkStore), and notices (Notifier).

Layout of our documents (see README, "Data"):
  clinics/{c}/syncLinks/{linkId}                      the link, as the clinic app may read it
  clinics/{c}/calendars/{calendarId}/eventLinks/{apptId}
                                                      what we last wrote to a Google calendar for an
                                                      appointment: kept per calendar, not per link, so
                                                      that a redo in the same account inherits it
  oauthStates/{state}                                 single-use consent state; `expiresAt` is a TTL field
  linkKeys/{key}                                      uniqueness keys (one Google account, one user)
  linkSecrets/{linkId}                                the encrypted refresh token, apart from the link
  googleAccounts/{accountKey}                         the calendar we created in a Google account
  channels/{channelId}                                which link a watch channel belongs to
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters import firestore_codec as codec
from shared.adapters.ttl_cache import TtlCache
from shared.domain.clinic import Appointment, AppointmentStatus, Center, Clinic, Professional, User
from shared.domain.errors import Conflict, ExpiredState, NotFound
from shared.domain.link import Channel, SyncLink, email_key, user_key
from shared.domain.planner import EventLink
from shared.ports import KnownCalendar, Notice, OAuthState

LINKS = "syncLinks"
CALENDARS = "calendars"
EVENT_LINKS = "eventLinks"
STATES = "oauthStates"
KEYS = "linkKeys"
SECRETS = "linkSecrets"
ACCOUNTS = "googleAccounts"
CHANNELS = "channels"


class FirestoreDirectory:
    """ClinicDirectory over the clinic app's documents.

    A clinic's own document (its name and privacy settings) is reused for `cache_seconds` by an instance:
    every push reads it, and it changes rarely.
    """

    def __init__(self, db: firestore.Client, cache_seconds: float = 0) -> None:
        self.db = db
        self._clinics: TtlCache[str, Clinic] = TtlCache(cache_seconds)

    def _clinic(self, clinic_id: str) -> firestore.DocumentReference:
        return self.db.collection("clinics").document(clinic_id)

    def _get(self, ref: firestore.DocumentReference) -> dict[str, Any] | None:
        snapshot = ref.get()
        return snapshot.to_dict() if snapshot.exists else None

    def clinic(self, clinic_id: str) -> Clinic | None:
        def read() -> Clinic | None:
            doc = self._get(self._clinic(clinic_id))
            return codec.clinic_from(clinic_id, doc) if doc is not None else None

        return self._clinics.get(clinic_id, read)

    def center(self, clinic_id: str, center_id: str) -> Center | None:
        doc = self._get(self._clinic(clinic_id).collection("centers").document(center_id))
        return codec.center_from(clinic_id, center_id, doc) if doc is not None else None

    def professional(self, clinic_id: str, professional_id: str) -> Professional | None:
        doc = self._get(self._clinic(clinic_id).collection("professionals").document(professional_id))
        return codec.professional_from(clinic_id, professional_id, doc) if doc is not None else None

    def user(self, clinic_id: str, user_id: str) -> User | None:
        doc = self._get(self._clinic(clinic_id).collection("users").document(user_id))
        return codec.user_from(clinic_id, user_id, doc) if doc is not None else None

    def masters(self, clinic_id: str) -> list[User]:
        query = self._clinic(clinic_id).collection("users").where(filter=FieldFilter("isMaster", "==", True))
        return [codec.user_from(clinic_id, s.id, s.to_dict() or {}) for s in query.stream()]

    def appointment(self, clinic_id: str, appointment_id: str) -> Appointment | None:
        doc = self._get(self._clinic(clinic_id).collection("appointments").document(appointment_id))
        return codec.appointment_from(clinic_id, appointment_id, doc) if doc is not None else None

    def upcoming_appointments(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        return [
            appointment
            for appointment in self.appointments_starting(clinic_id, professional_id, since, until)
            if appointment.status is AppointmentStatus.SCHEDULED
        ]

    def appointments_starting(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        """The professional's appointments starting in [since, until), whatever their status."""
        query = (
            self._clinic(clinic_id)
            .collection("appointments")
            .where(filter=FieldFilter("professionalId", "==", professional_id))
            .where(filter=FieldFilter("start", ">=", since))
            .where(filter=FieldFilter("start", "<", until))
        )
        found = []
        for snapshot in query.stream():
            try:
                found.append(codec.appointment_from(clinic_id, snapshot.id, snapshot.to_dict() or {}))
            except Exception:  # noqa: S112 - a malformed appointment must not stop the others
                continue
        return found

    def write_appointment(self, appointment: Appointment, source_link_id: str) -> None:
        fields: dict[str, Any] = {
            "professionalId": appointment.professional_id,
            "centerId": appointment.center_id,
            "start": appointment.start,
            "end": appointment.end,
            "status": appointment.status.value,
            # A new value on every pull write, so that the trigger can tell this write from later clinic edits.
            "syncSource": {"linkId": source_link_id, "at": firestore.SERVER_TIMESTAMP},
        }
        if appointment.title:
            fields["title"] = appointment.title
        if appointment.origin:
            fields["origin"] = {
                "calendarId": appointment.origin.calendar_id,
                "eventId": appointment.origin.event_id,
            }
        ref = self._clinic(appointment.clinic_id).collection("appointments").document(appointment.id)
        ref.set(fields, merge=True)


class FirestoreLinkStore:
    """LinkStore: our own documents, with transactions where a rule must hold under concurrency.

    A link's sealed refresh token is reused for `cache_seconds` by an instance (every push and pull needs
    it; it is written once, when the link is claimed). Callers check the link's status first, so a token
    kept after the link ended is never used for it. So is the owner of a watch channel (every notification
    needs it; it never changes, a channel is only stopped): another instance may queue one more pull of a
    link for a channel stopped less than `cache_seconds` ago, which the pull itself makes harmless.
    """

    def __init__(self, db: firestore.Client, cache_seconds: float = 0) -> None:
        self.db = db
        self._sealed_tokens: TtlCache[str, Mapping[str, Any]] = TtlCache(cache_seconds)
        self._channel_owners: TtlCache[str, tuple[str, str]] = TtlCache(cache_seconds)

    def _link(self, clinic_id: str, link_id: str) -> firestore.DocumentReference:
        return self.db.collection("clinics").document(clinic_id).collection(LINKS).document(link_id)

    def _links(self, clinic_id: str) -> firestore.CollectionReference:
        return self.db.collection("clinics").document(clinic_id).collection(LINKS)

    def get(self, clinic_id: str, link_id: str) -> SyncLink | None:
        snapshot = self._link(clinic_id, link_id).get()
        return codec.link_from(snapshot.to_dict() or {}) if snapshot.exists else None

    def save(self, link: SyncLink) -> None:
        self._link(link.clinic_id, link.id).set(codec.link_to(link))

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        self._link(link.clinic_id, link.id).update({"lastError": dict(error)})

    def save_pull(self, link: SyncLink, sync_token: str | None, pulled_at: datetime, conflicts: int) -> None:
        changes: dict[str, Any] = {"syncToken": sync_token, "lastPullAt": pulled_at}
        if conflicts:
            changes["conflicts"] = firestore.Increment(conflicts)
            changes["lastConflictAt"] = pulled_at
        self._link(link.clinic_id, link.id).update(changes)

    def save_channel(self, link: SyncLink, old: Channel | None) -> None:
        batch = self.db.batch()
        doc = codec.link_to(link)
        batch.update(
            self._link(link.clinic_id, link.id),
            {"channel": doc["channel"], "channelExpiresAt": doc["channelExpiresAt"]},
        )
        if link.channel is not None:
            batch.set(
                self.db.collection(CHANNELS).document(link.channel.id),
                {"clinicId": link.clinic_id, "linkId": link.id, "expiresAt": link.channel.expires_at},
            )
        if old is not None and (link.channel is None or old.id != link.channel.id):
            batch.delete(self.db.collection(CHANNELS).document(old.id))
        batch.commit()
        if old is not None:
            self._channel_owners.forget(old.id)

    def channel_owner(self, channel_id: str) -> tuple[str, str] | None:
        def read() -> tuple[str, str] | None:
            snapshot = self.db.collection(CHANNELS).document(channel_id).get()
            if not snapshot.exists:
                return None
            doc = snapshot.to_dict() or {}
            return str(doc["clinicId"]), str(doc["linkId"])

        return self._channel_owners.get(channel_id, read)

    def _all_links(self, status: str) -> list[SyncLink]:
        query = self.db.collection_group(LINKS).where(filter=FieldFilter("status", "==", status))
        return [codec.link_from(s.to_dict() or {}) for s in query.stream()]

    def active_two_way_links(self) -> list[SyncLink]:
        return [link for link in self._all_links("active") if link.bidirectional]

    def links_to_renew(self, before: datetime) -> list[SyncLink]:
        return [
            link
            for link in self.active_two_way_links()
            if link.channel is None or link.channel.expires_at < before
        ]

    def links_awaiting_activation(self) -> list[SyncLink]:
        return [
            link
            for link in self._all_links("pending_approval")
            if link.approved_by and (link.last_error or {}).get("code") == "activation_pending"
        ]

    def links_of_user(self, clinic_id: str, user_id: str) -> list[SyncLink]:
        query = self._links(clinic_id).where(filter=FieldFilter("userId", "==", user_id))
        return sorted(
            (codec.link_from(s.to_dict() or {}) for s in query.stream()), key=lambda li: li.created_at
        )

    def links_of_clinic(self, clinic_id: str) -> list[SyncLink]:
        return sorted(
            (codec.link_from(s.to_dict() or {}) for s in self._links(clinic_id).stream()),
            key=lambda li: li.created_at,
        )

    def active_links_of_professional(self, clinic_id: str, professional_id: str) -> list[SyncLink]:
        query = (
            self._links(clinic_id)
            .where(filter=FieldFilter("professionalId", "==", professional_id))
            .where(filter=FieldFilter("status", "==", "active"))
        )
        return [codec.link_from(s.to_dict() or {}) for s in query.stream()]

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        batch = self.db.batch()
        batch.create(self._link(link.clinic_id, link.id), codec.link_to(link))
        batch.create(
            self.db.collection(STATES).document(state.id),
            {
                "clinicId": state.clinic_id,
                "linkId": state.link_id,
                "codeVerifier": state.code_verifier,
                "expiresAt": state.expires_at,
            },
        )
        batch.commit()

    def take_state(self, state_id: str, now: datetime) -> OAuthState:
        ref = self.db.collection(STATES).document(state_id)

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

    def claim(
        self, link: SyncLink, keys: Mapping[str, str], encrypted_token: Mapping[str, Any] | None
    ) -> None:
        key_refs = {code: self.db.collection(KEYS).document(key) for code, key in keys.items()}

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
                    self.db.collection(SECRETS).document(link.id), {"refreshToken": dict(encrypted_token)}
                )
            transaction.set(self._link(link.clinic_id, link.id), codec.link_to(link))

        claim(self.db.transaction())
        self._sealed_tokens.forget(link.id)

    def release(self, link: SyncLink) -> None:
        refs = [self.db.collection(KEYS).document(user_key(link.clinic_id, link.user_id))]
        if link.google_email:
            refs.append(self.db.collection(KEYS).document(email_key(link.google_email)))

        @firestore.transactional
        def release(transaction: firestore.Transaction) -> None:
            held = [
                ref
                for ref in refs
                if (ref.get(transaction=transaction).to_dict() or {}).get("linkId") == link.id
            ]
            for ref in held:
                transaction.delete(ref)
            transaction.delete(self.db.collection(SECRETS).document(link.id))
            transaction.set(self._link(link.clinic_id, link.id), codec.link_to(link))

        release(self.db.transaction())
        self._sealed_tokens.forget(link.id)

    def encrypted_token(self, link_id: str) -> Mapping[str, Any] | None:
        def read() -> Mapping[str, Any] | None:
            snapshot = self.db.collection(SECRETS).document(link_id).get()
            return (snapshot.to_dict() or {}).get("refreshToken") if snapshot.exists else None

        return self._sealed_tokens.get(link_id, read)

    def remembered_calendar(self, account: str) -> KnownCalendar | None:
        snapshot = self.db.collection(ACCOUNTS).document(account).get()
        doc = snapshot.to_dict() or {}
        if not doc.get("calendarId"):
            return None
        return KnownCalendar(doc["calendarId"], codec.aware(doc.get("lastPullAt")))

    def remember_calendar(self, account: str, calendar: KnownCalendar) -> None:
        self.db.collection(ACCOUNTS).document(account).set(
            {"calendarId": calendar.calendar_id, "lastPullAt": calendar.last_pull_at}
        )

    def _event_links(self, link: SyncLink) -> firestore.CollectionReference:
        assert link.calendar_id, "only a link with a calendar has event links"
        return (
            self.db.collection("clinics")
            .document(link.clinic_id)
            .collection(CALENDARS)
            .document(link.calendar_id)
            .collection(EVENT_LINKS)
        )

    def event_link(self, link: SyncLink, appointment_id: str) -> EventLink | None:
        snapshot = self._event_links(link).document(appointment_id).get()
        return codec.event_link_from(snapshot.to_dict() or {}) if snapshot.exists else None

    def event_links_for(self, link: SyncLink, appointment_ids: Sequence[str]) -> dict[str, EventLink]:
        # One round trip (a streamed batch get) for all of them, however many: a backfill reads thousands.
        events = self._event_links(link)
        refs = [events.document(appointment_id) for appointment_id in dict.fromkeys(appointment_ids)]
        if not refs:
            return {}
        found = (codec.event_link_from(s.to_dict() or {}) for s in self.db.get_all(refs) if s.exists)
        return {event_link.appointment_id: event_link for event_link in found}

    def event_link_by_event(self, link: SyncLink, event_id: str) -> EventLink | None:
        query = self._event_links(link).where(filter=FieldFilter("eventId", "==", event_id)).limit(1)
        return next((codec.event_link_from(s.to_dict() or {}) for s in query.stream()), None)

    def record_event_links(
        self, link: SyncLink, event_links: Sequence[EventLink], pushed_at: datetime | None
    ) -> None:
        events = self._event_links(link)
        now = pushed_at or datetime.now().astimezone()
        # A write batch holds at most 500 writes.
        for start in range(0, len(event_links), 499):
            batch = self.db.batch()
            for event_link in event_links[start : start + 499]:
                batch.set(
                    events.document(event_link.appointment_id),
                    codec.event_link_to(event_link, now),
                )
            if pushed_at is not None and start == 0:
                batch.update(self._link(link.clinic_id, link.id), {"lastPushAt": pushed_at})
            batch.commit()


class FirestoreNotifier:
    """Notifier: an in-app notification document and a Trigger Email `mail` document."""

    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def notify(self, notice: Notice) -> None:
        batch = self.db.batch()
        batch.set(
            self.db.collection("clinics").document(notice.clinic_id).collection("notifications").document(),
            {
                "userId": notice.user.id,
                "type": notice.type,
                "linkId": notice.link_id,
                "centerId": notice.center_id,
                "title": notice.subject,
                "text": notice.text,
                "details": dict(notice.details),
                "createdAt": firestore.SERVER_TIMESTAMP,
                "read": False,
            },
        )
        if notice.user.email:
            paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in notice.text.splitlines())
            batch.set(
                self.db.collection("mail").document(),
                {
                    "to": notice.user.email,
                    "message": {"subject": notice.subject, "text": notice.text, "html": paragraphs},
                },
            )
        batch.commit()


class _Expired(Exception):
    """Carries an expired state out of the transaction (which then rolls back); the state is deleted after."""


_CONFLICT_MESSAGES = {
    "email_already_linked": "this Google account already syncs an agenda",
    "user_already_linked": "this user already syncs an agenda",
}
