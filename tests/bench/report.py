"""Rows of the benchmark table: one figure against its target, printed as a table and written as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One measured figure: `ok` says whether it meets `target`; `details` holds the numbers behind it."""

    key: str
    figure: str
    target: str
    measured: str
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "miss"


def failed_row(key: str, figure: str, target: str, error: BaseException) -> Row:
    """A row whose measurement itself failed: a miss that says why."""
    measured = f"not measured: {type(error).__name__}: {error}"
    return Row(key, figure, target, measured, False, {"error": repr(error)})


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (readable in a terminal and pasted as is into docs/bench.md)."""
    lines = ["| figure | target | measured | verdict |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.figure} | {row.target} | {row.measured} | {row.verdict} |")
    return "\n".join(lines)


def write_json(path: Path, rows: Sequence[Row], *, full: bool, seconds: float) -> None:
    """The rows, and where and how they were measured, as JSON."""
    document = {
        "measuredAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": "full" if full else "quick",
        "seconds": round(seconds, 1),
        "python": sys.version.split()[0],
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": [{**asdict(row), "verdict": row.verdict} for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
