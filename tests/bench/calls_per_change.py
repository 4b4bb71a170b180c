"""Calendar calls and Firestore operations per appointment change, on a warm instance.

Steady: each appointment is written once and its task runs before the next write (creates, then moves).
Burst: each appointment is written ten times before its tasks run; the tasks then find one final state.
Firestore: every document read and write from the trigger (`fan_out`) to the recorded event link, counted
at the gRPC channel and named by path, averaged over the steady changes after the first few (which fill
the instance's caches and are reported apart as the cold figure).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.bench.harness import Environment, link_fresh_clinic, run_tasks, trigger
from tests.bench.report import Row

WARM_UP = 3


@dataclass(frozen=True)
class Sizes:
    steady: int
    burst_appointments: int
    burst_writes: int = 10


QUICK = Sizes(steady=40, burst_appointments=10)
FULL = Sizes(steady=200, burst_appointments=50)


def measure(env: Environment, full: bool) -> list[Row]:
    sizes = FULL if full else QUICK
    linked = link_fresh_clinic(env, "bench-calls", "calls@gmail.com", bidirectional=False)
    services, queue, clinic, db = linked.services, linked.queue, linked.clinic, linked.clinic.db

    # Steady: creates, then moves, one write per appointment before its task runs.
    before = env.google.counts()
    per_change: list[dict[str, dict[str, int]]] = []
    changes = 0
    for phase in range(2):
        for index in range(sizes.steady):
            env.ops.reset()
            trigger(services, clinic, db, f"s{index}", clinic.appointment_fields(index, minutes=15 * phase))
            run_tasks(services, queue)
            per_change.append(env.ops.snapshot())
            changes += 1
    steady_calls = env.google.calendar_calls(before)

    # Burst: ten writes to each appointment before its task runs.
    before = env.google.counts()
    for index in range(sizes.burst_appointments):
        for minute in range(sizes.burst_writes):
            trigger(
                services, clinic, db, f"b{index}", clinic.appointment_fields(1000 + index, minutes=minute)
            )
    run_tasks(services, queue)
    burst_changes = sizes.burst_appointments * sizes.burst_writes
    burst_calls = env.google.calendar_calls(before)

    steady = steady_calls / changes
    burst = burst_calls / burst_changes
    warm = per_change[WARM_UP:]
    reads: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    for ops in warm:
        reads.update(ops["reads"])
        writes.update(ops["writes"])
    n = len(warm)
    named = {f"read {k}": round(v / n, 2) for k, v in sorted(reads.items())}
    named |= {f"write {k}": round(v / n, 2) for k, v in sorted(writes.items())}
    total = (sum(reads.values()) + sum(writes.values())) / n
    cold = per_change[0]
    cold_total = sum(cold["reads"].values()) + sum(cold["writes"].values())
    rpcs: Counter[str] = Counter()
    for ops in warm:
        rpcs.update(ops["rpcs"])
    return [
        Row(
            "calls_steady",
            "Calendar calls per appointment change, steady (one write per appointment)",
            "1.0 (the floor)",
            f"{steady:.2f} ({steady_calls} calls / {changes} changes)",
            steady <= 1.0,
            {"calls": steady_calls, "changes": changes},
        ),
        Row(
            "calls_burst",
            "Calendar calls per appointment change, burst of 10 writes to one appointment before its task runs",
            "<= 0.2",
            f"{burst:.2f} ({burst_calls} calls / {burst_changes} changes)",
            burst <= 0.2,
            {"calls": burst_calls, "changes": burst_changes},
        ),
        Row(
            "firestore_ops",
            "Firestore document reads + writes per appointment change, trigger to recorded event link",
            "<= 6, each named",
            f"{total:.2f} warm ({'; '.join(f'{k} {v:g}' for k, v in named.items())}); first change {cold_total}",
            total <= 6,
            {
                "perChange": named,
                "total": round(total, 2),
                "coldFirstChange": cold,
                "roundTripsPerChange": {k: round(v / n, 2) for k, v in sorted(rpcs.items())},
                "changes": n,
            },
        ),
    ]
