"""A model of a Cloud Tasks queue, configured from infra/tasks.tf, that runs tasks in this process.

The Cloud Tasks emulator dispatches one task at a time, retries every 0.1 s with no backoff and ignores task
names, so a drain under Google's quotas cannot be measured on it. This model does what the deployed queue
does to the push worker: at most `max_dispatches_per_second` dispatches a second and
`max_concurrent_dispatches` at once; a task answered 2xx is done, any other answer is retried after Cloud
Tasks' backoff (`min_backoff` doubling `max_doublings` times, then growing linearly, capped at
`max_backoff`) until `max_attempts` attempts, after which it is dropped (lost); task names are unique
(a second task of the same name is refused); `schedule_time` (a delay) is honoured.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from infra.local.processes import REPO_ROOT

Handler = Callable[[str, dict[str, Any]], int]


@dataclass(frozen=True)
class QueueConfig:
    max_dispatches_per_second: float
    max_concurrent_dispatches: int
    max_attempts: int
    min_backoff: float
    max_backoff: float
    max_doublings: int

    def backoff(self, retry: int) -> float:
        """Seconds before retry number `retry` (1 after the first failed attempt), as Cloud Tasks spaces them."""
        if retry - 1 < self.max_doublings:
            interval = self.min_backoff * 2 ** (retry - 1)
        else:
            interval = self.min_backoff * 2**self.max_doublings * (retry - self.max_doublings)
        return min(interval, self.max_backoff)

    @classmethod
    def from_terraform(cls, queue: str = "push", infra: Path = REPO_ROOT / "infra") -> QueueConfig:
        """The deployed queue's settings: infra/tasks.tf, with variables at their defaults."""
        with (infra / "tasks.tf").open() as source:
            parsed = hcl2.load(source)
        resources = parsed["resource"]
        # max_attempts comes from local.queue_max_attempts (the workers are told the same numbers).
        attempts = {
            key.strip('"'): count
            for block in parsed.get("locals", [])
            for key, count in (block.get("queue_max_attempts") or {}).items()
        }
        with (infra / "variables.tf").open() as source:
            variables = {
                name.strip('"'): body.get("default")
                for block in hcl2.load(source)["variable"]
                for name, body in block.items()
            }
        body = next(
            queues[f'"{queue}"']
            for block in resources
            for kind, queues in block.items()
            if kind.strip('"') == "google_cloud_tasks_queue" and f'"{queue}"' in queues
        )
        rate, retry = body["rate_limits"][0], body["retry_config"][0]

        def value(raw: Any) -> Any:
            if isinstance(raw, str) and raw.startswith("${var."):
                return variables[raw[len("${var.") : -1]]
            if isinstance(raw, str) and raw.startswith("${local.queue_max_attempts."):
                return attempts[raw[len("${local.queue_max_attempts.") : -1]]
            return raw

        def seconds(raw: str) -> float:
            return float(raw.strip('"').rstrip("s"))

        return cls(
            max_dispatches_per_second=float(value(rate["max_dispatches_per_second"])),
            max_concurrent_dispatches=int(value(rate["max_concurrent_dispatches"])),
            max_attempts=int(value(retry["max_attempts"])),
            min_backoff=seconds(retry["min_backoff"]),
            max_backoff=seconds(retry["max_backoff"]),
            max_doublings=int(retry["max_doublings"]),
        )


@dataclass(order=True)
class _Task:
    eta: float
    seq: int
    name: str = field(compare=False)
    queue: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    attempts: int = field(default=0, compare=False)


@dataclass
class DrainStats:
    completed: int = 0
    attempts: int = 0
    refused_attempts: int = 0  # attempts answered with anything but 2xx
    lost: int = 0
    lost_names: list[str] = field(default_factory=list)
    seconds: float = 0.0
    answers: dict[int, int] = field(default_factory=dict)


class CloudTasksModel:
    """shared.ports.TaskQueue: tasks kept until `run` dispatches them to `handler` (queue, payload) -> status."""

    def __init__(self, config: QueueConfig, handler: Handler | None = None) -> None:
        self.config = config
        self.handler = handler
        self._lock = threading.Condition()
        self._heap: list[_Task] = []
        self._names: set[str] = set()
        self._seq = itertools.count()
        self._in_flight = 0
        self.stats = DrainStats()

    def enqueue(self, queue: str, name: str, payload: Mapping[str, Any], delay_seconds: float = 0) -> bool:
        with self._lock:
            if name in self._names:
                return False
            self._names.add(name)
            eta = time.monotonic() + max(0.0, delay_seconds)
            heapq.heappush(self._heap, _Task(eta, next(self._seq), name, queue, dict(payload)))
            self._lock.notify_all()
            return True

    def pending(self) -> int:
        with self._lock:
            return len(self._heap) + self._in_flight

    def run(self, timeout: float) -> DrainStats:
        """Dispatch until no task is left (or `timeout` seconds); the statistics of the drain."""
        assert self.handler is not None
        began = time.monotonic()
        deadline = began + timeout
        interval = 1.0 / self.config.max_dispatches_per_second
        next_slot = began
        with ThreadPoolExecutor(max_workers=self.config.max_concurrent_dispatches) as pool:
            while True:
                with self._lock:
                    while True:
                        now = time.monotonic()
                        if now >= deadline or (not self._heap and self._in_flight == 0):
                            self.stats.seconds = now - began
                            return self.stats
                        ready = self._heap and self._heap[0].eta <= now
                        if ready and self._in_flight < self.config.max_concurrent_dispatches:
                            break
                        wait = (self._heap[0].eta - now) if self._heap and not ready else 0.05
                        self._lock.wait(timeout=max(0.001, min(wait, 0.05)))
                    task = heapq.heappop(self._heap)
                    self._in_flight += 1
                pause = next_slot - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_slot = max(next_slot, time.monotonic() - interval) + interval
                pool.submit(self._attempt, task)

    def _attempt(self, task: _Task) -> None:
        assert self.handler is not None
        try:
            status = self.handler(task.queue, task.payload)
        except Exception:
            status = 500
        with self._lock:
            self._in_flight -= 1
            task.attempts += 1
            self.stats.attempts += 1
            self.stats.answers[status] = self.stats.answers.get(status, 0) + 1
            if 200 <= status < 300:
                self.stats.completed += 1
            else:
                self.stats.refused_attempts += 1
                if task.attempts >= self.config.max_attempts:
                    self.stats.lost += 1
                    self.stats.lost_names.append(task.name)
                else:
                    task.eta = time.monotonic() + self.config.backoff(task.attempts)
                    heapq.heappush(self._heap, task)
            self._lock.notify_all()
