"""Entry points for Google's push notifications and the scheduled upkeep of watch channels."""

from __future__ import annotations

import flask
import functions_framework

from functions.http import Reply, error, json_endpoint


@functions_framework.http
@json_endpoint("POST")
def calendar_webhook(request: flask.Request) -> Reply:
    """Google Calendar push notification for a watch channel (public, authenticated by the channel token)."""
    return error("not_implemented", "notifications are not handled yet", 501)


@functions_framework.http
@json_endpoint("POST")
def renew_channels(request: flask.Request) -> Reply:
    """Cloud Scheduler: replace watch channels that expire soon and restart missing ones."""
    return error("not_implemented", "channel renewal is not built yet", 501)


@functions_framework.http
@json_endpoint("POST")
def reconcile_links(request: flask.Request) -> Reply:
    """Cloud Scheduler: enqueue a pull of every active two-way link, catching dropped notifications."""
    return error("not_implemented", "reconciliation is not built yet", 501)
