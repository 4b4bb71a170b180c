"""What every HTTP entry point shares: reading a JSON request, and replying in the contract's shape.

Errors are `{"error": {"code", "message"}}` with a 4xx status; an unexpected exception is logged and
answered 500 without details (it is our bug, never the caller's input).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import flask
from cloudevents.http.event import CloudEvent
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, ValidationError

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
        raise InvalidRequest(f"{where}: {first['msg']}") from None


def json_body(request: flask.Request, model: type[M]) -> M:
    """The request's JSON body as `model`."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise DomainError("request body too large", code="payload_too_large", status=413)
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object")
    return parse(model, data)


def query_args(request: flask.Request, model: type[M]) -> M:
    """The request's query string as `model`."""
    return parse(model, request.args.to_dict())


def ok(payload: Any, status: int = 200) -> Reply:
    return flask.jsonify(payload), status


def error(code: str, message: str, status: int) -> Reply:
    return flask.jsonify({"error": {"code": code, "message": message}}), status


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
            if request.method not in methods:
                return error("method_not_allowed", f"use {' or '.join(methods)}", 405)
            # Every line logged for this request, and every task it enqueues, carries the caller's trace.
            with logs.traced(logs.trace_of(request.headers)):
                try:
                    return handler(request)
                except DomainError as exc:
                    log.info("request refused", extra={"code": exc.code, "function": handler.__name__})
                    return error(exc.code, exc.message, exc.status)
                except Exception:
                    log.exception("unexpected error", extra={"function": handler.__name__})
                    return error("internal", "unexpected error; it has been logged", 500)

        return entry

    return wrap
