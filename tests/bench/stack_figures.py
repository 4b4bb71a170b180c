"""Figures through the whole local stack (`make run` on free ports): propagation and the webhook.

Propagation: the clinic writes appointments to the Firestore emulator at a steady rate; the bridge delivers
each write to `on_appointment_written` as Eventarc would, which queues a task in the Cloud Tasks emulator,
which calls `push_worker`, which writes the event to the fake Google. A watcher lists the calendar with a
sync token as the user (every 20 ms) and notes when each version of each appointment shows there.

Webhook: bursts of 200 notifications sent at once (200 connections opened first, then written one after
the other by one thread) to `calendar_webhook` with a live channel's headers; each answer's time runs from
its request's write to its answer's arrival.
"""

from __future__ import annotations

import hashlib
import hmac
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from infra.local.environment import LOCAL_WEBHOOK_TOKEN_KEY, LocalPorts
from infra.local.functions_server import ExtraFunction
from infra.local.stack import LocalStack
from shared.domain.event_link import event_id
from tests.bench.report import Row, percentile

CLINIC = "demo"
EMAIL = "bench-stack@gmail.com"
WEBHOOK_EMAIL = "bench-webhook@gmail.com"
# Where oauth_callback sends the person back with the one-time code (a host the local stack allows; never
# fetched: the bench reads the code from the redirect).
RETURN_URL = "http://127.0.0.1:9/clinic/back"


@dataclass(frozen=True)
class Sizes:
    writes: int
    writes_per_second: float
    appointments: int
    webhook_rounds: int
    cold_start_samples: int
    webhook_concurrency: int = 200


# Five writes a second to one agenda: each costs one Calendar call, and Google allows one account 600 calls a
# minute (measured at ten a second: the quota refuses some pushes, which then wait a minute).
QUICK = Sizes(writes=100, writes_per_second=5, appointments=50, webhook_rounds=4, cold_start_samples=2)
FULL = Sizes(writes=1000, writes_per_second=5, appointments=100, webhook_rounds=10, cold_start_samples=3)


@dataclass
class StackLink:
    link_id: str
    calendar_id: str
    channel_id: str | None


@dataclass
class StackLinks:
    """A one-way link of Marina's agenda (propagation), and a two-way one of another agenda (its channel)."""

    one_way: StackLink
    two_way: StackLink

    @property
    def channel_id(self) -> str:
        assert self.two_way.channel_id
        return self.two_way.channel_id


@contextmanager
def running_stack(log_dir: Path) -> Iterator[LocalStack]:
    stack = LocalStack(LocalPorts.free(), log_dir=log_dir, extra_functions=[EMPTY_FUNCTION])
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def link_through_functions(stack: LocalStack, user: str, email: str, *, bidirectional: bool) -> StackLink:
    """`user` links their agenda through the HTTP functions (Google's consent as `email`); the clinic app
    redeems the callback's one-time code (complete_link); the master approves."""
    started = requests.post(
        stack.function_url("oauth_start"),
        headers=stack.caller_headers("oauth_start"),
        json={
            "clinicId": CLINIC,
            "centerId": "centro-b",
            "userId": user,
            "bidirectional": bidirectional,
            "returnUrl": RETURN_URL,
        },
        timeout=30,
    )
    started.raise_for_status()
    body = started.json()
    consent = urlencode({"login_hint": email, "fake_decision": "allow"})
    to_callback = requests.get(f"{body['authorizationUrl']}&{consent}", allow_redirects=False, timeout=30)
    back = requests.get(to_callback.headers["Location"], allow_redirects=False, timeout=30)
    back.raise_for_status()
    answer = {key: values[0] for key, values in parse_qs(urlsplit(back.headers["Location"]).query).items()}
    assert answer.get("status") == "consented", answer
    redeemed = requests.post(
        stack.function_url("complete_link"),
        headers=stack.caller_headers("complete_link"),
        json={"clinicId": CLINIC, "userId": user, "linkId": body["linkId"], "code": answer["code"]},
        timeout=30,
    )
    redeemed.raise_for_status()
    approved = requests.post(
        stack.function_url("approve_link"),
        headers=stack.caller_headers("approve_link"),
        json={
            "clinicId": CLINIC,
            "centerId": "centro-b",
            "userId": "admin",
            "linkId": body["linkId"],
            "decision": "approve",
        },
        timeout=30,
    )
    approved.raise_for_status()
    link = approved.json()["link"]
    assert link["status"] == "active", link
    doc = stack.firestore_client().document(f"clinics/{CLINIC}/syncLinks/{link['id']}").get().to_dict() or {}
    return StackLink(link["id"], link["calendarId"], (doc.get("channel") or {}).get("id"))


