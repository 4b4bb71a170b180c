"""Push notifications to watch channels, delivered as Google delivers them.

Each change to a watched calendar queues one POST per live channel; a single background worker sends them
in order, with a short timeout, and logs and drops what fails (Google does not retry either). API calls
never wait for delivery. The headers are Google's: X-Goog-Channel-ID, X-Goog-Channel-Token (when the
channel has one), X-Goog-Channel-Expiration (RFC 1123), X-Goog-Resource-ID, X-Goog-Resource-URI,
X-Goog-Resource-State (`sync` once after watch, then `exists`; `not_exists` when the calendar is deleted)
and X-Goog-Message-Number (increasing per channel); the body is empty. A `not_exists` message is the
channel's last: it is delivered although the channel stops with its calendar.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import requests

from . import times
from .store import Channel, Store

log = logging.getLogger(__name__)


@dataclass
class Notification:
    """One message to deliver: where, and the headers (fixed when the change happened)."""

    channel_id: str
    address: str
    headers: dict[str, str]
    final: bool = False


class Notifier:
    """Queues notifications and delivers them from one worker thread."""

    def __init__(self, store: Store, timeout_seconds: float) -> None:
        self._store = store
        self._timeout = timeout_seconds
        self._queue: queue.Queue[Notification | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=1000)

    # Producing -----------------------------------------------------------------------------------------

    def channel_created(self, channel: Channel) -> None:
        """Queue the `sync` message Google sends right after a watch."""
        with self._store.lock:
            self._enqueue(channel, "sync")

    def calendar_changed(self, calendar_id: str, state: str = "exists") -> None:
        """Queue one message for every live channel on that calendar."""
        at = times.now()
        with self._store.lock:
            for channel in self._store.channels.values():
                if channel.calendar_id == calendar_id and channel.live(at):
                    self._enqueue(channel, state)

    def _enqueue(self, channel: Channel, state: str) -> None:
        channel.message_number += 1
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": times.rfc1123(channel.expiration_ms / 1000),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel.message_number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self._ensure_worker()
        self._queue.put(Notification(channel.id, channel.address, headers, final=state == "not_exists"))

    # Delivering ----------------------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fake-google-notifier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(item)
            finally:
                self._queue.task_done()

    def _deliver(self, item: Notification) -> None:
        with self._store.lock:
            channel = self._store.channels.get(item.channel_id)
            live = channel is not None and channel.live(times.now())
        record: dict[str, Any] = {
            "channelId": item.channel_id,
            "address": item.address,
            "state": item.headers["X-Goog-Resource-State"],
            "messageNumber": int(item.headers["X-Goog-Message-Number"]),
        }
        if not live and not item.final:
            # Stopped or expired between the change and the delivery: Google sends nothing either.
            record["outcome"] = "dropped: channel stopped or expired"
            self.deliveries.append(record)
            return
        try:
            response = self._session.post(item.address, headers=item.headers, data=b"", timeout=self._timeout)
            record["outcome"] = response.status_code
        except requests.RequestException as exc:
            record["outcome"] = f"failed: {type(exc).__name__}"
            log.warning(
                "watch notification not delivered",
                extra={"channelId": item.channel_id, "error": type(exc).__name__},
            )
        self.deliveries.append(record)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued notification was handled; False if that took longer than `timeout`."""
        deadline = times.now() + timeout
        while self._queue.unfinished_tasks:
            if times.now() > deadline:
                return False
            threading.Event().wait(0.01)
        return True

    def discard_pending(self) -> None:
        """Drop queued notifications (on reset: they belong to a world that no longer exists)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            self._queue.task_done()
            if item is None:
                self._queue.put(None)
                return

    def stop(self) -> None:
        """Stop the worker after what is queued."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=self._timeout + 1)
        self._session.close()
