"""What every HTTP entry point shares: reading a JSON request, and replying in the contract's shape.

Errors are `{"error": {"code", "message"}}` with a 4xx status: the code is the English contract, the
message comes from functions/messages.py in the caller's language (Spanish unless `Accept-Language`
prefers English). An unexpected exception is logged and answered 500 without details (it is our bug, never
the caller's input); a 503 says when to try again (`Retry-After`).
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
from collections.abc import Callable
from typing import IO, Any, TypeVar

import flask
from cloudevents.http.event import CloudEvent
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, ValidationError

from functions.messages import DEFAULT_LANGUAGE, Language, choose_language, error_message
from shared import logs
from shared.domain.errors import DomainError, InvalidRequest

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# Ids the clinic app gives us become Firestore document ids: none may be ".", ".." or a reserved "__*__".
# Compiled, so that pydantic checks it with Python's `re` (its default engine has no look-ahead).
DOCUMENT_ID = re.compile(r"^(?!\.\.?$)(?!__.*__$)[A-Za-z0-9_.:-]+$")
ANY_DOCUMENT_ID = re.compile(r"^(?!\.\.?$)(?!__.*__$)[^/]+$")
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=CloudEvent)
Reply = ResponseReturnValue
# Seconds a 503's `Retry-After` asks a caller to wait before trying again. The task queues keep their own
# backoff (infra/tasks.tf); the header tells any other caller, and whoever reads the logs, when to retry.
RETRY_AFTER_SECONDS = 30


class FieldError(InvalidRequest):
    """A request field that failed validation: the message for people names the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


class Request(BaseModel):
    """Base of every request model: unknown fields and JSON of the wrong type (`0` for `false`) are refused,
    so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def parse(model: type[M], data: Any) -> M:
    """Validate `data` into `model`, or raise InvalidRequest naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise FieldError(where, first["msg"]) from None


def json_body(request: flask.Request, model: type[M]) -> M:
    """The request's JSON body as `model`; 413 past MAX_BODY_BYTES, however the body is sent."""
    try:
        data = json.loads(capped_body(request))  # detects UTF-8, -16 and -32 as RFC 8259 allows
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object")
    return parse(model, data)


def capped_body(request: flask.Request) -> bytes:
    """The request's body, read no further than MAX_BODY_BYTES + 1 whatever Content-Length says; 413 past it.

    A chunked body declares no length: it is never read past the cap. functions-framework reads the whole
    request after the function answers (read_request), which would take an endless chunked body into
    memory: it is handed what was read instead. What is left unread is the HTTP server's to discard
    (gunicorn drains a bounded amount, or closes the connection).
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        request.stream = io.BytesIO()
        raise too_large()
    raw = _read_at_most(request.stream, MAX_BODY_BYTES + 1)
    request.stream = io.BytesIO(raw)
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    return raw


def too_large() -> DomainError:
    return DomainError("request body too large", code="payload_too_large", status=413)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """Up to `limit` bytes of `stream`: a read may return fewer bytes than asked before the end."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def query_args(request: flask.Request, model: type[M]) -> M:
    """The request's query string as `model`."""
    return parse(model, request.args.to_dict())


def ok(payload: Any, status: int = 200) -> Reply:
    return flask.jsonify(payload), status


def language() -> Language:
    """The language the caller reads: Spanish unless its `Accept-Language` prefers English."""
    if not flask.has_request_context():
        return DEFAULT_LANGUAGE
    return choose_language(flask.request.headers.get("Accept-Language"))


def error(code: str, status: int, field: str | None = None) -> Reply:
    """The contract's error reply: the code, and the catalogue's message for it in the caller's language."""
    lang = language()
    body = flask.jsonify({"error": {"code": code, "message": error_message(code, lang, field)}})
    body.headers["Content-Language"] = lang
    if status == 503:
        body.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return body, status


def traced_event(handler: Callable[[E], None]) -> Callable[[E], None]:
    """A CloudEvent entry point logs with the event's trace: its `traceparent` extension, when present."""

    @functools.wraps(handler)
    def entry(event: E) -> None:
        with logs.traced(logs.parse_traceparent(event.get(logs.TRACEPARENT_HEADER))):
            handler(event)

    return entry


def json_endpoint(
    *methods: str,
) -> Callable[[Callable[[flask.Request], Reply]], Callable[[flask.Request], Reply]]:
    """Guard an HTTP entry point: allowed methods, domain errors as 4xx, bugs as a logged 500."""

    def wrap(handler: Callable[[flask.Request], Reply]) -> Callable[[flask.Request], Reply]:
        @functools.wraps(handler)
        def entry(request: flask.Request) -> Reply:
            # Every line logged for this request, and every task it enqueues, carries the caller's trace.
            with logs.traced(logs.trace_of(request.headers)):
                try:
                    # Every function, whether it reads a body or not: none is ever read unbounded.
                    capped_body(request)
                    if request.method not in methods:
                        return error("method_not_allowed", 405)
                    return handler(request)
                except DomainError as exc:
                    log.info("request refused", extra={"code": exc.code, "function": handler.__name__})
                    return error(exc.code, exc.status, getattr(exc, "field", None))
                except Exception:
                    log.exception("unexpected error", extra={"function": handler.__name__})
                    return error("internal", 500)

        return entry

    return wrap