def link_agendas(stack: LocalStack) -> StackLinks:
    """pautrave links Marina's agenda one way; a second professional's user links theirs two ways.

    Apart, so that the propagation's pushes do not notify the watch channel (and queue pulls) meanwhile.
    """
    db = stack.firestore_client()
    db.document(f"clinics/{CLINIC}/professionals/bench").set({"name": "Bench"})
    db.document(f"clinics/{CLINIC}/users/bench").set(
        {"name": "Bench", "email": "bench@demo-clinic.test", "isMaster": False, "professionalIds": ["bench"]}
    )
    one_way = link_through_functions(stack, "pautrave", EMAIL, bidirectional=False)
    two_way = link_through_functions(stack, "bench", WEBHOOK_EMAIL, bidirectional=True)
    return StackLinks(one_way, two_way)


class CalendarWatcher:
    """Lists a calendar incrementally as its user, noting when each (event id, start instant) first shows."""

    def __init__(self, google_url: str, calendar_id: str) -> None:
        self.session = requests.Session()
        token = self.session.post(f"{google_url}/_fake/token", json={"email": EMAIL}, timeout=30).json()
        self.session.headers["Authorization"] = f"Bearer {token['access_token']}"
        self.url = f"{google_url}/calendar/v3/calendars/{calendar_id}/events"
        self.seen: dict[tuple[str, datetime], float] = {}
        self._stop = threading.Event()
        self._sync_token = self._full_list()
        self._thread = threading.Thread(target=self._run, name="calendar-watcher", daemon=True)

    def _full_list(self) -> str:
        page: str | None = None
        while True:
            params: dict[str, str | int] = {"maxResults": 2500}
            if page:
                params["pageToken"] = page
            answer = self.session.get(self.url, params=params, timeout=30).json()
            page = answer.get("nextPageToken")
            if not page:
                return str(answer["nextSyncToken"])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.session.close()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            answer = self.session.get(self.url, params={"syncToken": self._sync_token}, timeout=30).json()
            at = time.monotonic()
            for event in answer.get("items", []):
                if event.get("status") == "cancelled":
                    continue
                start = datetime.fromisoformat(event["start"]["dateTime"]).astimezone(UTC)
                self.seen.setdefault((event["id"], start), at)
            self._sync_token = answer.get("nextSyncToken", self._sync_token)


def measure_propagation(links: StackLinks, local: LocalStack, sizes: Sizes) -> Row:
    stack = links.one_way
    db = local.firestore_client()
    watcher = CalendarWatcher(local.ports.fake_google_url, stack.calendar_id)
    watcher.start()
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    written: dict[tuple[str, datetime], float] = {}
    interval = 1.0 / sizes.writes_per_second
    began = time.monotonic()
    try:
        for i in range(sizes.writes):
            appointment = f"prop{i % sizes.appointments}"
            version = i // sizes.appointments
            start = base + timedelta(hours=i % sizes.appointments, minutes=5 * version)
            due = began + i * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            at = time.monotonic()
            db.document(f"clinics/{CLINIC}/appointments/{appointment}").set(
                {
                    "professionalId": "marina",
                    "centerId": "centro-b",
                    "start": start,
                    "end": start + timedelta(minutes=30),
                    "status": "scheduled",
                    "service": "Fisioterapia",
                }
            )
            written[(event_id(CLINIC, appointment), start.astimezone(UTC))] = at
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(key in watcher.seen for key in written):
            time.sleep(0.1)
    finally:
        watcher.stop()
    delays = [watcher.seen[key] - at for key, at in written.items() if key in watcher.seen]
    missing = len(written) - len(delays)
    p50, p95, p99 = (percentile(delays, q) for q in (50, 95, 99))
    # A write never seen counts as infinitely late.
    if missing:
        p99 = float("inf") if missing > len(written) * 0.01 else p99
    ok = p50 <= 0.3 and p95 <= 0.6 and p99 <= 1.0 and missing == 0
    return Row(
        "propagation",
        f"propagation from Firestore write to event visible in the fake Google, local stack, "
        f"{sizes.writes:,} writes ({sizes.writes_per_second:g}/s): p50 / p95 / p99",
        "<= 0.3 s / 0.6 s / 1 s",
        f"{p50:.3f} s / {p95:.3f} s / {p99:.3f} s" + (f"; {missing} never seen" if missing else ""),
        ok,
        {
            "writes": sizes.writes,
            "writesPerSecond": sizes.writes_per_second,
            "appointments": sizes.appointments,
            "max": round(max(delays), 3) if delays else None,
            "mean": round(sum(delays) / len(delays), 3) if delays else None,
            "missing": missing,
            "watcherIntervalSeconds": 0.02,
        },
    )


