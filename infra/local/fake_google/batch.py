"""Batch requests: POST /batch/calendar/v3, multipart/mixed of `application/http` parts.

Each part holds one inner HTTP request (request line, headers, body) and a `Content-ID`; the answer is a
multipart/mixed whose parts carry `Content-ID: <response-ID>` and one inner HTTP response each. Inner
requests run through the same app (authentication, scopes, quotas, faults and counters apply to each as
to a separate call), in order. More than 1000 parts is a 400 for the whole batch. The inner bodies use
CRLF line ends: google-api-python-client splits headers from body on a blank CRLF line.
"""

from __future__ import annotations

import secrets
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from http import HTTPStatus

from flask import Blueprint, Response, current_app, request

from .errors import GoogleApiError, bad_request

bp = Blueprint("batch", __name__)

MAX_PARTS = 1000
# Hop-by-hop or framing headers that must not be copied from an inner request or response.
_SKIPPED_HEADERS = {"content-length", "host", "transfer-encoding", "connection", "mime-version"}


def _parts() -> list[Message]:
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/"):
        raise bad_request("Batch requests must be multipart/mixed.")
    envelope = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.get_data()
    parsed = message_from_bytes(envelope, policy=compat32)
    if not parsed.is_multipart():
        raise bad_request("Batch requests must be multipart/mixed.")
    payload = parsed.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _inner_request(part: Message) -> tuple[str, str, dict[str, str], bytes]:
    raw = part.get_payload(decode=False)
    text = raw if isinstance(raw, str) else ""
    request_line, _, rest = text.lstrip("\r\n").partition("\n")
    pieces = request_line.strip().split()
    if len(pieces) < 2:
        raise ValueError("malformed request line")
    method, target = pieces[0].upper(), pieces[1]
    inner = message_from_bytes(rest.encode("utf-8"), policy=compat32)
    headers = {k: v for k, v in inner.items() if k.lower() not in _SKIPPED_HEADERS}
    body = inner.get_payload(decode=False)
    body_bytes = body.encode("utf-8") if isinstance(body, str) else b""
    return method, target, headers, body_bytes


def _response_part(content_id: str, status: int, headers: list[tuple[str, str]], body: bytes) -> str:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _SKIPPED_HEADERS]
    lines.append(f"Content-Length: {len(body)}")
    inner = "\r\n".join(lines) + "\r\n\r\n" + body.decode("utf-8", "replace")
    return f"Content-Type: application/http\r\nContent-ID: {content_id}\r\n\r\n{inner}\r\n"


def _response_id(content_id: str | None, index: int) -> str:
    value = (content_id or f"<{index + 1}>").strip()
    if value.startswith("<") and value.endswith(">"):
        return f"<response-{value[1:-1]}>"
    return f"response-{value}"


@bp.post("/batch/calendar/v3")
@bp.post("/batch")
def batch() -> Response:
    parts = _parts()
    if not parts:
        raise bad_request("No requests in the batch.")
    if len(parts) > MAX_PARTS:
        raise bad_request(
            f"Too many requests in a batch: the limit is {MAX_PARTS}.", reason="batchSizeTooLarge"
        )
    client = current_app.test_client()
    boundary = "batch_" + secrets.token_hex(12)
    chunks: list[str] = []
    for index, part in enumerate(parts):
        response_id = _response_id(part.get("Content-ID"), index)
        try:
            method, target, headers, body = _inner_request(part)
        except ValueError:
            error = bad_request("Malformed inner request in the batch.")
            chunks.append(
                _response_part(
                    response_id,
                    error.code,
                    [("Content-Type", "application/json; charset=UTF-8")],
                    error.response().get_data(),
                )
            )
            continue
        inner = client.open(target, base_url=request.host_url, method=method, headers=headers, data=body)
        chunks.append(
            _response_part(response_id, inner.status_code, list(inner.headers.items()), inner.get_data())
        )
    text = "".join(f"--{boundary}\r\n{chunk}" for chunk in chunks) + f"--{boundary}--\r\n"
    return Response(text, status=200, content_type=f"multipart/mixed; boundary={boundary}")


@bp.errorhandler(GoogleApiError)
def _google_error(error: GoogleApiError) -> Response:
    return error.response()
