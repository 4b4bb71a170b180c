"""Activation backfill of 2,000 appointments with 50 ms of simulated Google latency per round trip.

The latency is added to every HTTP round trip to the fake Google (a batch request, a list, a token
refresh, a single call) by fault rules, not by the fake's global latency: the fake runs the calls inside
a batch one after another and would add the global latency to each of them, which makes a batch of 50 cost
50 round trips, where Google answers a batch in about the time of one. With `--full` the backfill is
measured under that global latency too, for comparison.

The ratio compares with the same appointments pushed by sequential single calls (events.insert, 50 ms
each): measured on a sample in quick mode and extrapolated, measured whole with `--full`.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.bootstrap import Services
from shared.domain.event import event_content
from shared.domain.event_link import event_id
from shared.domain.link import SyncLink
from shared.domain.planner import Insert
from shared.services.access import Need, Opened
from tests.bench.harness import Clinic, Environment, FakeGoogle, Stopwatch, link_agenda, run_tasks, write_many
from tests.bench.report import Row
from tests.fakes import RecordingQueue

LATENCY_MS = 50
UNLIMITED = {"perUserPerMinute": 10**9, "perProjectPerMinute": 10**9}


@dataclass(frozen=True)
class Sizes:
    appointments: int
    sequential_sample: int
    global_latency: bool


QUICK = Sizes(appointments=2000, sequential_sample=60, global_latency=False)
FULL = Sizes(appointments=2000, sequential_sample=2000, global_latency=True)


def round_trip_latency(google: FakeGoogle, ms: int) -> None:
    """Every HTTP round trip to the fake costs `ms`, a batch request once (not once per inner call)."""
    google.admin("faults", {})
    for route in ("/batch/", "calendar.events.list", "calendar.calendars.get", "POST /token"):
        google.admin("faults", {"route": route, "latencyMs": ms})


@dataclass
class Backfilled:
    seconds: float
    events: int
    calls: int
    services: Services
    link: SyncLink
    clinic: Clinic


def _backfill_once(env: Environment, sizes: Sizes, name: str, model: str) -> Backfilled:
    env.google.reset()
    env.google.admin("quotas", UNLIMITED)
    queue = RecordingQueue()
    services = env.services(queue, counted=False)
    db = env.client()
    clinic = Clinic(db, name)
    clinic.write()
    write_many(
        db,
        ((clinic.appointment_path(f"a{i}"), clinic.appointment_fields(i)) for i in range(sizes.appointments)),
    )
    link = link_agenda(services, env.google, clinic, 0, f"{name}@gmail.com")
    if model == "round trip":
        round_trip_latency(env.google, LATENCY_MS)
    else:
        env.google.admin("latency", {"ms": LATENCY_MS})
    before = env.google.counts()
    clock = Stopwatch()
    run_tasks(services, queue)
    seconds = clock.seconds
    calls = env.google.calendar_calls(before, skip_list=False)
    env.google.admin("faults", {})
    env.google.admin("latency", {"ms": 0})
    assert link.calendar_id
    events = _count_events(env.google, f"{name}@gmail.com", link.calendar_id)
    return Backfilled(seconds, events, calls, services, link, clinic)


def _count_events(google: FakeGoogle, email: str, calendar_id: str) -> int:
    token = google.ui_token(email)
    count, page = 0, None
    while True:
        params = {"maxResults": 2500, **({"pageToken": page} if page else {})}
        answer = google.session.get(
            f"{google.url}/calendar/v3/calendars/{calendar_id}/events",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).json()
        count += sum(1 for e in answer.get("items", []) if e.get("status") != "cancelled")
        page = answer.get("nextPageToken")
        if not page:
            return count


def measure(env: Environment, full: bool) -> list[Row]:
    sizes = FULL if full else QUICK
    done = _backfill_once(env, sizes, "bench-backfill", "round trip")
    seconds, events, calls, services, link = done.seconds, done.events, done.calls, done.services, done.link

    # The baseline: sequential single inserts, 50 ms each, through the same adapter.
    env.google.admin("faults", {"route": "calendar.events.insert", "latencyMs": LATENCY_MS})
    opened = services.access.open_link(link, Need.GRANT)
    assert isinstance(opened, Opened)
    gateway = opened.gateway
    clinic = services.directory.clinic(done.clinic.id)
    center = services.directory.center(done.clinic.id, "centro-a")
    appointment = services.directory.appointment(done.clinic.id, "a0")
    assert clinic and center and appointment and link.calendar_id
    content = event_content(appointment, clinic, center)
    clock = Stopwatch()
    for i in range(sizes.sequential_sample):
        [outcome] = gateway.apply(link.calendar_id, [Insert(event_id(done.clinic.id, f"seq{i}"), content)])
        assert outcome.error is None, outcome.error
    per_call = clock.seconds / sizes.sequential_sample
    env.google.admin("faults", {})
    sequential = per_call * sizes.appointments
    ratio = sequential / seconds
    details = {
        "appointments": sizes.appointments,
        "eventsInCalendar": events,
        "calendarCalls": calls,
        "seconds": round(seconds, 2),
        "sequentialSecondsPerCall": round(per_call, 4),
        "sequentialCallsMeasured": sizes.sequential_sample,
        "sequentialSeconds": round(sequential, 1),
        "latencyModel": "50 ms per HTTP round trip (batch request once)",
    }
    if sizes.global_latency:
        other = _backfill_once(env, sizes, "bench-backfill-g", "global")
        details["underGlobalLatency"] = {"seconds": round(other.seconds, 2), "events": other.events}
    ok = seconds <= 5 and ratio >= 20 and events == sizes.appointments
    return [
        Row(
            "backfill",
            f"activation backfill of {sizes.appointments:,} appointments with 50 ms simulated Google latency: "
            "seconds, and the ratio to 2,000 sequential calls",
            "<= 5 s; >= 20x",
            f"{seconds:.2f} s; {ratio:.1f}x ({sequential:.0f} s sequential"
            f"{', extrapolated from ' + str(sizes.sequential_sample) if sizes.sequential_sample < sizes.appointments else ''}); "
            f"{events} events",
            ok,
            details,
        )
    ]
