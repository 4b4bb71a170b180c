"""The scheduled drift check with nothing changed, over 100 one-way links of one clinic.

Set-up (not measured): a clinic of 100 agendas, each linked one-way to its own Google account (one-way links
cost the most: their calendar is listed, a two-way one is the pull's), 5 appointments each written an hour
before (with `updatedAt`, as the clinic app stamps its writes) and pushed by the backfills, and a first drift
check that takes each link's baseline (its calendar sync token and check time).

Measured: a second check with nothing changed anywhere, run as a fresh instance would run it after scaling
from zero (no cached sealed token or clinic). Calendar calls are counted by the fake Google (every route,
list included), Firestore document reads at the gRPC channel, by path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.bench.harness import Clinic, Environment, Stopwatch, link_agenda, run_tasks, write_many
from tests.bench.report import Row
from tests.fakes import RecordingQueue

LINKS = 100
APPOINTMENTS = 5


def measure(env: Environment, full: bool) -> list[Row]:
    env.google.reset()
    queue = RecordingQueue()
    setup = env.services(queue, counted=False)
    clinic = Clinic(env.client(), "bench-drift", professionals=LINKS)
    clinic.write()
    written = datetime.now(UTC) - timedelta(hours=1)
    write_many(
        clinic.db,
        (
            (
                clinic.appointment_path(f"d{p:03d}-{i}"),
                {**clinic.appointment_fields(i, professional=p), "updatedAt": written},
            )
            for p in range(LINKS)
            for i in range(APPOINTMENTS)
        ),
    )
    for index in range(LINKS):
        link_agenda(setup, env.google, clinic, index, f"drift{index:03d}@gmail.com")
    run_tasks(setup, queue)
    baseline = setup.repair.drift_check()
    assert baseline.links == LINKS and baseline.repaired == 0, baseline

    # A fresh instance: nothing cached from the set-up.
    services = env.services(queue)
    env.ops.reset()
    before = env.google.counts()
    clock = Stopwatch()
    report = services.repair.drift_check()
    seconds = clock.seconds
    calls = env.google.calendar_calls(before, skip_list=False)
    reads = env.ops.snapshot()["reads"]
    queued = len(queue.take())
    total_reads = sum(reads.values())
    per_clinic = {path: n for path, n in reads.items() if n < LINKS}  # the clinic, its changes query
    per_link_reads = (total_reads - sum(per_clinic.values())) / LINKS
    ok = report.links == LINKS and queued == 0 and calls / LINKS <= 1 and per_link_reads <= 2
    return [
        Row(
            "drift_check",
            f"drift check with nothing changed over {LINKS} one-way links",
            "<= 1 Calendar call and <= 2 Firestore reads per link",
            f"{calls / LINKS:.2f} Calendar calls and {per_link_reads:.2f} Firestore reads per link "
            f"(+ {sum(per_clinic.values())} per clinic); {seconds * 1000 / LINKS:.0f} ms per link; "
            f"{queued} repairs queued",
            ok,
            {
                "links": LINKS,
                "calendarCalls": calls,
                "firestoreReads": reads,
                "perClinicReads": per_clinic,
                "seconds": round(seconds, 3),
                "repairsQueued": queued,
                "report": vars(report),
            },
        )
    ]
