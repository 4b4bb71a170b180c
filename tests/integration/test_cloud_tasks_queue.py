"""CloudTasksQueue against the Cloud Tasks emulator: tasks reach the worker URL as JSON POSTs."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists
from google.cloud import tasks_v2

from infra.local.emulators import TasksEmulator
from infra.local.environment import HOST, PROJECT_ID, TASKS_LOCATION
from shared.adapters.cloud_tasks import MAX_TASK_ID, CloudTasksQueue, task_id
from shared.config import Settings


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A tiny HTTP server standing in for the worker functions; it records every POST."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Received] = queue.Queue()
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.put(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = 10.0) -> Received:
        return self.requests.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def settings_for(receiver_url: str, **overrides: Any) -> Settings:
    return Settings(
        project_id=PROJECT_ID,
        functions_base_url=receiver_url,
        tasks_location=TASKS_LOCATION,
        **overrides,
    )


@pytest.fixture
def task_queue(tasks_emulator: TasksEmulator, receiver: Receiver) -> CloudTasksQueue:
    return CloudTasksQueue(settings_for(receiver.url, tasks_emulator_host=tasks_emulator.host))


def test_a_task_reaches_the_push_worker_as_json(task_queue: CloudTasksQueue, receiver: Receiver) -> None:
    payload = {"clinicId": "demo", "appointmentId": "a1", "note": "Revisión ñ"}

    assert task_queue.enqueue("push", "push-demo-a1-1", payload) is True

    request = receiver.next()
    assert request.path == "/push_worker"
    assert json.loads(request.body) == payload
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-cloudtasks-taskname"] == "push-demo-a1-1"


def test_each_queue_reaches_its_own_worker(task_queue: CloudTasksQueue, receiver: Receiver) -> None:
    task_queue.enqueue("pull", "pull-link-1", {"linkId": "l1"})

    request = receiver.next()
    assert request.path == "/pull_worker"
    assert json.loads(request.body) == {"linkId": "l1"}


def test_names_are_sanitised_for_the_emulator(task_queue: CloudTasksQueue, receiver: Receiver) -> None:
    name = "push/demo/a1@2026-03-02T09:30:00+01:00"

    assert task_queue.enqueue("push", name, {"n": 1}) is True

    request = receiver.next()
    assert request.headers["x-cloudtasks-taskname"] == task_id(name)


def test_a_delayed_task_waits(task_queue: CloudTasksQueue, receiver: Receiver) -> None:
    began = time.monotonic()
    task_queue.enqueue("push", "delayed-1", {"n": 1}, delay_seconds=1.5)

    receiver.next(timeout=10)

    assert time.monotonic() - began >= 1.2


def test_task_ids_keep_valid_names_and_clean_others() -> None:
    assert task_id("push-demo_a1-2") == "push-demo_a1-2"
    cleaned = task_id("push/demo a1")
    assert cleaned.startswith("push_demo_a1-")
    assert task_id("push/demo a1") == cleaned  # deterministic
    assert task_id("push_demo_a1") != cleaned  # different names stay different
    long = task_id("x" * 2000)
    assert len(long) == MAX_TASK_ID
    assert task_id("é" * 600) != task_id("è" * 600)
    for name in ("a:b", "a.b", "ünï", "x" * 501):
        assert all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in task_id(name))
    with pytest.raises(ValueError):
        task_id("")


class RecordingTasksClient:
    """Stands in for CloudTasksClient where the emulator falls short: it refuses a task name seen before."""

    def __init__(self) -> None:
        self.tasks: dict[str, tasks_v2.Task] = {}

    def create_task(self, parent: str, task: tasks_v2.Task) -> tasks_v2.Task:
        if task.name in self.tasks:
            raise AlreadyExists(f"Requested entity already exists: {task.name}")
        self.tasks[task.name] = task
        return task


def test_a_duplicate_name_is_reported_not_raised() -> None:
    client = RecordingTasksClient()
    tasks = CloudTasksQueue(settings_for("https://functions.example"), client=client)  # type: ignore[arg-type]

    assert tasks.enqueue("push", "push-demo-a1-1", {"n": 1}) is True
    assert tasks.enqueue("push", "push-demo-a1-1", {"n": 2}) is False
    assert len(client.tasks) == 1


def test_tasks_carry_an_oidc_token_when_a_service_account_is_set() -> None:
    client = RecordingTasksClient()
    settings = settings_for(
        "https://functions.example", tasks_service_account="tasks@demo.iam.gserviceaccount.com"
    )
    CloudTasksQueue(settings, client=client).enqueue("pull", "pull-1", {"linkId": "l1"})  # type: ignore[arg-type]

    (name, task), *_ = client.tasks.items()
    assert name == f"projects/{PROJECT_ID}/locations/{TASKS_LOCATION}/queues/pull/tasks/pull-1"
    assert task.http_request.url == "https://functions.example/pull_worker"
    assert task.http_request.http_method == tasks_v2.HttpMethod.POST
    assert task.http_request.oidc_token.service_account_email == "tasks@demo.iam.gserviceaccount.com"
    assert task.http_request.oidc_token.audience == "https://functions.example/pull_worker"


def test_no_token_without_a_service_account() -> None:
    client = RecordingTasksClient()
    CloudTasksQueue(settings_for("https://functions.example"), client=client).enqueue("push", "p", {})  # type: ignore[arg-type]

    (task,) = client.tasks.values()
    assert not tasks_v2.HttpRequest.pb(task.http_request).HasField("oidc_token")
