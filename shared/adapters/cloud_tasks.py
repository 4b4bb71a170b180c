"""TaskQueue on Google Cloud Tasks: each task is an HTTP POST of JSON to the queue's worker function.

In Google Cloud the task carries an OIDC token of the tasks service account, so the private worker
function accepts it; against the local emulator (CLOUD_TASKS_EMULATOR_HOST) the client talks plain gRPC
with no credentials.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

from shared import logs
from shared.config import Settings

if TYPE_CHECKING:
    from google.cloud.tasks_v2 import CloudTasksClient

MAX_TASK_ID = 500
_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_HASH_CHARS = 32
# Cloud Tasks refuses a task name for about an hour after the task ran; an instance remembers the names it
# created for less than that, and answers "duplicate" for them without a round trip (a burst of webhook
# notifications of one calendar makes one task, and one create_task call, per second). While a name's
# create_task is in flight, the instance's other callers of that name wait for its outcome instead of
# sending their own: a burst's first requests arrive together, before any create_task has answered.
REMEMBER_SECONDS = 600.0
REMEMBER_MAX = 10_000


def task_id(name: str) -> str:
    """A Cloud Tasks task id for `name`: only [A-Za-z0-9_-], at most 500 characters.

    A valid name is kept as it is. Any other is cleaned and suffixed with a hash of the original, so two
    names that clean to the same text still get different ids and the same name always the same id.
    """
    if not name:
        raise ValueError("a task needs a name")
    if _TASK_ID.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    readable = _NOT_ALLOWED.sub("_", name)[: MAX_TASK_ID - _HASH_CHARS - 1]
    return f"{readable}-{digest}"


class CloudTasksQueue:
    """shared.ports.TaskQueue with google-cloud-tasks."""

    def __init__(self, settings: Settings, client: CloudTasksClient | None = None) -> None:
        # Imported here: the Cloud Tasks client is heavy, and most functions never enqueue.
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import tasks_v2

        self._settings = settings
        self._tasks = tasks_v2
        self._already_exists = AlreadyExists
        self._client = client if client is not None else _client(settings)
        # Names this instance created (or was refused) recently: they exist at Cloud Tasks.
        self._created: TTLCache[str, bool] = TTLCache(maxsize=REMEMBER_MAX, ttl=REMEMBER_SECONDS)
        # Names whose create_task is in flight, each with the event set when it has answered.
        self._in_flight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _claim(self, name: str) -> threading.Event | bool:
        """True when `name` exists; an event to wait for when another caller is creating it; else False,
        and the caller is now the one creating it (it must call `_release`)."""
        with self._lock:
            if name in self._created:
                return True
            pending = self._in_flight.get(name)
            if pending is not None:
                return pending
            self._in_flight[name] = threading.Event()
            return False

    def _release(self, name: str, *, exists: bool) -> None:
        with self._lock:
            if exists:
                self._created[name] = True
            self._in_flight.pop(name).set()

    def enqueue(self, queue: str, name: str, payload: Mapping[str, Any], delay_seconds: float = 0) -> bool:
        """Create the task `name` in `queue`; False when a task of that name already exists."""
        settings = self._settings
        parent = f"projects/{settings.project_id}/locations/{settings.tasks_location}/queues/{queue}"
        full_name = f"{parent}/tasks/{task_id(name)}"
        while True:
            claimed = self._claim(full_name)
            if claimed is True:
                return False
            if claimed is False:
                break
            # Another caller is creating this name: wait for it (if it failed, the name is free again).
            claimed.wait()
        try:
            self._create(parent, full_name, queue, payload, delay_seconds)
        except self._already_exists:
            # A task of this name exists, or ran in the last hour or so: this one is a duplicate.
            self._release(full_name, exists=True)
            return False
        except BaseException:
            self._release(full_name, exists=False)
            raise
        self._release(full_name, exists=True)
        return True

    def _create(
        self, parent: str, full_name: str, queue: str, payload: Mapping[str, Any], delay_seconds: float
    ) -> None:
        settings, tasks = self._settings, self._tasks
        url = settings.worker_url(queue)
        http_request = tasks.HttpRequest(
            http_method=tasks.HttpMethod.POST,
            url=url,
            # Cloud Tasks sends application/octet-stream unless the task says otherwise. The current trace
            # goes along, so that the worker's lines join the request that enqueued the task.
            headers={"Content-Type": "application/json", **logs.trace_headers()},
            body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
        )
        if settings.tasks_service_account:
            http_request.oidc_token = tasks.OidcToken(
                service_account_email=settings.tasks_service_account, audience=url
            )
        task = tasks.Task(name=full_name, http_request=http_request)
        if delay_seconds > 0:
            task.schedule_time = datetime.now(UTC) + timedelta(seconds=delay_seconds)
        self._client.create_task(parent=parent, task=task)


def _client(settings: Settings) -> CloudTasksClient:
    from google.cloud import tasks_v2

    if not settings.tasks_emulator_host:
        return tasks_v2.CloudTasksClient()
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(settings.tasks_emulator_host)
    transport = CloudTasksGrpcTransport(credentials=AnonymousCredentials(), channel=channel)
    return tasks_v2.CloudTasksClient(transport=transport)
