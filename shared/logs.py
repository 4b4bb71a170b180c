"""Structured JSON logs that Cloud Logging understands, tied to the request's trace.

Cloud Functions forwards each line of stdout/stderr to Cloud Logging and parses it as a structured entry
when it is a JSON object: `severity` and `message` are recognised, `logging.googleapis.com/trace` and
`logging.googleapis.com/spanId` become the entry's trace and span (Logs Explorer then groups every line of
one request, and of the tasks it enqueued, under one trace), every other key lands in `jsonPayload`.

The trace of the request being served lives in a context variable: an entry point sets it (`traced`) from
the request's `X-Cloud-Trace-Context` or W3C `traceparent` header, or a CloudEvent's `traceparent`
extension, and every record logged meanwhile carries it. (With LOG_EXECUTION_ID, which the deployment sets,
functions-framework also adds the execution id to each line and rewrites spanId from the same header, as
the header's decimal number; the trace, which groups the lines, is ours alone.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
CLOUD_TRACE_HEADER = "X-Cloud-Trace-Context"
TRACEPARENT_HEADER = "traceparent"

# Values of the `event` field that infra/monitoring.tf counts (its log-based metrics filter on them).
EVENT_FIELD = "event"
EVENT_DEAD_LETTER = "dead_letter"
EVENT_LINK_NEEDS_RECONNECT = "link_needs_reconnect"

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS, the trace id 32 hex digits, the span id a decimal
# unsigned 64-bit number; the span and the options may be missing.
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=(\d))?$")
# W3C traceparent: VERSION-TRACE_ID-PARENT_ID-FLAGS, all lowercase hex.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32


@dataclass(frozen=True)
class Trace:
    """One request's trace: its id (32 hex digits) and, when known, the caller's span (16 hex digits, as
    Cloud Logging's spanId wants it)."""

    trace_id: str
    span_id: str | None = None
    sampled: bool = False

    def header(self) -> str:
        """This trace as an X-Cloud-Trace-Context value, to carry it on to the next request."""
        value = self.trace_id
        if self.span_id is not None:
            value += f"/{int(self.span_id, 16)}"
        return f"{value};o={int(self.sampled)}"


def parse_cloud_trace(value: str | None) -> Trace | None:
    """An `X-Cloud-Trace-Context` header, or None when absent or malformed."""
    match = _CLOUD_TRACE.match((value or "").strip())
    if match is None or match.group(1) == _ZERO_TRACE:
        return None
    trace_id, span, options = match.groups()
    span_id = None
    if span is not None and 0 < int(span) < 2**64:
        span_id = f"{int(span):016x}"
    return Trace(trace_id.lower(), span_id, options == "1")


def parse_traceparent(value: str | None) -> Trace | None:
    """A W3C `traceparent` (header or CloudEvent extension), or None when absent or malformed."""
    match = _TRACEPARENT.match((value or "").strip())
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or span_id == "0" * 16:
        return None
    return Trace(trace_id, span_id, bool(int(flags, 16) & 1))


class Headers(Protocol):
    """Request headers: a dict, or Flask's (case-insensitive) headers."""

    def get(self, key: str, /) -> str | None: ...


def trace_of(headers: Headers) -> Trace | None:
    """The trace of an HTTP request: Google's own header first (its front end sets it), then W3C's."""
    return parse_cloud_trace(headers.get(CLOUD_TRACE_HEADER)) or parse_traceparent(
        headers.get(TRACEPARENT_HEADER)
    )


_current: ContextVar[Trace | None] = ContextVar("trace", default=None)


@contextmanager
def traced(trace: Trace | None) -> Iterator[None]:
    """Log with `trace` while the block runs (one request); the previous trace is back afterwards."""
    token = _current.set(trace)
    try:
        yield
    finally:
        _current.reset(token)


def current_trace() -> Trace | None:
    return _current.get()


def trace_headers() -> dict[str, str]:
    """The header that carries the current trace to a request we send (a task), or nothing."""
    trace = _current.get()
    return {CLOUD_TRACE_HEADER: trace.header()} if trace is not None else {}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; extra= fields are kept as structured payload.

    `project` names the trace resource (`projects/{project}/traces/{traceId}`, the form Cloud Logging
    expects); without a project the trace fields are left out.
    """

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        trace = _current.get()
        if trace is not None and self.project:
            entry[TRACE_FIELD] = f"projects/{self.project}/traces/{trace.trace_id}"
            if trace.span_id is not None:
                entry[SPAN_FIELD] = trace.span_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO", project: str | None = None) -> None:
    """Send every log record to stdout as JSON (idempotent: a warm instance calls it once).

    The project defaults to GOOGLE_CLOUD_PROJECT, which the deployment sets on every function.
    """
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(project or os.environ.get("GOOGLE_CLOUD_PROJECT")))
    root.handlers = [handler]
    root.setLevel(level)
