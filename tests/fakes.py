"""Hand-written fakes of the ports, for fast unit tests of the services (wired through build_services).

The memory fakes of ClinicDirectory, AgendaReader and our storage ports are held to the same contract as
their Firestore adapters by tests/integration/ports/.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.clinic import Appointment, AppointmentStatus, Center, Clinic, Professional, User
from shared.domain.errors import Conflict, ExpiredState, NotFound
from shared.domain.event_link import EventLink, series_of_instance_id
from shared.domain.link import Channel, FullSyncProgress, SyncLink, link_keys
from shared.domain.planner import Delete, Insert, Patch, PushAction
from shared.domain.repair import DeadLetter
from shared.ports import (
    AlreadyExists,
    EventPage,
    GoogleError,
    Grant,
    HeldConsent,
    KnownCalendar,
    Notice,
    OAuthState,
    PreconditionFailed,
    PushOutcome,
    RemoteMissing,
)


class FixedClock:
    def __init__(self, now: datetime = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class RecordingQueue:
    """TaskQueue that keeps tasks (deduplicated by name, like Cloud Tasks) for the test to run.

    Thread-safe: webhook deliveries enqueue from the fake Google's notification thread.
    """

    def __init__(self) -> None:
        self.tasks: dict[str, tuple[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def enqueue(self, queue: str, name: str, payload: Mapping[str, Any], delay_seconds: float = 0) -> bool:
        with self._lock:
            if name in self.tasks:
                return False
            self.tasks[name] = (queue, dict(payload))
            return True

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            tasks, self.tasks = list(self.tasks.values()), {}
        return tasks


def run_task(services: Any, queue: str, payload: Mapping[str, Any]) -> object:
    """Carry out one queued task as its worker does (push_worker or pull_worker): the payload read back by
    `tasks.push_work` or `tasks.pull_work`, handed to the service's `run`. Answers the service's report."""
    from shared.services.tasks import pull_work, push_work

    if queue == services.settings.pull_queue:
        return services.pull.run(pull_work(payload))
    return services.push.run(push_work(payload))


class RecordingNotifier:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


@dataclass
class MemoryDirectory:
    clinics: dict[str, Clinic] = field(default_factory=dict)
    centers: dict[tuple[str, str], Center] = field(default_factory=dict)
    professionals: dict[tuple[str, str], Professional] = field(default_factory=dict)
    users: dict[tuple[str, str], User] = field(default_factory=dict)
    appointments: dict[tuple[str, str], Appointment] = field(default_factory=dict)
    pull_writes: list[tuple[str, str]] = field(default_factory=list)

    def clinic(self, clinic_id: str) -> Clinic | None:
        return self.clinics.get(clinic_id)

    def center(self, clinic_id: str, center_id: str) -> Center | None:
        return self.centers.get((clinic_id, center_id))

    def professional(self, clinic_id: str, professional_id: str) -> Professional | None:
        return self.professionals.get((clinic_id, professional_id))

    def user(self, clinic_id: str, user_id: str) -> User | None:
        return self.users.get((clinic_id, user_id))

    def masters(self, clinic_id: str) -> list[User]:
        return [u for (c, _), u in self.users.items() if c == clinic_id and u.is_master]

    def appointment(self, clinic_id: str, appointment_id: str) -> Appointment | None:
        return self.appointments.get((clinic_id, appointment_id))

    def appointments_by_id(
        self, clinic_id: str, appointment_ids: Sequence[str]
    ) -> dict[str, Appointment | None]:
        return {a: self.appointments.get((clinic_id, a)) for a in appointment_ids}

    def write_appointments(self, appointments: Sequence[Appointment], source_link_id: str) -> None:
        for appointment in appointments:
            self._write(appointment, source_link_id)

    def _write(self, appointment: Appointment, source_link_id: str) -> None:
        appointment = replace(appointment, updated_at=datetime.now(UTC))  # the server's time, as updatedAt
        key = (appointment.clinic_id, appointment.id)
        stored = self.appointments.get(key)
        if stored is not None:
            # As the adapter's merge: what a pull does not write (patient, service) is kept; an appointment
            # made in Google takes what was typed there (codec.pulled_fields), others keep theirs.
            typed = appointment if appointment.origin is not None else stored
            appointment = replace(
                stored,
                professional_id=appointment.professional_id,
                center_id=appointment.center_id,
                start=appointment.start,
                end=appointment.end,
                status=appointment.status,
                title=typed.title,
                notes=typed.notes,
                location=typed.location,
                all_day=typed.all_day,
                origin=appointment.origin or stored.origin,
                updated_at=appointment.updated_at,
            )
        self.appointments[key] = appointment
        self.pull_writes.append((appointment.id, source_link_id))

    def upcoming_appointments(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        found = self.appointments_starting(clinic_id, professional_id, since, until)
        return [a for a in found if a.status is AppointmentStatus.SCHEDULED]

    def appointments_changed_since(self, clinic_id: str, since: datetime) -> list[Appointment]:
        return [
            a
            for (c, _), a in self.appointments.items()
            if c == clinic_id and a.updated_at is not None and a.updated_at >= since
        ]

    def appointments_starting(
        self, clinic_id: str, professional_id: str, since: datetime, until: datetime
    ) -> list[Appointment]:
        return [
            a
            for (c, _), a in self.appointments.items()
            if c == clinic_id and a.professional_id == professional_id and since <= a.start < until
        ]


# Links.move is atomic, as the Firestore transaction is: two threads moving one link never both decide on
# the same stored copy.
_MOVES = threading.Lock()


@dataclass
class MemoryStore:
    """Our documents in memory: one store shared by the memory fakes of our storage ports, as one Firestore
    database is shared by their adapters (claim writes a link, its keys and its token; save_pull a link)."""

    links: dict[str, SyncLink] = field(default_factory=dict)
    states: dict[str, OAuthState] = field(default_factory=dict)
    consents: dict[str, HeldConsent] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    calendars: dict[tuple[str, str], KnownCalendar] = field(default_factory=dict)
    # Keyed like Firestore's clinics/{c}/calendars/{calendarId}/eventLinks/{apptId}.
    event_links: dict[tuple[str, str | None, str], EventLink] = field(default_factory=dict)
    # Keyed like clinics/{c}/syncLinks/{l}/deadLetters/{key}: (link id, key).
    dead_letters: dict[tuple[str, str], DeadLetter] = field(default_factory=dict)
    channels: dict[str, tuple[str, str]] = field(default_factory=dict)

    def ports(self) -> dict[str, Any]:
        """The memory fake of each storage port over this store, named as build_services takes them."""
        return {
            "links": MemoryLinks(self),
            "grants": MemorySealedGrants(self),
            "records": MemorySyncRecords(self),
            "status": MemorySyncStatus(self),
            "channel_index": MemoryChannelIndex(self),
            "states": MemoryOAuthStates(self),
            "accounts": MemoryAccountCalendars(self),
            "repairs": MemoryRepairs(self),
        }

    def update(self, link: SyncLink, **changes: Any) -> None:
        """Change some fields of a stored link, as a Firestore update does (KeyError when it does not exist)."""
        self.links[link.id] = replace(self.links[link.id], **changes)

    def active_two_way_links(self) -> list[SyncLink]:
        return [li for li in self.links.values() if li.status.value == "active" and li.bidirectional]


def _oldest_first(links: Iterable[SyncLink]) -> list[SyncLink]:
    return sorted(links, key=lambda li: li.created_at)


@dataclass
class MemoryLinks:
    """Links."""

    store: MemoryStore

    def get(self, clinic_id: str, link_id: str) -> SyncLink | None:
        link = self.store.links.get(link_id)
        return link if link and link.clinic_id == clinic_id else None

    def save(self, link: SyncLink) -> None:
        self.store.links[link.id] = link

    def move(
        self, clinic_id: str, link_id: str, change: Callable[[SyncLink], SyncLink | None]
    ) -> tuple[SyncLink | None, bool]:
        with _MOVES:
            stored = self.get(clinic_id, link_id)
            if stored is None:
                return None, False
            moved = change(stored)
            if moved is None:
                return stored, False
            self.store.links[link_id] = moved
            return moved, True

    def links_of_user(self, clinic_id: str, user_id: str) -> list[SyncLink]:
        return _oldest_first(
            li for li in self.store.links.values() if li.clinic_id == clinic_id and li.user_id == user_id
        )

    def links_of_clinic(self, clinic_id: str) -> list[SyncLink]:
        return _oldest_first(li for li in self.store.links.values() if li.clinic_id == clinic_id)

    def active_links_of_professional(self, clinic_id: str, professional_id: str) -> list[SyncLink]:
        return [
            li
            for li in self.store.links.values()
            if li.clinic_id == clinic_id
            and li.professional_id == professional_id
            and li.status.value == "active"
        ]

    def links_awaiting_activation(self) -> list[SyncLink]:
        return [
            li
            for li in self.store.links.values()
            if li.status.value == "pending_approval"
            and li.approved_by
            and (li.last_error or {}).get("code") == "activation_pending"
        ]

    def active_two_way_links(self) -> list[SyncLink]:
        return self.store.active_two_way_links()

    def active_links(self) -> list[SyncLink]:
        return [li for li in self.store.links.values() if li.status.value == "active"]


@dataclass
class MemorySealedGrants:
    """SealedGrants."""

    store: MemoryStore

    def claim(
        self, link: SyncLink, keys: Mapping[str, str], encrypted_token: Mapping[str, Any] | None
    ) -> None:
        for code, key in keys.items():
            if self.store.keys.get(key, link.id) != link.id:
                raise Conflict("already linked", code=code)
        for key in keys.values():
            self.store.keys[key] = link.id
        if encrypted_token is not None:
            self.store.secrets[link.id] = encrypted_token
        self.store.links[link.id] = link

    def release(self, link: SyncLink) -> None:
        for key in link_keys(link).values():
            if self.store.keys.get(key) == link.id:
                del self.store.keys[key]
        self.store.secrets.pop(link.id, None)
        self.store.links[link.id] = link

    def encrypted_token(self, link_id: str) -> Mapping[str, Any] | None:
        return self.store.secrets.get(link_id)

    def holder(self, key: str) -> str | None:
        return self.store.keys.get(key)


def _series_of(event_link: EventLink) -> str | None:
    """The series a record names, or for one made before seriesId was kept, the series its id names."""
    return event_link.series_id or series_of_instance_id(event_link.event_id)


@dataclass
class MemorySyncRecords:
    """SyncRecords."""

    store: MemoryStore

    def _key(self, link: SyncLink, appointment_id: str) -> tuple[str, str | None, str]:
        assert link.calendar_id, "only a link with a calendar has event links"
        return link.clinic_id, link.calendar_id, appointment_id

    def event_link(self, link: SyncLink, appointment_id: str) -> EventLink | None:
        return self.store.event_links.get(self._key(link, appointment_id))

    def event_links_for(self, link: SyncLink, appointment_ids: Sequence[str]) -> dict[str, EventLink]:
        found = {a: self.store.event_links.get(self._key(link, a)) for a in appointment_ids}
        return {a: e for a, e in found.items() if e is not None}

    def event_links_of_series(self, link: SyncLink, series_id: str) -> list[EventLink]:
        # As the adapter: those that name the series, and those recorded before seriesId was kept whose
        # id is one of its instances'.
        return [e for e in self._calendar(link) if _series_of(e) == series_id]

    def instances_by_series(self, link: SyncLink) -> dict[str, list[EventLink]]:
        # As the adapter: only the event links that name their series, of series with one not seen gone.
        by_series: dict[str, list[EventLink]] = {}
        for event_link in self._calendar(link):
            if event_link.series_id:
                by_series.setdefault(event_link.series_id, []).append(event_link)
        return {series: found for series, found in by_series.items() if not all(e.deleted for e in found)}

    def _calendar(self, link: SyncLink) -> list[EventLink]:
        clinic_id, calendar_id, _ = self._key(link, "")
        return [e for (*key, _), e in self.store.event_links.items() if key == [clinic_id, calendar_id]]

    def event_links_by_events(self, link: SyncLink, event_ids: Sequence[str]) -> dict[str, EventLink]:
        clinic_id, calendar_id, _ = self._key(link, "")
        wanted = set(event_ids)
        return {
            e.event_id: e
            for (*key, _), e in self.store.event_links.items()
            if key == [clinic_id, calendar_id] and e.event_id in wanted
        }

    def record_event_links(
        self, link: SyncLink, event_links: Sequence[EventLink], pushed_at: datetime | None
    ) -> None:
        if not event_links:
            return
        # As the adapter does, each one is stamped with when it was recorded.
        synced_at = pushed_at or datetime.now(UTC)
        for event_link in event_links:
            self.store.event_links[self._key(link, event_link.appointment_id)] = replace(
                event_link, synced_at=synced_at
            )
        if pushed_at is not None:
            self.store.update(link, last_push_at=pushed_at, health=None)


@dataclass
class MemorySyncStatus:
    """SyncStatus."""

    store: MemoryStore

    def save_error(self, link: SyncLink, error: Mapping[str, Any]) -> None:
        self.store.update(link, last_error=dict(error))

    def save_pushed_privacy(self, link: SyncLink, privacy: str) -> None:
        self.store.update(link, pushed_privacy=privacy)

    def save_pull(self, link: SyncLink, sync_token: str | None, pulled_at: datetime, conflicts: int) -> None:
        current = self.store.links[link.id]
        self.store.update(
            link,
            sync_token=sync_token,
            last_pull_at=pulled_at,
            conflicts=current.conflicts + conflicts,
            full_sync=None,
            health=None,
        )

    def save_full_sync(self, link: SyncLink, progress: FullSyncProgress, conflicts: int) -> None:
        current = self.store.links[link.id]
        self.store.update(link, full_sync=progress, conflicts=current.conflicts + conflicts)

    def save_health(self, link: SyncLink, health: Mapping[str, Any]) -> None:
        self.store.update(link, health=dict(health))


@dataclass
class MemoryRepairs:
    """Repairs."""

    store: MemoryStore

    def add_dead_letter(self, link: SyncLink, letter: DeadLetter, error: dict[str, Any]) -> bool:
        new = (link.id, letter.key) not in self.store.dead_letters
        self.store.dead_letters[(link.id, letter.key)] = letter
        current = self.store.links[link.id]
        self.store.update(link, last_error=dict(error), pending_failures=current.pending_failures + int(new))
        return new

    def remove_dead_letters(self, link: SyncLink, keys: Sequence[str]) -> int:
        removed = [k for k in dict.fromkeys(keys) if self.store.dead_letters.pop((link.id, k), None)]
        if removed:
            current = self.store.links[link.id]
            self.store.update(link, pending_failures=current.pending_failures - len(removed))
        return len(removed)

    def dead_letters(self, link: SyncLink) -> list[DeadLetter]:
        found = [letter for (link_id, _), letter in self.store.dead_letters.items() if link_id == link.id]
        return sorted(found, key=lambda letter: letter.at)

    def save_drift_check(self, link: SyncLink, sync_token: str | None, checked_at: datetime) -> None:
        self.store.update(link, drift_sync_token=sync_token, drift_checked_at=checked_at)


@dataclass
class MemoryChannelIndex:
    """ChannelIndex."""

    store: MemoryStore

    def save_channel(self, link: SyncLink, old: Channel | None) -> None:
        self.store.update(link, channel=link.channel)
        if old is not None:
            self.store.channels.pop(old.id, None)
        if link.channel is not None:
            self.store.channels[link.channel.id] = (link.clinic_id, link.id)

    def save_calendar_shown(self, link: SyncLink, shown: str) -> None:
        self.store.update(link, calendar_shown=shown)

    def channel_owner(self, channel_id: str) -> tuple[str, str] | None:
        return self.store.channels.get(channel_id)

    def links_to_renew(self, before: datetime) -> list[SyncLink]:
        return [
            li
            for li in self.store.active_two_way_links()
            if li.channel is None or li.channel.expires_at < before
        ]


@dataclass
class MemoryOAuthStates:
    """OAuthStates."""

    store: MemoryStore

    def create_with_state(self, link: SyncLink, state: OAuthState) -> None:
        self.store.links[link.id] = link
        self.store.states[state.id] = state

    def create_state(self, state: OAuthState) -> None:
        self.store.states[state.id] = state

    def take_state(self, state_id: str, now: datetime) -> OAuthState:
        state = self.store.states.pop(state_id, None)
        if state is None:
            raise NotFound("unknown or used state", code="invalid_state")
        if state.expires_at <= now:
            raise ExpiredState(state.clinic_id, state.link_id)
        return state

    def hold_consent(self, consent: HeldConsent) -> None:
        self.store.consents[consent.link_id] = consent

    def take_consent(self, clinic_id: str, link_id: str, code_hash: str) -> HeldConsent:
        held = self.store.consents.get(link_id)
        if held is None or held.clinic_id != clinic_id or held.code_hash != code_hash:
            raise NotFound("unknown or used code", code="invalid_code")
        return self.store.consents.pop(link_id)


@dataclass
class MemoryAccountCalendars:
    """AccountCalendars."""

    store: MemoryStore

    def remembered_calendar(self, clinic_id: str, account: str) -> KnownCalendar | None:
        return self.store.calendars.get((clinic_id, account))

    def remember_calendar(self, clinic_id: str, account: str, calendar: KnownCalendar) -> None:
        self.store.calendars[(clinic_id, account)] = calendar


class FakeOAuth:
    """OAuthClient whose consent is scripted per code: {code: Grant}."""

    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        self.revoked: list[str] = []

    def authorization_url(self, state: str) -> tuple[str, str]:
        return f"https://accounts.example/auth?state={state}", "verifier-" + state

    def exchange(self, code: str, code_verifier: str) -> Grant:
        grant = self.grants.pop(code, None)
        if grant is None:
            raise GoogleError("invalid_grant", 400, "invalid_grant")
        return grant

    def revoke(self, token: str) -> None:
        self.revoked.append(token)


@dataclass
class MemoryCalendar:
    """One Google account's calendars and events, with Google's id, etag and tombstone rules."""

    clock: FixedClock = field(default_factory=FixedClock)
    calendars: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # The next calls' failures, in order (None: that call answers).
    fail_next: list[GoogleError | None] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    # Events per page of a list (None: one page); and what each list call asked for.
    page_size: int | None = None
    listed: list[dict[str, Any]] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)  # calendar -> how its user's list shows it
    _etags: itertools.count = field(default_factory=lambda: itertools.count(1))
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _maybe_fail(self, call: str) -> None:
        self.calls.append(call)
        if self.fail_next and (failure := self.fail_next.pop(0)) is not None:
            raise failure

    def create_calendar(self, summary: str, time_zone: str) -> str:
        self._maybe_fail("calendars.insert")
        calendar_id = f"cal{len(self.calendars) + 1}@group.calendar.example"
        self.calendars[calendar_id] = {}
        return calendar_id

    def calendar_exists(self, calendar_id: str) -> bool:
        self._maybe_fail("calendars.get")
        return calendar_id in self.calendars

    def calendar_shown(self, calendar_id: str) -> str:
        self._maybe_fail("calendarList.get")
        return self.shown.get(calendar_id, "shown")

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        self._maybe_fail("events.get")
        event = self.calendars[calendar_id].get(event_id)
        if event is None:
            raise RemoteMissing("not found", 404, "notFound")
        return dict(event)

    def live(self, calendar_id: str) -> dict[str, dict[str, Any]]:
        return {k: e for k, e in self.calendars[calendar_id].items() if e["status"] != "cancelled"}

    def _one(self, calendar_id: str, action: PushAction) -> dict[str, Any] | None:
        events = self.calendars[calendar_id]
        if isinstance(action, Insert):
            self._maybe_fail("events.insert")
            if action.event_id in events:
                raise AlreadyExists("duplicate", 409, "duplicate")
            events[action.event_id] = {
                **action.content.new_body(),
                "id": action.event_id,
                "etag": self._etag(),
            }
            return self._touch(events[action.event_id])
        event = events.get(action.event_id)
        if isinstance(action, Patch):
            self._maybe_fail("events.patch")
            if event is None:
                raise RemoteMissing("not found", 404, "notFound")
            if action.etag and action.etag != event["etag"]:
                raise PreconditionFailed("conditionNotMet", 412, "conditionNotMet")
            _patch(event, action.body())
            event["etag"] = self._etag()
            return self._touch(event)
        assert isinstance(action, Delete)
        self._maybe_fail("events.delete")
        if event is None or event["status"] == "cancelled":
            raise RemoteMissing("gone", 410, "deleted")
        if action.etag and action.etag != event["etag"]:
            raise PreconditionFailed("conditionNotMet", 412, "conditionNotMet")
        event.update(status="cancelled", etag=self._etag())
        self._touch(event)
        return None

    def _etag(self) -> str:
        """A new etag, and a new place in the change log that sync tokens point into."""
        return f'"{next(self._etags)}"'

    def _touch(self, event: dict[str, Any]) -> dict[str, Any]:
        event["_seq"] = next(self._seq)
        return event

    def user_edit(self, calendar_id: str, event_id: str, **changes: Any) -> dict[str, Any]:
        """A change made by the user in Google Calendar's own UI."""
        event = self.calendars[calendar_id][event_id]
        event.update(changes, etag=self._etag())
        return self._touch(event)

    def user_create(
        self, calendar_id: str, event_id: str, summary: str, start: str, end: str, updated: str | None = None
    ) -> None:
        self.calendars[calendar_id][event_id] = self._touch(
            {
                "id": event_id,
                "status": "confirmed",
                "summary": summary,
                "start": {"dateTime": start},
                "end": {"dateTime": end},
                "etag": self._etag(),
                "updated": updated or self.clock.now().isoformat(),
            }
        )

    def apply(self, calendar_id: str, actions: Sequence[PushAction]) -> list[PushOutcome]:
        outcomes = []
        for action in actions:
            try:
                outcomes.append(PushOutcome(action, event=self._one(calendar_id, action)))
            except GoogleError as error:
                outcomes.append(PushOutcome(action, error=error))
        return outcomes

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None,
        time_min: datetime | None,
        page_token: str | None,
        time_max: datetime | None = None,
    ) -> EventPage:
        self._maybe_fail("events.list")
        self.listed.append(
            {"syncToken": sync_token, "timeMin": time_min, "timeMax": time_max, "pageToken": page_token}
        )
        events = self.calendars[calendar_id].values()
        # A page token names where the listing goes on and the change it started from, as Google's carry
        # their request: the sync token of the last page stands for the calendar as the first page saw it.
        offset, latest = (int(n) for n in page_token[1:].split("/")) if page_token else (0, 0)
        latest = latest or max((e["_seq"] for e in events), default=0)
        since = int(sync_token[1:]) if sync_token else 0
        # As Google does, a deleted event is listed with its id, status and etag only.
        changed = [
            {k: v for k, v in e.items() if k in ("id", "status", "etag")}
            if e["status"] == "cancelled"
            else {k: v for k, v in e.items() if k != "_seq"}
            for e in sorted(events, key=lambda e: str(e["id"]))
            if e["_seq"] > since
        ]
        end = len(changed) if self.page_size is None else offset + self.page_size
        if end < len(changed):
            return EventPage(items=changed[offset:end], next_page_token=f"p{end}/{latest}")
        return EventPage(items=changed[offset:], next_sync_token=f"s{latest}")

    def list_instances(
        self, calendar_id: str, series_id: str, time_min: datetime, time_max: datetime
    ) -> list[dict[str, Any]]:
        """Instances are stored here as events naming their series (no recurrence rules are expanded)."""
        self._maybe_fail("events.instances")

        def overlaps(event: dict[str, Any]) -> bool:
            start = datetime.fromisoformat(event["start"]["dateTime"])
            end = datetime.fromisoformat(event["end"]["dateTime"])
            return end > time_min and start < time_max

        return [
            {k: v for k, v in e.items() if k != "_seq"}
            for e in self.calendars[calendar_id].values()
            if e.get("recurringEventId") == series_id and e["status"] != "cancelled" and overlaps(e)
        ]

    def watch(self, calendar_id: str, channel_id: str, token: str, address: str, ttl_seconds: int) -> Channel:
        self._maybe_fail("events.watch")
        return Channel(channel_id, "res-" + channel_id, self.clock.now() + timedelta(seconds=ttl_seconds))

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        self._maybe_fail("channels.stop")
        self.stopped.append(channel_id)


class FakeCalendars:
    """CalendarConnector: one MemoryCalendar per refresh token's account."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.accounts: dict[str, MemoryCalendar] = {}

    def connect(self, refresh_token: str) -> MemoryCalendar:
        return self.accounts.setdefault(refresh_token, MemoryCalendar(self.clock))


def _patch(event: dict[str, Any], body: dict[str, Any]) -> None:
    """Google's patch: fields the body does not name stay, and objects merge key by key."""
    for key, value in body.items():
        if isinstance(value, dict) and isinstance(event.get(key), dict):
            _patch(event[key], value)
        else:
            event[key] = value
