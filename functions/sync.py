"""Entry points that move appointments: the Firestore trigger and the two Cloud Tasks workers."""

from __future__ import annotations

import logging

import flask
import functions_framework
from cloudevents.http.event import CloudEvent
from pydantic import Field

from functions.http import (
    ANY_DOCUMENT_ID,
    DOCUMENT_ID,
    Reply,
    Request,
    error,
    json_body,
    json_endpoint,
    ok,
    traced_event,
)
from shared import logs
from shared.bootstrap import services
from shared.domain.repair import is_last_attempt
from shared.services import tasks
from shared.services.pull import PullReport
from shared.services.push import PushReport
from shared.services.tasks import RetryLater

log = logging.getLogger(__name__)

# A worker's `skipped` when Google refused the work for quota and a new task will carry it a minute later.
DEFERRED = "deferred: Google quota"

# Cloud Tasks' header on every attempt: how many times the task was tried before this one.
RETRY_COUNT_HEADER = "X-CloudTasks-TaskRetryCount"

Id = Field(min_length=1, max_length=128, pattern=DOCUMENT_ID)


@functions_framework.cloud_event
@traced_event
def on_appointment_written(event: CloudEvent) -> None:
    """Eventarc: a document under clinics/{clinicId}/appointments/{apptId} was created, changed or deleted."""
    # Imported here: decoding pulls in Firestore's protobuf types (~0.15 s), which only this function needs;
    # every function's instance imports this module at its cold start.
    from shared.adapters.document_events import appointment_change, decode_document_event

    try:
        document = decode_document_event(event.data)
    except ValueError:
        # Not a Firestore document event: retrying cannot help, so acknowledge it (logged, no crash loop).
        log.error("undecodable document event", extra={"eventId": event["id"], "type": event["type"]})
        return
    change = appointment_change(document)
    if change is None:
        log.warning("ignored a write outside clinics/*/appointments", extra={"document": document.path})
        return
    enqueued = services().push.fan_out(change)
    log.info("appointment written", extra={"document": document.path, "tasks": enqueued})


def _retry(work: tasks.Work, exc: RetryLater, request: flask.Request, queue: str) -> Reply | None:
    """A worker's answer when Google is busy: None when a new task carries the work past a quota's window
    (the worker reports it done for now), a dead letter on the queue's last attempt, else 503 so that Cloud
    Tasks retries with backoff."""
    if services().tasks.defer(work, exc):
        return None
    if (lost := _dead_letter(work, "retry_later", request, queue)) is not None:
        return lost
    log.info("task to be retried", extra={"linkId": work.link_id, "cause": str(exc)})
    return error("retry_later", 503)


def _retry_count(request: flask.Request) -> int | None:
    """How often Cloud Tasks already tried this task (X-CloudTasks-TaskRetryCount, 0 the first time)."""
    value = request.headers.get(RETRY_COUNT_HEADER, "")
    return int(value) if value.isdigit() else None


def _dead_letter(work: tasks.Work, code: str, request: flask.Request, queue: str) -> Reply | None:
    """On the queue's last attempt: keep what is lost on the link, log it for the alert, and answer 200 (Cloud
    Tasks drops the task either way; a 200 says it was handled). None on any earlier attempt."""
    settings = services().settings
    retries = _retry_count(request)
    if not is_last_attempt(retries, settings.max_attempts(queue)):
        return None
    attempts = (retries or 0) + 1
    letter = services().repair.dead_letter(work, code, attempts)
    log.error(
        "dead letter",
        extra={
            logs.EVENT_FIELD: logs.EVENT_DEAD_LETTER,
            "queue": queue,
            "linkId": work.link_id,
            "clinicId": work.clinic_id,
            "kind": letter.kind.value if letter else None,
            "code": code,
            "attempts": attempts,
        },
    )
    return ok({"deadLetter": True, "attempts": attempts})


class PushTask(Request):
    clinicId: str = Id
    linkId: str = Id
    # Appointment ids come from the document paths of the clinic app, which may use any character but "/".
    appointmentId: str | None = Field(default=None, min_length=1, max_length=128, pattern=ANY_DOCUMENT_ID)
    backfill: bool = False
    # How often this work was already put off because Google refused it for quota.
    deferrals: int = Field(default=0, ge=0, le=1000)


@functions_framework.http
@json_endpoint("POST")
def push_worker(request: flask.Request) -> Reply:
    """Cloud Tasks: bring one appointment's event (or, on activation, the whole agenda) up to date.

    2xx means done, failed for good (recorded on the link), put off to a new task because Google refused it
    for quota, or lost on the queue's last attempt (a dead letter, healed by the drift check); 503 asks Cloud
    Tasks to retry with backoff.
    """
    try:
        work = tasks.push_work(json_body(request, PushTask).model_dump())
    except ValueError:
        return error("invalid_request", 400, field="appointmentId")
    queue = services().settings.push_queue
    try:
        report = services().push.run(work)
    except RetryLater as exc:
        if (busy := _retry(work, exc, request, queue)) is not None:
            return busy
        report = PushReport(skipped=DEFERRED)
    except Exception:
        if (lost := _dead_letter(work, "internal", request, queue)) is None:
            raise
        log.exception("push failed on its last attempt", extra={"linkId": work.link_id})
        return lost
    return ok(
        {
            "done": report.done,
            "unchanged": report.unchanged,
            "failed": report.failed,
            "skipped": report.skipped,
        }
    )


class PullTask(Request):
    clinicId: str = Id
    linkId: str = Id
    # Google's page token a full sync goes on from (opaque to us).
    pageToken: str | None = Field(None, min_length=1, max_length=4096)
    full: bool = False


@functions_framework.http
@json_endpoint("POST")
def pull_worker(request: flask.Request) -> Reply:
    """Cloud Tasks: apply what changed in one two-way link's Google calendar to the clinic.

    2xx means done, skipped, put off to a new task because Google refused it for quota, or lost on the
    queue's last attempt (a dead letter); 503 asks Cloud Tasks to retry with backoff.
    """
    work = tasks.pull_work(json_body(request, PullTask).model_dump())
    queue = services().settings.pull_queue
    try:
        report = services().pull.run(work)
    except RetryLater as exc:
        if (busy := _retry(work, exc, request, queue)) is not None:
            return busy
        report = PullReport(skipped=DEFERRED)
    except Exception:
        if (lost := _dead_letter(work, "internal", request, queue)) is None:
            raise
        log.exception("pull failed on its last attempt", extra={"linkId": work.link_id})
        return lost
    return ok(
        {
            "events": report.events,
            "applied": report.applied,
            "pushedBack": report.pushed_back,
            "conflicts": report.conflicts,
            "skipped": report.skipped,
            "continued": report.continued,
        }
    )
