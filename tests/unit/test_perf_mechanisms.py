"""The mechanisms behind the benchmark figures (docs/bench.md), pinned without timing anything."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, ServiceUnavailable
from google.cloud import tasks_v2

from shared.adapters.cloud_tasks import CloudTasksQueue
from shared.adapters.ttl_cache import TtlCache
from shared.config import Settings
from shared.ports import Transient
from shared.services.tasks import MAX_DEFERRALS, QUOTA_WINDOW, PullWork, PushWork, RetryLater
from tests.unit.conftest import World
from tests.unit.test_push_service import active_link, put

REPO_ROOT = Path(__file__).resolve().parents[2]


# --- the per-instance cache of rarely changing documents ---------------------------------------------
class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_value_is_reused_until_its_ttl_then_read_again() -> None:
    clock, loads = Ticks(), []
    cache: TtlCache[str, str] = TtlCache(30, clock=clock)

    def load() -> str:
        loads.append(clock.now)
        return f"v{len(loads)}"

    assert cache.get("k", load) == "v1"
    clock.now = 29.9
    assert cache.get("k", load) == "v1"
    clock.now = 30.0
    assert cache.get("k", load) == "v2"
    cache.forget("k")
    assert cache.get("k", load) == "v3"
    assert loads == [0.0, 30.0, 30.0]


def test_nothing_missing_is_cached_and_zero_seconds_caches_nothing() -> None:
    missing: TtlCache[str, str] = TtlCache(30, clock=Ticks())
    answers = iter([None, "found"])
    assert missing.get("k", lambda: next(answers)) is None
    assert missing.get("k", lambda: next(answers)) == "found"

    off: TtlCache[str, int] = TtlCache(0)
    counter = iter(range(10))
    assert [off.get("k", lambda: next(counter)) for _ in range(3)] == [0, 1, 2]


def test_a_full_cache_drops_the_least_recently_used_value_first() -> None:
    clock = Ticks()
    cache: TtlCache[str, str] = TtlCache(30, clock=clock, maxsize=2)
    loads: list[str] = []

    def load(key: str) -> str:
        loads.append(key)
        return key.upper()

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, lambda key=key: load(key))
    assert loads == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came


def test_an_access_token_is_kept_until_it_expires_and_no_longer() -> None:
    from datetime import UTC, datetime

    from shared.adapters.google_calendar import _TokenCache

    clock = Ticks()
    clock.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()
    tokens = _TokenCache(timer=clock)
    tokens.put("grant-1", "ya29.one", datetime(2026, 12, 1, 11, 0))  # naive UTC, as google-auth gives it
    tokens.put("grant-2", None, None)  # a failed refresh keeps nothing
    assert tokens.get("grant-1") == ("ya29.one", datetime(2026, 12, 1, 11, 0))
    assert tokens.get("grant-2") is None
    clock.now += 3599
    assert tokens.get("grant-1") is not None
    clock.now += 1
    assert tokens.get("grant-1") is None


# --- work refused for quota waits for the quota's minute in a new task ---------------------------------
class DelayQueue:
    """A TaskQueue that keeps each task's delay and refuses a name seen before, as Cloud Tasks does."""

    def __init__(self) -> None:
        self.tasks: dict[str, tuple[str, dict[str, Any], float]] = {}

    def enqueue(self, queue: str, name: str, payload: Mapping[str, Any], delay_seconds: float = 0) -> bool:
        if name in self.tasks:
            return False
        self.tasks[name] = (queue, dict(payload), delay_seconds)
        return True


def test_a_push_refused_for_quota_says_so_and_is_deferred_a_minute(world: World) -> None:
    link, google = active_link(world)
    put(world, "a1")
    google.fail_next = [Transient("Google answered 429 rateLimitExceeded", 429, "rateLimitExceeded")]
    with pytest.raises(RetryLater) as refused:
        world.services.push.push("demo", link.id, ["a1"])
    assert refused.value.quota and refused.value.defer_seconds == 60

    queue = DelayQueue()
    tasks = world.services.tasks
    tasks.queue = queue
    work = PushWork("demo", link.id, "a1")
    assert tasks.defer(work, refused.value)
    assert tasks.defer(work, refused.value)  # a duplicate delivery: same task
    [(name, (kind, payload, delay))] = queue.tasks.items()
    assert kind == "push" and delay == QUOTA_WINDOW.total_seconds() == 60
    assert payload == {"clinicId": "demo", "linkId": link.id, "appointmentId": "a1", "deferrals": 1}

    world.clock.advance(seconds=60)  # the next minute's deferral is a new task
    assert tasks.defer(PushWork("demo", link.id, "a1", deferrals=1), refused.value)
    assert len(queue.tasks) == 2
    assert tasks.defer(PushWork("demo", link.id), refused.value)  # a backfill keeps its kind
    assert any(p.get("backfill") is True and "appointmentId" not in p for _, p, _ in queue.tasks.values())


def test_deferrals_are_bounded_and_other_failures_are_not_quota(world: World) -> None:
    link, google = active_link(world)
    put(world, "a1")
    quota = RetryLater("refused for quota", defer_seconds=60)
    assert not world.services.tasks.defer(PushWork("demo", link.id, "a1", deferrals=MAX_DEFERRALS), quota)
    google.fail_next = [Transient("Google answered 503 backendError", 503, "backendError")]
    with pytest.raises(RetryLater) as failed:
        world.services.push.push("demo", link.id, ["a1"])
    assert not failed.value.quota
    # Not a quota: the worker answers 503 and Cloud Tasks retries with backoff.
    assert not world.services.tasks.defer(PushWork("demo", link.id, "a1"), failed.value)
    assert not world.services.tasks.defer(PullWork("demo", link.id), failed.value)


