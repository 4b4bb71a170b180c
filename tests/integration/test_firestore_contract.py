"""What the adapters write to the Firestore emulator fits docs/schemas: appointments made or moved by a
pull, links, notifications and e-mails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from google.cloud import firestore as firestore_lib

from shared.adapters.firestore.channel_index import FirestoreChannelIndex
from shared.adapters.firestore.directory import FirestoreDirectory
from shared.adapters.firestore.links import FirestoreLinks
from shared.adapters.firestore.notifier import FirestoreNotifier
from shared.adapters.firestore.repairs import FirestoreRepairs
from shared.adapters.firestore.sync_records import FirestoreSyncRecords
from shared.adapters.firestore.sync_status import FirestoreSyncStatus
from shared.domain.clinic import Appointment, AppointmentStatus, EventOrigin
from shared.domain.event_link import EventLink
from shared.domain.link import Channel, FullSyncProgress, LinkStatus
from shared.domain.repair import DeadLetter, LostWork
from tests import firestore_schemas as schemas
from tests.examples import PENDING_LINK, every_notice

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def read(db: firestore_lib.Client, path: str) -> dict[str, object]:
    snapshot = db.document(path).get()
    assert snapshot.exists, path
    return snapshot.to_dict() or {}


def test_appointments_a_pull_writes_fit_and_mark_only_declared_fields(
    firestore: firestore_lib.Client,
) -> None:
    directory = FirestoreDirectory(firestore)
    written_by_us = set(schemas.schema("appointment")["x-written-by-us"])
    # Made in Google: a new appointment without patient, with the event's title and origin.
    made = Appointment(
        "demo",
        "gcal-abc",
        "marina",
        "centro-b",
        START,
        START + timedelta(hours=1),
        title="Reunión",
        origin=EventOrigin("cal@group.calendar.google.com", "abc"),
    )
    directory.write_appointments([made], "link-1")
    document = read(firestore, "clinics/demo/appointments/gcal-abc")
    assert not schemas.errors("appointment", document)
    assert set(document) <= written_by_us
    assert {"title", "origin", "syncSource"} <= set(document)

    # Moved and then cancelled in Google: the clinic app's own fields are kept as they were.
    clinic_fields = {"patientName": "Ana López", "service": "Fisioterapia", "notes": "Traer informe"}
    firestore.document("clinics/demo/appointments/a1").set(
        {
            "professionalId": "marina",
            "centerId": "centro-b",
            "start": START,
            "end": START + timedelta(minutes=30),
            "status": "scheduled",
            **clinic_fields,
        }
    )
    moved = Appointment(
        "demo", "a1", "marina", "centro-b", START + timedelta(hours=2), START + timedelta(hours=3)
    )
    directory.write_appointments([moved], "link-1")
    directory.write_appointments(
        [
            Appointment(
                "demo", "a1", "marina", "centro-b", moved.start, moved.end, status=AppointmentStatus.CANCELLED
            )
        ],
        "link-1",
    )
    document = read(firestore, "clinics/demo/appointments/a1")
    assert not schemas.errors("appointment", document)
    assert {key: document[key] for key in clinic_fields} == clinic_fields
    assert document["status"] == "cancelled" and document["syncSource"]["linkId"] == "link-1"  # type: ignore[index]


def test_links_as_stored_fit(firestore: firestore_lib.Client) -> None:
    status = FirestoreSyncStatus(firestore)
    link = replace(PENDING_LINK, return_url="https://clinic.example/back", calendar_id="cal-1")
    FirestoreLinks(firestore).save(link)
    status.save_full_sync(link, FullSyncProgress("page-2", START, START + timedelta(days=365), 1), 0)
    health = {"code": "daily_quota_exceeded", "message": "Google answered 403", "at": START.isoformat()}
    status.save_health(link, {**health, "until": (START + timedelta(hours=1)).isoformat()})
    during = read(firestore, f"clinics/demo/syncLinks/{link.id}")
    assert not schemas.errors("sync-link", during)
    assert during["fullSync"]["pages"] == 1 and during["health"]["code"] == "daily_quota_exceeded"  # type: ignore[index]
    status.save_pull(link, "sync-token", START, conflicts=2)
    document = read(firestore, f"clinics/demo/syncLinks/{link.id}")
    assert not schemas.errors("sync-link", document)
    assert document["conflicts"] == 2 and "lastConflictAt" in document
    assert document["fullSync"] is None and document["health"] is None


def test_links_fit_after_every_partial_write_of_the_adapters(firestore: firestore_lib.Client) -> None:
    """The writes that update some fields of a link (not the whole document) leave a document that fits."""
    link = replace(PENDING_LINK, status=LinkStatus.ACTIVE, calendar_id="cal-1", activated_at=START)
    FirestoreLinks(firestore).save(link)
    error = {"code": "rateLimitExceeded", "message": "slow down", "at": START.isoformat()}
    FirestoreSyncStatus(firestore).save_error(link, error)
    FirestoreSyncStatus(firestore).save_pushed_privacy(link, "initials+notes")
    channels = FirestoreChannelIndex(firestore)
    channels.save_channel(replace(link, channel=Channel("ch-1", "res-1", START + timedelta(days=7))), None)
    channels.save_calendar_shown(link, "hidden")
    repairs = FirestoreRepairs(firestore)
    letter = DeadLetter(LostWork.PUSH, "a1", "backendError", 5, START)
    repairs.add_dead_letter(link, letter, {**error, "code": "dead_letter"})
    repairs.save_drift_check(link, "drift-token", START)
    FirestoreSyncStatus(firestore).save_health(
        link, {**error, "code": "daily_quota_exceeded", "until": START.isoformat()}
    )
    FirestoreSyncRecords(firestore).record_event_links(link, [EventLink("a1", "ev-1", '"1"', "hash")], START)

    document = read(firestore, f"clinics/demo/syncLinks/{link.id}")
    assert not schemas.errors("sync-link", document)
    assert document["pushedPrivacy"] == "initials+notes" and document["calendarShown"] == "hidden"
    assert document["channel"]["id"] == "ch-1" and document["channelExpiresAt"] is not None  # type: ignore[index]
    assert document["pendingFailures"] == 1 and document["lastError"]["code"] == "dead_letter"  # type: ignore[index]
    assert document["driftSyncToken"] == "drift-token" and document["driftCheckedAt"] is not None
    assert document["lastPushAt"] is not None and document["health"] is None
    # The dead letter holds what docs/firestore-contract.md says it does.
    letters = [
        s.to_dict() for s in firestore.collection(f"clinics/demo/syncLinks/{link.id}/deadLetters").stream()
    ]
    assert [set(d or {}) for d in letters] == [{"kind", "appointmentId", "code", "attempts", "at"}]
    assert repairs.remove_dead_letters(link, [letter.key]) == 1
    assert read(firestore, f"clinics/demo/syncLinks/{link.id}")["pendingFailures"] == 0


def test_notifications_and_emails_fit(firestore: firestore_lib.Client) -> None:
    notifier = FirestoreNotifier(firestore)
    for notice in every_notice():
        notifier.notify(notice)

    notifications = [n.to_dict() for n in firestore.collection("clinics/demo/notifications").stream()]
    mails = [m.to_dict() for m in firestore.collection("mail").stream()]
    assert len(notifications) == len(mails) == 3
    for document in notifications:
        assert not schemas.errors("notification", document)
    for document in mails:
        assert not schemas.errors("mail", document)
