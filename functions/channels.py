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
    """Cloud Scheduler: replace watch channels that expire soon, start missing ones, finish activations,
    rewrite events whose clinic changed its privacy choices."""
    done = services().upkeep.run()
    figures = {
        "renewed": done.channels.renewed,
        "started": done.channels.started,
        "failed": done.channels.failed,
        "activationsRetried": done.activations,
        "privacyBackfills": done.privacy_backfills,
    }
    log.info("upkeep", extra=figures)
    return ok(figures)


@functions_framework.http
@json_endpoint("POST")
def reconcile_links(request: flask.Request) -> Reply:
    """Cloud Scheduler: queue a pull of every active two-way link, catching dropped notifications."""
    queued = services().channels.reconcile()
    return ok({"queued": queued})
