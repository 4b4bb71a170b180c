"""Entry points called by the clinic app to link an agenda to Google, and by Google's OAuth redirect."""

from __future__ import annotations

import html
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import flask
import functions_framework
from pydantic import Field, HttpUrl

from functions.http import DOCUMENT_ID, Reply, Request, json_body, json_endpoint, language, ok, query_args
from functions.messages import page_text, reason_text
from functions.views import link_view
from shared.bootstrap import services
from shared.domain.errors import DomainError, InvalidRequest
from shared.services.linking import CallbackRefused

Id = Field(min_length=1, max_length=128, pattern=DOCUMENT_ID)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


class StartRequest(Request):
    clinicId: str = Id
    centerId: str = Id
    userId: str = Id
    professionalId: str | None = Field(default=None, min_length=1, max_length=128, pattern=DOCUMENT_ID)
    bidirectional: bool = False
    returnUrl: HttpUrl | None = None
    # A new consent for the user's own link that needs reconnecting (no new link, no new approval).
    linkId: str | None = Field(default=None, min_length=1, max_length=128, pattern=DOCUMENT_ID)


class CallbackQuery(Request):
    model_config = Request.model_config | {"extra": "ignore"}  # Google adds scope, authuser, prompt, ...
    state: str = Field(min_length=1, max_length=256, pattern=DOCUMENT_ID)
    code: str | None = Field(default=None, max_length=2048)
    error: str | None = Field(default=None, max_length=256)


class CompleteRequest(Request):
    clinicId: str = Id
    userId: str = Id
    linkId: str = Id
    code: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")  # token_urlsafe's alphabet


class DecisionRequest(Request):
    clinicId: str = Id
    centerId: str = Id
    userId: str = Id
    linkId: str = Id
    decision: Literal["approve", "reject"]


class DisableRequest(Request):
    clinicId: str = Id
    userId: str = Id
    linkId: str = Id


class ListQuery(Request):
    clinicId: str = Id
    userId: str = Id


@functions_framework.http
@json_endpoint("POST")
def oauth_start(request: flask.Request) -> Reply:
    """Begin linking a professional's agenda: create the link and answer Google's consent URL."""
    body = json_body(request, StartRequest)
    link, url = services().linking.start(
        body.clinicId,
        body.centerId,
        body.userId,
        body.professionalId,
        body.bidirectional,
        allowed_return_url(body.returnUrl, services().settings.return_url_hosts) if body.returnUrl else None,
        reconnect=body.linkId,
    )
    return ok({"linkId": link.id, "authorizationUrl": url})


def allowed_return_url(url: HttpUrl, hosts: tuple[str, ...]) -> str:
    """`url` when the user may be sent back there: a configured host (RETURN_URL_HOSTS), over https.

    oauth_callback redirects the user's browser to it with the outcome: any other host would make us an
    open redirect. Plain http is allowed only to a loopback host, which is the user's own machine.
    """
    host = (url.host or "").lower()
    if url.scheme != "https" and not (url.scheme == "http" and host in LOOPBACK):
        raise InvalidRequest("returnUrl must use https", code="return_url_not_allowed")
    if host not in hosts:
        raise InvalidRequest(f"returnUrl host {host} is not allowed", code="return_url_not_allowed")
    return str(url)


@functions_framework.http
@json_endpoint("GET")
def oauth_callback(request: flask.Request) -> Reply:
    """Google's OAuth redirect: hold the consent and send the person back to the clinic app with a
    one-time code, which the app redeems with complete_link from the user's own session.

    A browser lands here, so every answer is for a person: a redirect to the clinic app's `returnUrl`
    when the link names one (`linkId`, `status=consented`, `code`; or `status=failed&reason=...`), else a
    page in Spanish (English if the browser prefers it) showing the code to enter in the clinic app. A
    refused redirect (state expired or used, link no longer pending, malformed query) goes back with
    `status=error&reason=<code>`, or gets a page with that code, answered with its 4xx status.
    """
    try:
        query = query_args(request, CallbackQuery)
        result = services().linking.complete(query.state, query.code, query.error)
    except CallbackRefused as refusal:
        return _refused(refusal.code, refusal.status, refusal.return_url)
    except DomainError as refusal:
        return _refused(refusal.code, refusal.status, None)
    outcome = {"linkId": result.link.id, "status": "failed"}
    if result.code:
        outcome |= {"status": "consented", "code": result.code}
    if result.reason:
        outcome["reason"] = result.reason
    if result.link.return_url:
        return flask.redirect(_with_query(result.link.return_url, outcome), code=302)
    return _page(outcome, 200)


@functions_framework.http
@json_endpoint("POST")
def complete_link(request: flask.Request) -> Reply:
    """The clinic app redeems oauth_callback's one-time code for the user who started the link: only then
    is the link claimed, put to the masters or activated. A refused link answers its `reason`."""
    body = json_body(request, CompleteRequest)
    result = services().linking.redeem(body.clinicId, body.userId, body.linkId, body.code)
    answer: dict[str, object] = {"link": link_view(result.link)}
    if result.reason:
        answer["reason"] = result.reason
    return ok(answer)


@functions_framework.http
@json_endpoint("POST")
def approve_link(request: flask.Request) -> Reply:
    """The master approves or rejects a pending link, from the centre where it was requested."""
    body = json_body(request, DecisionRequest)
    link = services().linking.decide(
        body.clinicId, body.centerId, body.userId, body.linkId, approve=body.decision == "approve"
    )
    return ok({"link": link_view(link)})


@functions_framework.http
@json_endpoint("POST")
def disable_link(request: flask.Request) -> Reply:
    """The owner or a master disables a link; the Google calendar and its events stay."""
    body = json_body(request, DisableRequest)
    return ok({"link": link_view(services().linking.disable(body.clinicId, body.userId, body.linkId))})


@functions_framework.http
@json_endpoint("GET")
def list_links(request: flask.Request) -> Reply:
    """A user's own links, or every link of the clinic for a master."""
    query = query_args(request, ListQuery)
    links = services().linking.visible_links(query.clinicId, query.userId)
    return ok({"links": [link_view(link) for link in links]})


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))


def _refused(code: str, status: int, return_url: str | None) -> Reply:
    outcome = {"status": "error", "reason": code}
    if return_url:
        return flask.redirect(_with_query(return_url, outcome), code=302)
    return _page(outcome, status)


def _page(outcome: dict[str, str], status: int) -> Reply:
    """The page a person sees after Google's consent when the clinic app gave no `returnUrl`."""
    lang = language()
    reason = outcome.get("reason")
    explained = (
        f'<p id="reason" data-reason="{html.escape(reason)}">{html.escape(page_text("reason", lang))}: '
        f"{html.escape(reason_text(reason, lang))}</p>"
        if reason
        else ""
    )
    # The one-time code, for the person to enter in the clinic app (no returnUrl took it there).
    code = (
        f'<p><code id="code" data-link-id="{html.escape(outcome["linkId"])}">{html.escape(outcome["code"])}'
        "</code></p>"
        if outcome.get("code")
        else ""
    )
    page = (
        f'<!doctype html><html lang="{lang}"><meta charset="utf-8">'
        f"<title>{html.escape(page_text('title', lang))}</title>"
        f'<h1>{html.escape(page_text("title", lang))}</h1><p id="status" data-status="{html.escape(outcome["status"])}">'
        f"{html.escape(page_text(outcome['status'], lang))}</p>{explained}{code}"
        f"<p>{html.escape(page_text('close', lang))}</p></html>"
    )
    response = flask.Response(page, status=status, mimetype="text/html")
    response.headers["Content-Language"] = lang
    return response
