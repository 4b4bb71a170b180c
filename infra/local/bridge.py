"""The local stand-in for Eventarc's Firestore trigger on `clinics/{clinicId}/appointments/{apptId}`.

The Firestore emulator calls no functions, so the bridge listens to every `appointments` collection
(`on_snapshot`), remembers the last version of each appointment it saw, and for each write POSTs to
`on_appointment_written` the CloudEvent Eventarc would send for `google.cloud.firestore.document.v1.written`:
binary mode, the attributes as `ce-*` headers (Eventarc's `database`, `namespace`, `document`, `location`
and `project` extensions included), and a protobuf `DocumentEventData` body. Like Eventarc, it calls with
an identity token of the trigger's service account (`--identity`, from infra/ in the stack), which the
functions' front door checks; the token is minted with LOCAL_IDENTITY_KEY (infra/local/identity.py).

Documents present when the bridge starts are its baseline and are not delivered. A delivery answered
with anything but 2xx is retried with exponential backoff a few times, as Eventarc retries, then logged
and dropped. Deliveries go out one at a time, in the order the writes were seen.

    python -m infra.local.bridge --target http://127.0.0.1:8080/on_appointment_written
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from google.cloud import firestore

from infra.local.identity import IDENTITY_KEY_VARIABLE, bearer, key_from_env
from shared import logs
from shared.adapters.document_events import DEFAULT_DATABASE, encode_document_event

log = logging.getLogger(__name__)

EVENT_TYPE = "google.cloud.firestore.document.v1.written"
DATA_SCHEMA = "https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/firestore/v1/data.proto"
APPOINTMENT_PATH = re.compile(r"^clinics/[^/]+/appointments/[^/]+$")
_STOP = object()


@dataclass(frozen=True)
class Delivery:
    """One CloudEvent ready to POST."""

    document: str
    headers: dict[str, str]
    body: bytes


def build_event(
    path: str,
    old: firestore.DocumentSnapshot | None,
    new: firestore.DocumentSnapshot | None,
    project: str,
    location: str,
    when: datetime,
    database: str = DEFAULT_DATABASE,
) -> Delivery:
    """The binary-mode CloudEvent Eventarc sends for a write of `path` from snapshot `old` to `new`."""
    present = new if new is not None else old
    body = encode_document_event(
        path,
        old.to_dict() if old is not None else None,
        new.to_dict() if new is not None else None,
        project,
        database=database,
        create_time=present.create_time if present is not None else None,
        update_time=new.update_time if new is not None else None,
        old_update_time=old.update_time if old is not None else None,
    )
    attributes = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"//firestore.googleapis.com/projects/{project}/databases/{database}",
        "type": EVENT_TYPE,
        "subject": f"documents/{path}",
        "time": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/protobuf",
        "dataschema": DATA_SCHEMA,
        "database": database,
        "namespace": "(default)",
        "document": path,
        "location": location,
        "project": project,
    }
    headers, data = to_binary(CloudEvent(attributes, body), data_marshaller=lambda raw: raw)
    return Delivery(document=path, headers=dict(headers), body=data)


class AppointmentBridge:
    """Deliver every appointment write in the Firestore emulator to `target_url` as Eventarc would."""

    def __init__(
        self,
        client: firestore.Client,
        target_url: str,
        *,
        location: str = "europe-west1",
        attempts: int = 5,
        first_backoff: float = 0.5,
        timeout: float = 30.0,
        identity: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.client = client
        self.target_url = target_url
        self.identity = identity
        self.location = location
        self.attempts = attempts
        self.first_backoff = first_backoff
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self._last_seen: dict[str, firestore.DocumentSnapshot] = {}
        self._baseline = threading.Event()
        self._closing = threading.Event()
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._session = requests.Session()
        self._watch: Any = None
        self._sender: threading.Thread | None = None

    def start(self, ready_timeout: float = 30.0) -> None:
        """Start listening; returns once the documents already present are recorded as the baseline."""
        self._sender = threading.Thread(target=self._send_loop, name="bridge-sender", daemon=True)
        self._sender.start()
        self._watch = self.client.collection_group("appointments").on_snapshot(self._on_snapshot)
        if not self._baseline.wait(ready_timeout):
            self.stop()
            raise TimeoutError(f"no snapshot from Firestore within {ready_timeout} s")
        log.info("bridge ready", extra={"target": self.target_url, "baseline": len(self._last_seen)})

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; deliveries already queued get one last attempt each, within `timeout`."""
        if self._watch is not None:
            self._watch.unsubscribe()
            self._watch = None
        if self._sender is not None:
            self._closing.set()
            self._outbox.put(_STOP)
            self._sender.join(timeout=timeout)
            self._sender = None
        self._session.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery is done (for tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._outbox.unfinished_tasks

    def _on_snapshot(self, documents: Sequence[Any], changes: Sequence[Any], read_time: datetime) -> None:
        # Runs on the listener's thread: only compute events here, the sender thread does the HTTP.
        if not self._baseline.is_set():
            for snapshot in documents:
                if APPOINTMENT_PATH.match(snapshot.reference.path):
                    self._last_seen[snapshot.reference.path] = snapshot
            self._baseline.set()
            return
        for change in changes:
            snapshot = change.document
            path = snapshot.reference.path
            if not APPOINTMENT_PATH.match(path):
                continue
            old = self._last_seen.get(path)
            if change.type.name == "REMOVED":
                self._last_seen.pop(path, None)
                new, when = None, read_time
            else:
                self._last_seen[path] = snapshot
                new, when = snapshot, snapshot.update_time
            try:
                event = build_event(path, old, new, self.client.project, self.location, when)
            except Exception:
                log.exception("cannot encode a document event", extra={"document": path})
                continue
            self._outbox.put(event)

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            try:
                if item is _STOP:
                    return
                self._deliver(item)
            finally:
                self._outbox.task_done()

    def _deliver(self, event: Delivery) -> None:
        backoff = self.first_backoff
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            problem = self._post(event)
            if problem is None:
                self.delivered += 1
                log.info("event delivered", extra={"document": event.document, "attempt": attempt})
                return
            log.warning(
                "event delivery failed",
                extra={"document": event.document, "attempt": attempt, "problem": problem},
            )
            if attempt == self.attempts or self._closing.wait(backoff):
                break
            backoff *= 2
        self.failed += 1
        log.error("event dropped", extra={"document": event.document, "attempts": attempt})

    def _post(self, event: Delivery) -> str | None:
        try:
            # A fresh token per attempt, as Eventarc's push subscription mints one per delivery.
            headers = {**event.headers, **(self.identity() if self.identity else {})}
            response = self._session.post(
                self.target_url, data=event.body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return type(exc).__name__
        return None if response.ok else f"HTTP {response.status_code}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", required=True, help="URL of on_appointment_written")
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-clinic"))
    parser.add_argument("--location", default=os.environ.get("FIRESTORE_LOCATION", "europe-west1"))
    parser.add_argument("--identity", help=f"service account to call as (needs {IDENTITY_KEY_VARIABLE})")
    args = parser.parse_args(argv)
    logs.configure()
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        parser.error("FIRESTORE_EMULATOR_HOST must point at the Firestore emulator")
    identity: Callable[[], dict[str, str]] | None = None
    if args.identity:
        key = key_from_env()
        if not key:
            parser.error(f"--identity needs {IDENTITY_KEY_VARIABLE}")
        account: str = args.identity
        identity = lambda: bearer(key, account, args.target)  # noqa: E731

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bridge = AppointmentBridge(
        firestore.Client(project=args.project), args.target, location=args.location, identity=identity
    )
    bridge.start()
    try:
        stopping.wait()
    finally:
        bridge.stop()


if __name__ == "__main__":
    main()
