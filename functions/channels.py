"""Entry points for Google's push notifications and the scheduled upkeep of watch channels."""

from __future__ import annotations

import logging

import flask
import functions_framework

from functions.http import Reply, error, json_endpoint, ok
from shared.bootstrap import services

log = logging.getLogger(__name__)


@functions_framework.http
@json_endpoint("POST")
def calendar_webhook(request: flask.Request) -> Reply:
    """Google Calendar push notification (public; authenticated by the channel's token). Never calls Google."""
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    state = request.headers.get("X-Goog-Resource-State", "")
    if not channel_id or not state or len(channel_id) > 64:
        return error("invalid_request", 400)
    token = request.headers.get("X-Goog-Channel-Token", "")
    outcome = services().channels.notification(channel_id, token, state)
    return ok({"result": outcome.value})


@functions_framework.http
@json_endpoint("POST")
def renew_channels(request: flask.Request) -> Reply:
    """Cloud Scheduler: replace watch channels that expire soon, start missing ones, finish activations."""
    report = services().channels.renew()
    activations = services().linking.retry_activations()
    privacy = services().push.privacy_upkeep()
    log.info(
        "upkeep",
        extra={
            "renewed": report.renewed,
            "started": report.started,
            "failed": report.failed,
            "activations": activations,
            "privacyBackfills": privacy,
        },
    )
    return ok(
        {
            "renewed": report.renewed,
            "started": report.started,
            "failed": report.failed,
            "activationsRetried": activations,
            "privacyBackfills": privacy,
        }
    )


@functions_framework.http
@json_endpoint("POST")
def reconcile_links(request: flask.Request) -> Reply:
    """Cloud Scheduler: queue a pull of every active two-way link, catching dropped notifications."""
    queued = services().channels.reconcile()
    return ok({"queued": queued})
