"""`make bench`: measure every speed and cost figure against its target; print the table, write it as JSON.

    python -m tests.bench            # quick sizes (a few minutes)
    python -m tests.bench --full     # full sizes (about a quarter of an hour)
    python -m tests.bench --only backfill,drain

The JSON goes to $BENCH_OUT (default bench-results.json); the processes' logs to .local/bench/. Figures that
run in this process share one Firestore emulator and fake Google processes; the propagation, webhook and
cold-start figures run through the whole local stack on free ports. See docs/bench.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from infra.local.processes import REPO_ROOT
from tests.bench import (
    backfill,
    calls_per_change,
    drain,
    drift_check,
    full_sync,
    incremental_pull,
    series_pull,
    stack_figures,
)
from tests.bench.harness import Environment, start_environment
from tests.bench.report import Row, failed_row, table, write_json

# Every figure: its key, its label and target (for a row when its measurement fails), in table order.
FIGURES = {
    "calls": ("Calendar calls and Firestore operations per appointment change", "see targets"),
    "backfill": ("activation backfill of 2,000 appointments with 50 ms latency", "<= 5 s; >= 20x"),
    "drain": ("drain of a burst of changes with the fake's quotas scaled down", "<= 1.25x, no loss"),
    "pull": ("incremental pull after 1 change in a calendar of 10,000 events", "1 list call, < 100 ms"),
    "series": (
        "a weekly series of 52 made in Google: its import, then an edit to one instance",
        "see targets",
    ),
    "full_sync": (
        "full sync of a calendar of 10,000 events with 50 ms latency",
        "<= 1.1 reads per event; a checkpoint per page; each task < timeout",
    ),
    "drift": ("drift check with nothing changed over 100 links", "<= 1 Calendar call, <= 2 reads per link"),
    "stack": ("local-stack figures: propagation, webhook, cold start", "see targets"),
}
ORDER = [
    "calls_steady",
    "calls_burst",
    "firestore_ops",
    "propagation",
    "backfill",
    "drain",
    "incremental_pull",
    "series_import",
    "series_instance_edit",
    "full_sync",
    "upkeep",
    "drift_check",
    "cold_start",
    "webhook",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="full (reference) sizes instead of quick ones")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(FIGURES)}")
    args = parser.parse_args(argv)
    chosen = [f for f in args.only.split(",") if f] or list(FIGURES)
    unknown = set(chosen) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log_dir = REPO_ROOT / ".local" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    out = Path(os.environ.get("BENCH_OUT") or "bench-results.json")
    began = time.monotonic()
    rows: list[Row] = []

    def run(key: str, measure: Callable[[], list[Row]]) -> None:
        step = time.monotonic()
        print(f"[bench] {key} ...", file=sys.stderr, flush=True)
        try:
            got = measure()
        except Exception as exc:
            traceback.print_exc()
            label, target = FIGURES[key]
            got = [failed_row(key, label, target, exc)]
        for row in got:
            print(f"[bench]   {row.verdict:4}  {row.key}: {row.measured}", file=sys.stderr, flush=True)
        print(f"[bench] {key} took {time.monotonic() - step:.0f} s", file=sys.stderr, flush=True)
        rows.extend(got)

    in_process = [
        f for f in ("calls", "backfill", "pull", "series", "full_sync", "drift", "drain") if f in chosen
    ]
    env: Environment | None = start_environment(log_dir) if in_process else None
    try:
        prepared: drain.Prepared | None = None
        if env is not None and "drain" in chosen:
            # Linked first: the links' own Google calls must leave the quota windows (a minute) before the
            # burst; the other figures are measured meanwhile.
            try:
                prepared = drain.prepare(env, args.full)
            except Exception as exc:
                traceback.print_exc()
                rows.append(failed_row("drain", *FIGURES["drain"], exc))
        if "stack" in chosen:
            run("stack", lambda: stack_figures.measure(log_dir, args.full))
        if env is not None:
            ready_env = env
            if "calls" in chosen:
                run("calls", lambda: calls_per_change.measure(ready_env, args.full))
            if "backfill" in chosen:
                run("backfill", lambda: backfill.measure(ready_env, args.full))
            if "pull" in chosen:
                run("pull", lambda: incremental_pull.measure(ready_env, args.full))
            if "series" in chosen:
                run("series", lambda: series_pull.measure(ready_env, args.full))
            if "full_sync" in chosen:
                run("full_sync", lambda: full_sync.measure(ready_env, args.full))
                run("full_sync", lambda: full_sync.measure_upkeep(ready_env, args.full))
            if "drift" in chosen:
                run("drift", lambda: drift_check.measure(ready_env, args.full))
        if prepared is not None:
            ready = prepared
            run("drain", lambda: drain.measure(ready))
    finally:
        if env is not None:
            env.google.stop()
            env.emulator.stop()

    rows.sort(key=lambda r: ORDER.index(r.key) if r.key in ORDER else len(ORDER))
    seconds = time.monotonic() - began
    write_json(out, rows, full=args.full, seconds=seconds)
    print()
    print(table(rows))
    print(f"\n{'full' if args.full else 'quick'} size, {seconds:.0f} s; rows written to {out}")
    # A miss is a finding, not a failure of the bench; a figure that could not be measured is.
    return 1 if any(row.details.get("error") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
