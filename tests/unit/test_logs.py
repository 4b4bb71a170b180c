"""Structured log records carry Cloud Logging's trace fields for the request being served, and only then."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared import logs

TRACE_ID = "105445aa7843bc8bf206b12000100000"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Records of the logger `t` as JSON lines, formatted for the project `proj-1`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter("proj-1"))
    logger = logging.getLogger("t")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_inside_a_request_carries_its_trace_and_span(lines: io.StringIO) -> None:
    trace = logs.trace_of({"X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1"})
    with logs.traced(trace):
        logging.getLogger("t").info("hello", extra={"linkId": "L1"})
    (entry,) = entries(lines)
    assert entry["logging.googleapis.com/trace"] == f"projects/proj-1/traces/{TRACE_ID}"
    # Cloud Logging's spanId is 16 hex digits; the header's span id is decimal.
    assert entry["logging.googleapis.com/spanId"] == "0000000000000001"
    assert (entry["severity"], entry["message"], entry["linkId"]) == ("INFO", "hello", "L1")


def test_outside_a_request_and_after_it_no_trace(lines: io.StringIO) -> None:
    logging.getLogger("t").info("before")
    with logs.traced(logs.parse_cloud_trace(TRACE_ID)):
        logging.getLogger("t").info("during")
    logging.getLogger("t").info("after")
    before, during, after = entries(lines)
    assert "logging.googleapis.com/trace" not in before and "logging.googleapis.com/trace" not in after
    assert during["logging.googleapis.com/trace"].endswith(TRACE_ID)
    assert "logging.googleapis.com/spanId" not in during  # the header named no span


def test_without_a_project_the_trace_is_left_out() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    with logs.traced(logs.parse_cloud_trace(TRACE_ID)):
        entry = json.loads(logs.JsonFormatter(None).format(record))
    assert "logging.googleapis.com/trace" not in entry


def test_concurrent_requests_keep_their_own_traces(lines: io.StringIO) -> None:
    """A function instance serves several requests at once, on threads: each logs its own trace."""
    barrier = threading.Barrier(2)

    def serve(trace_id: str) -> None:
        with logs.traced(logs.parse_cloud_trace(trace_id)):
            barrier.wait()
            logging.getLogger("t").info("work", extra={"mine": trace_id})

    threads = [threading.Thread(target=serve, args=(c * 32,)) for c in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = {e["mine"]: e["logging.googleapis.com/trace"] for e in entries(lines)}
    assert got == {t: f"projects/proj-1/traces/{t}" for t in ("a" * 32, "b" * 32)}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{TRACE_ID}/12345;o=1", logs.Trace(TRACE_ID, f"{12345:016x}", True)),
        (f"{TRACE_ID}/12345;o=0", logs.Trace(TRACE_ID, f"{12345:016x}", False)),
        (f"{TRACE_ID}/12345", logs.Trace(TRACE_ID, f"{12345:016x}", False)),
        (TRACE_ID.upper(), logs.Trace(TRACE_ID, None, False)),
        (f"{TRACE_ID}/0;o=1", logs.Trace(TRACE_ID, None, True)),  # span 0 is no span
        ("0" * 32 + "/1;o=1", None),
        ("not-a-trace", None),
        (f"{TRACE_ID}x/1;o=1", None),
        ("", None),
        (None, None),
    ],
)
def test_cloud_trace_header(header: str | None, expected: logs.Trace | None) -> None:
    assert logs.parse_cloud_trace(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"00-{TRACE_ID}-00f067aa0ba902b7-01", logs.Trace(TRACE_ID, "00f067aa0ba902b7", True)),
        (f"00-{TRACE_ID}-00f067aa0ba902b7-00", logs.Trace(TRACE_ID, "00f067aa0ba902b7", False)),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),
        (f"00-{TRACE_ID}-{'0' * 16}-01", None),
        (f"ff-{TRACE_ID}-00f067aa0ba902b7-01", None),
        (f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_traceparent(header: str | None, expected: logs.Trace | None) -> None:
    assert logs.parse_traceparent(header) == expected


def test_google_header_wins_over_traceparent() -> None:
    both = {
        "X-Cloud-Trace-Context": f"{'a' * 32}/1;o=1",
        "traceparent": f"00-{'b' * 32}-00f067aa0ba902b7-01",
    }
    assert logs.trace_of(both) == logs.Trace("a" * 32, "0000000000000001", True)
    assert logs.trace_of({"traceparent": both["traceparent"]}) == logs.Trace(
        "b" * 32, "00f067aa0ba902b7", True
    )
    assert logs.trace_of({}) is None


def test_the_trace_travels_on_as_a_cloud_trace_header() -> None:
    assert logs.trace_headers() == {}
    with logs.traced(logs.parse_traceparent(f"00-{TRACE_ID}-00f067aa0ba902b7-01")):
        (value,) = logs.trace_headers().values()
        # What we send parses back to the same trace and span.
        assert logs.parse_cloud_trace(value) == logs.Trace(TRACE_ID, "00f067aa0ba902b7", True)
    assert logs.trace_headers() == {}