def test_a_pull_refused_for_quota_is_one_pull_of_the_link_a_minute_later(world: World) -> None:
    link, google = active_link(world)
    google.fail_next = [Transient("Google answered 403 rateLimitExceeded", 403, "rateLimitExceeded")]
    with pytest.raises(RetryLater) as refused:
        world.services.pull.pull("demo", link.id)
    assert refused.value.quota

    queue = DelayQueue()
    tasks = world.services.tasks
    tasks.queue = queue
    work = PullWork("demo", link.id)
    assert tasks.defer(work, refused.value)
    assert tasks.defer(work, refused.value)  # refused again that minute: the same task
    [(kind, payload, delay)] = queue.tasks.values()
    assert (kind, payload, delay) == ("pull", {"clinicId": "demo", "linkId": link.id}, 60)
    world.clock.advance(seconds=60)
    assert tasks.defer(work, refused.value)
    assert len(queue.tasks) == 2


# --- Cloud Tasks: a name this instance created is a duplicate without a round trip -------------------------
class CountingTasksClient:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.existing: set[str] = set()

    def create_task(self, parent: str, task: tasks_v2.Task) -> tasks_v2.Task:
        self.calls.append(task.name)
        if task.name in self.existing:
            raise AlreadyExists(f"Requested entity already exists: {task.name}")
        self.existing.add(task.name)
        return task


def test_a_burst_of_the_same_task_name_makes_one_create_task_call() -> None:
    client = CountingTasksClient()
    queue = CloudTasksQueue(Settings(), client=client)  # type: ignore[arg-type]
    answers = [queue.enqueue("pull", "pull-notify-l1-42", {"linkId": "l1"}) for _ in range(200)]
    assert answers == [True] + [False] * 199
    assert len(client.calls) == 1

    client.existing.add(next(iter(client.existing)).replace("l1-42", "l2-42"))  # made by another instance
    assert queue.enqueue("pull", "pull-notify-l2-42", {}) is False
    assert queue.enqueue("pull", "pull-notify-l2-42", {}) is False
    assert len(client.calls) == 2  # the refusal is remembered too


class SlowTasksClient(CountingTasksClient):
    """create_task waits until released; the first `failures` calls then fail as Cloud Tasks may."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.attempts: list[str] = []
        self.release = threading.Event()
        self.failures = failures

    def create_task(self, parent: str, task: tasks_v2.Task) -> tasks_v2.Task:
        self.attempts.append(task.name)
        assert self.release.wait(10)
        if self.failures:
            self.failures -= 1
            raise ServiceUnavailable("try again")
        return super().create_task(parent, task)


def enqueue_together(queue: CloudTasksQueue, client: SlowTasksClient, callers: int) -> list[bool | str]:
    """`callers` threads enqueue the same name at once; each one's answer (or its error's name)."""
    answers: list[bool | str] = []

    def call() -> None:
        try:
            answers.append(queue.enqueue("pull", "pull-notify-l1-42", {"linkId": "l1"}))
        except ServiceUnavailable as exc:
            answers.append(type(exc).__name__)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while not client.attempts and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)  # the other callers reach the name meanwhile
    client.release.set()
    for thread in threads:
        thread.join(10)
    return answers


def test_callers_of_a_name_being_created_wait_for_that_create_task_instead_of_sending_their_own() -> None:
    client = SlowTasksClient()
    queue = CloudTasksQueue(Settings(), client=client)  # type: ignore[arg-type]

    answers = enqueue_together(queue, client, 20)

    assert sorted(answers, key=str) == [False] * 19 + [True]
    assert len(client.attempts) == 1


def test_when_the_create_task_in_flight_fails_a_waiting_caller_sends_its_own() -> None:
    client = SlowTasksClient(failures=1)
    queue = CloudTasksQueue(Settings(), client=client)  # type: ignore[arg-type]

    answers = enqueue_together(queue, client, 5)

    # The failed call's caller gets the error (its notification is answered 5xx and sent again); one of the
    # callers that waited creates the task; the rest are duplicates of it.
    assert sorted(answers, key=str) == [False, False, False, "ServiceUnavailable", True]  # sorted as text
    assert len(client.attempts) == 2
    assert queue.enqueue("pull", "pull-notify-l1-42", {}) is False
    assert len(client.attempts) == 2


# --- a cold start imports no heavy client -----------------------------------------------------------------
def test_importing_the_entry_points_loads_no_google_client_library() -> None:
    heavy = ("google.cloud.firestore", "google.cloud.tasks", "google.cloud.secretmanager", "googleapiclient")
    code = (
        "import json, sys; import main; "
        f"print(json.dumps(sorted({{m.split('.')[0] + '.' + '.'.join(m.split('.')[1:3]) for m in sys.modules "
        f"if m.startswith({heavy!r}) or m.startswith('google.events')}})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []


# --- the bench's model of the push queue follows Cloud Tasks and infra/tasks.tf ------------------------------
def test_the_queue_model_backs_off_as_cloud_tasks_documents_and_reads_the_deployed_queue() -> None:
    from tests.bench.cloud_tasks_model import QueueConfig

    documented = QueueConfig(1, 1, 10, min_backoff=10, max_backoff=300, max_doublings=3)
    assert [documented.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 240, 300, 300]
    push = QueueConfig.from_terraform("push")
    assert (push.max_concurrent_dispatches, push.max_attempts, push.min_backoff) == (50, 10, 2.0)
    assert 0 < push.max_dispatches_per_second <= 80
