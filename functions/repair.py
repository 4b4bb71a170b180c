"""Entry points that bring back what was lost: the scheduled drift check and a link's resync."""

from __future__ import annotations

import flask
import functions_framework

from functions.http import Reply, json_body, json_endpoint, ok
from functions.linking import DisableRequest
from functions.views import link_view
from shared.bootstrap import services


@functions_framework.http
@json_endpoint("POST")
def drift_check(request: flask.Request) -> Reply:
    """Cloud Scheduler: compare every active link's calendar with the clinic and queue the repairs."""
    report = services().repair.drift_check()
    return ok(
        {
            "links": report.links,
            "repaired": report.repaired,
            "backfills": report.backfills,
            "pulls": report.pulls,
            "skipped": report.skipped,
        }
    )


@functions_framework.http
@json_endpoint("POST")
def resync_link(request: flask.Request) -> Reply:
    """The owner or a master asks for the whole agenda again (and, two-way, the whole calendar): 202."""
    body = json_body(request, DisableRequest)  # the same three ids name the link and who asks
    link, queued = services().repair.resync(body.clinicId, body.userId, body.linkId)
    return ok({"link": link_view(link), "queued": queued}, 202)
