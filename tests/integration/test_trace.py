"""One change followed from trigger to push: the entry points log the caller's trace in Cloud Logging's
trace field, and the tasks they enqueue (through the Cloud Tasks emulator) carry it to the workers."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.local.bridge import build_event
from infra.local.environment import PROJECT_ID, TASKS_LOCATION
from shared import logs
from tests.integration.functions_app import Deployed, assert_error
from tests.integration.test_entry_points import appointment

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_FIELD = "logging.googleapis.com/trace"


@pytest.fixture
def log_lines(functions: Deployed, monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the functions write to stdout, as `logs.configure()` sets it up on a cold start."""
    stream = io.StringIO()
    logging.getLogger().handlers = []
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", stream)
        logs.configure()  # the project comes from GOOGLE_CLOUD_PROJECT, as deployed
    yield stream  # `functions` gives pytest its handlers back afterwards


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    "header",
    [
        {"X-Cloud-Trace-Context": f"{TRACE_ID}/12345;o=1"},
        {"traceparent": f"00-{TRACE_ID}-0000000000003039-01"},
    ],
)
def test_an_http_request_logs_its_trace(
    functions: Deployed, log_lines: io.StringIO, header: dict[str, str]
) -> None:
    body = {"clinicId": "demo", "centerId": "centro-b", "userId": "nobody", "bidirectional": True}
    assert_error(functions.post("oauth_start", body, headers=header), 404)

    [refused] = [e for e in entries(log_lines) if e["message"] == "request refused"]
    assert refused[TRACE_FIELD] == f"projects/{PROJECT_ID}/traces/{TRACE_ID}"
    assert refused["logging.googleapis.com/spanId"] == "0000000000003039"  # 12345


def test_a_request_without_a_trace_logs_none(functions: Deployed, log_lines: io.StringIO) -> None:
    body = {"clinicId": "demo", "centerId": "centro-b", "userId": "nobody", "bidirectional": True}
    assert_error(functions.post("oauth_start", body), 404)
    assert [e for e in entries(log_lines) if TRACE_FIELD in e] == []


def test_the_tasks_a_request_enqueues_carry_its_trace(functions: Deployed) -> None:
    link = functions.active_link()
    functions.receiver.clear()

    response = functions.post("reconcile_links", headers={"X-Cloud-Trace-Context": f"{TRACE_ID}/7;o=1"})

    assert response.status_code == 200
    delivery = functions.receiver.wait_for("/pull_worker", {"clinicId": "demo", "linkId": link["id"]})
    carried = logs.parse_cloud_trace(delivery.headers.get("x-cloud-trace-context"))
    assert carried is not None and carried.trace_id == TRACE_ID


def test_a_cloudevent_logs_and_passes_on_its_traceparent(functions: Deployed, log_lines: io.StringIO) -> None:
    link = functions.active_link()
    functions.receiver.clear()
    written = appointment(functions, "t1")
    event = build_event(written.reference.path, None, written, PROJECT_ID, TASKS_LOCATION, datetime.now(UTC))
    headers = {**event.headers, "ce-traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}

    response = functions.client("on_appointment_written").post("/", headers=headers, data=event.body)

    assert response.status_code == 200, response.get_data(as_text=True)
    [written_line] = [e for e in entries(log_lines) if e["message"] == "appointment written"]
    assert written_line[TRACE_FIELD] == f"projects/{PROJECT_ID}/traces/{TRACE_ID}"
    delivery = functions.receiver.wait_for(
        "/push_worker", {"clinicId": "demo", "linkId": link["id"], "appointmentId": "t1"}
    )
    carried = logs.parse_cloud_trace(delivery.headers.get("x-cloud-trace-context"))
    assert carried is not None and carried.trace_id == TRACE_ID
