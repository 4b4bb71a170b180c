"""The trigger bridge: appointment writes in the emulator reach a function as Eventarc's CloudEvent."""

from __future__ import annotations

import queue
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import functions_framework
import pytest
from cloudevents.http.event import CloudEvent
from google.cloud import firestore as firestore_lib
from werkzeug.serving import make_server

from infra.local.bridge import DATA_SCHEMA, EVENT_TYPE, AppointmentBridge
from infra.local.environment import HOST, PROJECT_ID
from shared.adapters.document_events import DocumentChange, decode_document_event

# The function the bridge delivers to: functions-framework loads it from a file, as it loads main.py.
RECEIVER_SOURCE = textwrap.dedent(
    """
    import queue

    import functions_framework

    received = queue.Queue()
    failures_left = [0]


    @functions_framework.cloud_event
    def on_appointment_written(event):
        if failures_left[0] > 0:
            failures_left[0] -= 1
            raise RuntimeError("failing on purpose")
        received.put(event)
    """
)


class ReceivingFunction:
    """A functions-framework CloudEvent function served on a free port; it queues what it receives."""

    def __init__(self, directory: Path) -> None:
        source = directory / "bridge_receiver.py"
        source.write_text(RECEIVER_SOURCE)
        app = functions_framework.create_app("on_appointment_written", str(source), "cloudevent")
        self.module: ModuleType = sys.modules["bridge_receiver"]
        self.server = make_server(HOST, 0, app, threaded=True)
        self.url = f"http://{HOST}:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail_next(self, count: int) -> None:
        self.module.failures_left[0] = count

    def next_event(self, timeout: float = 15.0) -> CloudEvent:
        event: CloudEvent = self.module.received.get(timeout=timeout)
        return event

    def next_change(self, timeout: float = 15.0) -> DocumentChange:
        return decode_document_event(self.next_event(timeout).data)

    def nothing_more(self, wait: float = 1.0) -> bool:
        try:
            self.module.received.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        sys.modules.pop("bridge_receiver", None)


@pytest.fixture
def function(tmp_path: Path) -> Iterator[ReceivingFunction]:
    receiver = ReceivingFunction(tmp_path)
    yield receiver
    receiver.close()


@pytest.fixture
def bridge(firestore: firestore_lib.Client, function: ReceivingFunction) -> Iterator[AppointmentBridge]:
    # Present before the bridge starts: the baseline, never delivered.
    firestore.document("clinics/demo/appointments/before").set({"status": "scheduled"})
    running = AppointmentBridge(firestore, function.url, first_backoff=0.05)
    running.start()
    yield running
    running.stop()


START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
APPOINTMENT = {
    "professionalId": "marina",
    "centerId": "centro-a",
    "start": START,
    "end": START.replace(hour=10),
    "status": "scheduled",
    "service": "Fisioterapia",
}


def test_create_update_delete_arrive_in_order_with_old_and_new_values(
    firestore: firestore_lib.Client, bridge: AppointmentBridge, function: ReceivingFunction
) -> None:
    ref = firestore.document("clinics/demo/appointments/a1")

    ref.set(APPOINTMENT)
    created = function.next_change()
    ref.update({"status": "cancelled"})
    updated = function.next_change()
    ref.delete()
    deleted = function.next_change()

    assert created.kind == "created"
    assert created.path == "clinics/demo/appointments/a1"
    assert created.old is None
    assert created.new == APPOINTMENT
    assert updated.kind == "updated"
    assert updated.old == APPOINTMENT
    assert updated.new == {**APPOINTMENT, "status": "cancelled"}
    assert updated.update_mask == ("status",)
    assert deleted.kind == "deleted"
    assert deleted.old == {**APPOINTMENT, "status": "cancelled"}
    assert deleted.new is None
    assert function.nothing_more()


def test_the_event_carries_eventarc_attributes(
    firestore: firestore_lib.Client, bridge: AppointmentBridge, function: ReceivingFunction
) -> None:
    firestore.document("clinics/demo/appointments/a2").set(APPOINTMENT)

    event = function.next_event()

    assert event["specversion"] == "1.0"
    assert event["type"] == EVENT_TYPE
    assert event["source"] == f"//firestore.googleapis.com/projects/{PROJECT_ID}/databases/(default)"
    assert event["subject"] == "documents/clinics/demo/appointments/a2"
    assert event["datacontenttype"] == "application/protobuf"
    assert event["dataschema"] == DATA_SCHEMA
    assert event["database"] == "(default)"
    assert event["namespace"] == "(default)"
    assert event["document"] == "clinics/demo/appointments/a2"
    assert event["project"] == PROJECT_ID
    assert event["location"]
    assert event["id"]
    assert datetime.fromisoformat(event["time"]).tzinfo is not None
    assert isinstance(event.data, bytes)


def test_only_appointment_writes_after_the_start_are_delivered(
    firestore: firestore_lib.Client, bridge: AppointmentBridge, function: ReceivingFunction
) -> None:
    firestore.document("clinics/demo/centers/centro-a").set({"name": "Centro A"})
    firestore.document("archive/x/appointments/old").set({"status": "scheduled"})
    firestore.document("clinics/demo/appointments/a3").set(APPOINTMENT)

    change = function.next_change()

    assert change.path == "clinics/demo/appointments/a3"
    assert function.nothing_more()


def test_an_update_of_a_baseline_document_has_its_old_value(
    firestore: firestore_lib.Client, bridge: AppointmentBridge, function: ReceivingFunction
) -> None:
    firestore.document("clinics/demo/appointments/before").update({"status": "cancelled"})

    change = function.next_change()

    assert change.old == {"status": "scheduled"}
    assert change.new == {"status": "cancelled"}


def test_a_failed_delivery_is_retried(
    firestore: firestore_lib.Client, bridge: AppointmentBridge, function: ReceivingFunction
) -> None:
    function.fail_next(2)

    firestore.document("clinics/demo/appointments/a4").set(APPOINTMENT)

    assert function.next_change().path == "clinics/demo/appointments/a4"
    assert bridge.wait_idle()
    assert bridge.delivered == 1
    assert bridge.failed == 0


def test_a_function_that_keeps_failing_is_given_up_after_a_few_attempts(
    firestore: firestore_lib.Client, function: ReceivingFunction
) -> None:
    bridge = AppointmentBridge(firestore, function.url, attempts=3, first_backoff=0.01)
    bridge.start()
    try:
        function.fail_next(10)
        firestore.document("clinics/demo/appointments/a5").set(APPOINTMENT)
        gave_up = _wait_for(lambda: bridge.failed == 1)
    finally:
        bridge.stop()
    assert gave_up
    assert bridge.delivered == 0
    assert function.module.failures_left[0] == 7


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
