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
from shared.bootstrap import services
from shared.services.pull import PullReport
from shared.services.push import AppointmentWrite, PushReport, RetryLater

log = logging.getLogger(__name__)

# A worker's `skipped` when Google refused the work for quota and a new task will carry it a minute later.
DEFERRED = "deferred: Google quota"

Id = Field(min_length=1, max_length=128, pattern=DOCUMENT_ID)


@functions_framework.cloud_event
@traced_event
def on_appointment_written(event: CloudEvent) -> None:
    """Eventarc: a document under clinics/{clinicId}/appointments/{apptId} was created, changed or deleted."""
    # Imported here: decoding pulls in Firestore's protobuf types (~0.15 s), which only this function needs;
    # every function's instance imports this module at its cold start.
    from shared.adapters.document_events import decode_document_event

    try:
        change = decode_document_event(event.data)
    except ValueError:
        # Not a Firestore document event: retrying cannot help, so acknowledge it (logged, no crash loop).
        log.error("undecodable document event", extra={"eventId": event["id"], "type": event["type"]})
        return
    parts = change.path.split("/")
    if len(parts) != 4 or parts[0] != "clinics" or parts[2] != "appointments":
        log.warning("ignored a write outside clinics/*/appointments", extra={"document": change.path})
        return
    write = AppointmentWrite(parts[1], parts[3], change.old, change.new, change.update_time)
    enqueued = services().push.fan_out(write)
    log.info("appointment written", extra={"document": change.path, "tasks": enqueued})


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

    2xx means done, failed for good (recorded on the link), or put off to a new task because Google refused
    it for quota; 503 asks Cloud Tasks to retry with backoff.
    """
    task = json_body(request, PushTask)
    push = services().push
    try:
        if task.backfill:
            report = push.backfill(task.clinicId, task.linkId)
        elif task.appointmentId:
            report = push.push(task.clinicId, task.linkId, [task.appointmentId])
        else:
            return error("invalid_request", "appointmentId or backfill is required", 400)
    except RetryLater as exc:
        appointment = None if task.backfill else task.appointmentId
        if not (exc.quota and push.defer(task.clinicId, task.linkId, appointment, task.deferrals)):
            log.info("push deferred", extra={"linkId": task.linkId, "cause": str(exc)})
            return error("retry_later", "Google is busy; the task will be retried", 503)
        # Done for now: a new task carries the work past the quota's minute.
        report = PushReport(skipped=DEFERRED)
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


@functions_framework.http
@json_endpoint("POST")
def pull_worker(request: flask.Request) -> Reply:
    """Cloud Tasks: apply what changed in one two-way link's Google calendar to the clinic.

    2xx means done, skipped, or put off to a new task because Google refused it for quota; 503 asks Cloud
    Tasks to retry with backoff.
    """
    task = json_body(request, PullTask)
    try:
        report = services().pull.pull(task.clinicId, task.linkId)
    except RetryLater as exc:
        if not exc.quota:
            log.info("pull deferred", extra={"linkId": task.linkId, "cause": str(exc)})
            return error("retry_later", "Google is busy; the task will be retried", 503)
        services().channels.defer_pull(task.clinicId, task.linkId)
        report = PullReport(skipped=DEFERRED)
    return ok(
        {
            "events": report.events,
            "applied": report.applied,
            "pushedBack": report.pushed_back,
            "conflicts": report.conflicts,
            "skipped": report.skipped,
        }
    )