def burst(host: str, port: int, requests_: list[bytes]) -> list[tuple[float, str]]:
    """Send every request at once on its own connection; answer each one's time to its answer and status.

    One thread drives every connection through a selector: 200 sender threads would share this machine's
    two cores with the server being measured, and their own scheduling would show in the figure. The
    connections are opened first, then each request is written (a few microseconds apart) and timed from
    its write until its answer's head has arrived.
    """
    sockets = [socket.create_connection((host, port)) for _ in requests_]
    began: dict[socket.socket, float] = {}
    received: dict[socket.socket, bytes] = {}
    answers: list[tuple[float, str]] = []
    with selectors.DefaultSelector() as selector:
        for sock, data in zip(sockets, requests_, strict=True):
            began[sock] = time.perf_counter()
            sock.sendall(data)
            received[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
        while received:
            for key, _ in selector.select(timeout=30):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                chunk = ready.recv(65536)
                received[ready] += chunk
                if b"\r\n\r\n" in received[ready] or not chunk:
                    took = time.perf_counter() - began[ready]
                    head = received.pop(ready)
                    status = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 2 else "none"
                    answers.append((took, status))
                    selector.unregister(ready)
                    ready.close()
    return answers


# Our webhook's p99 may exceed the same server's p99 answering a function that does nothing by this much.
WEBHOOK_RATIO_TARGET = 1.2


# A function that does nothing, served beside ours exactly as `calendar_webhook` is (its own gunicorn
# process, one worker with calendar_webhook's threads and grants, public, behind the same front door): what
# the server, Flask and the front door cost on this machine before any of our code runs.
EMPTY_FUNCTION = ExtraFunction(
    "empty", like="calendar_webhook", source=Path(__file__).with_name("empty_function.py")
)


def webhook_verdict(ours: list[tuple[float, str]], empty: list[tuple[float, str]]) -> tuple[float, bool]:
    """Our p99 over the empty function's p99 from the same run, and whether it meets the target (every
    answer a 200 on both sides: a fast error is no answer)."""
    ratio = percentile([t for t, _ in ours], 99) / percentile([t for t, _ in empty], 99)
    statuses = {status for _, status in ours} | {status for _, status in empty}
    return ratio, ratio <= WEBHOOK_RATIO_TARGET and statuses == {"200"}


def measure_webhook(stack: StackLinks, local: LocalStack, sizes: Sizes) -> Row:
    """Bursts to our webhook and to the empty function (served as ours is, behind the same front door), in
    turns: on a shared machine, both series meet the same load, and the ratio of their p99 is what our code
    adds to the floor of the server and the front door."""
    token = hmac.new(LOCAL_WEBHOOK_TOKEN_KEY.encode(), stack.channel_id.encode(), hashlib.sha256).hexdigest()
    host, port = "127.0.0.1", local.ports.functions

    def request(number: int) -> bytes:
        # Raw HTTP, built before the burst: the senders share this machine's two cores with the functions,
        # so they must cost next to nothing while the burst is served.
        return (
            "POST /calendar_webhook HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n"
            f"X-Goog-Channel-ID: {stack.channel_id}\r\nX-Goog-Channel-Token: {token}\r\n"
            f"X-Goog-Resource-State: exists\r\nX-Goog-Resource-ID: bench\r\nX-Goog-Message-Number: {number}\r\n\r\n"
        ).encode()

    def to_empty(number: int) -> bytes:
        # The same request line, headers and size as ours, to the function that does nothing.
        return request(number).replace(b"POST /calendar_webhook ", b"POST /empty ")

    # One at a time first, ours and the empty function's in turns: what a single notification costs, and the
    # server's share of it.
    alone: list[float] = []
    empty_alone: list[float] = []
    for number in range(100):
        alone += [took for took, _ in burst(host, port, [request(number)])]
        empty_alone += [took for took, _ in burst(host, port, [to_empty(number)])]

    nothing = [to_empty(n) for n in range(sizes.webhook_concurrency)]
    ours: list[tuple[float, str]] = []
    empty: list[tuple[float, str]] = []
    # Each burst's own p99, in order: one slow burst (the machine's other load) shows as such.
    ours_p99s: list[float] = []
    empty_p99s: list[float] = []
    for round_number in range(sizes.webhook_rounds):
        notifications = [request(round_number * 1000 + n) for n in range(sizes.webhook_concurrency)]
        # Which goes first alternates: each burst of ours queues a pull that runs within the next second
        # (the pause covers most of it), and the machine's other load comes and goes.
        turns = [(ours, ours_p99s, notifications), (empty, empty_p99s, nothing)]
        for series, p99s, burst_requests in turns if round_number % 2 == 0 else turns[::-1]:
            answers = burst(host, port, burst_requests)
            series += answers
            p99s.append(round(percentile([t for t, _ in answers], 99), 4))
            time.sleep(1.0)
    times, empty_times = [t for t, _ in ours], [t for t, _ in empty]
    ratio, ok = webhook_verdict(ours, empty)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    return Row(
        "webhook",
        f"`calendar_webhook` answer time under {sizes.webhook_concurrency} concurrent notifications through the "
        "local front door, against a function that does nothing served the same way (its own gunicorn "
        f"process, calendar_webhook's threads and grants, public; {sizes.webhook_rounds} bursts of each, in turns, alternating which goes first)",
        f"p99 ours / p99 empty function (same run) <= {WEBHOOK_RATIO_TARGET}",
        f"{ratio:.2f}: p99 {p99 * 1000:.0f} ms (p50 {p50 * 1000:.0f} ms) / empty p99 "
        f"{percentile(empty_times, 99) * 1000:.0f} ms (p50 {percentile(empty_times, 50) * 1000:.0f} ms); "
        f"one at a time: p50 {percentile(alone, 50) * 1000:.1f} ms (empty {percentile(empty_alone, 50) * 1000:.1f} ms)",
        ok,
        {
            "ratio": round(ratio, 3),
            "requests": len(times),
            "p50": round(p50, 4),
            "p95": round(percentile(times, 95), 4),
            "p99": round(p99, 4),
            "max": round(max(times), 4),
            "statuses": dict(Counter(status for _, status in ours)),
            "burstP99s": ours_p99s,
            "oneAtATime": {"p50": round(percentile(alone, 50), 5), "p99": round(percentile(alone, 99), 5)},
            "emptyOneAtATime": {
                "p50": round(percentile(empty_alone, 50), 5),
                "p99": round(percentile(empty_alone, 99), 5),
            },
            "emptyFunction": {
                "p50": round(percentile(empty_times, 50), 4),
                "p99": round(percentile(empty_times, 99), 4),
                "statuses": dict(Counter(status for _, status in empty)),
                "burstP99s": empty_p99s,
            },
        },
    )


def measure_cold_starts(stack: StackLinks, local: LocalStack, sizes: Sizes) -> Row:
    from infra.local.environment import functions_environment
    from tests.bench.cold_start import calls, run_probe

    token = hmac.new(LOCAL_WEBHOOK_TOKEN_KEY.encode(), stack.channel_id.encode(), hashlib.sha256).hexdigest()
    env = {**functions_environment(local.ports, local.project), "PYTHONUNBUFFERED": "1"}
    reports: dict[str, list[dict[str, Any]]] = {}
    probes = calls(stack.one_way.link_id, stack.two_way.link_id, stack.channel_id, token, local.project)
    for function, call in probes.items():
        reports[function] = [run_probe(function, call, env) for _ in range(sizes.cold_start_samples)]

    def best(function: str, key: str) -> float:
        # The best of a few fresh processes: what the code costs, less what the machine's other processes
        # (the stack, the emulators) take from it meanwhile; a function instance has its CPU to itself.
        return float(min(r[key] for r in reports[function]))

    imports = {f: best(f, "importSeconds") for f in reports}
    memory = {f: best(f, "maxRssMiB") for f in reports}
    first = {f: best(f, "firstRequestSeconds") for f in reports}
    statuses = {f: reports[f][-1]["status"] for f in reports}
    slowest = max(imports, key=imports.__getitem__)
    biggest = max(memory, key=memory.__getitem__)
    return Row(
        "cold_start",
        "cold start of each function: import time and resident memory of a fresh process "
        f"(best of {sizes.cold_start_samples} processes; memory after its first request)",
        "<= 0.5 s and <= 150 MiB",
        f"import {min(imports.values()):.2f}-{imports[slowest]:.2f} s (slowest {slowest}); "
        f"{min(memory.values()):.0f}-{memory[biggest]:.0f} MiB (largest {biggest}); first request "
        f"{min(first.values()) * 1000:.0f}-{max(first.values()) * 1000:.0f} ms",
        imports[slowest] <= 0.5 and memory[biggest] <= 150,
        {
            "importSeconds": imports,
            "maxRssMiB": memory,
            "firstRequestSeconds": first,
            "statuses": statuses,
            "samples": reports,
        },
    )


def measure(log_dir: Path, full: bool, extra: Any = None) -> list[Row]:
    """Start the stack, link an agenda, measure, then `extra(stack, link)` (more rows) before it stops."""
    sizes = FULL if full else QUICK
    rows: list[Row] = []
    with running_stack(log_dir) as local:
        link = link_agendas(local)
        time.sleep(1.0)  # the (empty) backfill task runs
        rows.append(measure_propagation(link, local, sizes))
        rows.append(measure_webhook(link, local, sizes))
        rows.append(measure_cold_starts(link, local, sizes))
        if extra is not None:
            rows.extend(extra(local, link))
    return rows
