"""Cold start of each function: a fresh process imports the source, serves one request, and reports.

    python -m tests.bench.cold_start FUNCTION '{"method": "POST", "json": {...}}'

A Cloud Functions instance imports `main.py` (every entry point: they share one source) before its first
request, then wires on first use what that function needs (bootstrap is lazy). The probe measures, in a new
interpreter: the import of `main` (the figure's "import time"), functions-framework's app for the target,
the first request, and the peak resident memory of the process after it (the figure's memory). The parent
(`measure`) runs one probe per function against the local stack, so that each first request does its real
work (Firestore, Cloud Tasks, the fake Google).
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]


def probe(function: str, call: dict[str, Any]) -> dict[str, Any]:
    """In this (fresh) process: import main, build the function's app, serve `call` once."""
    began = time.perf_counter()
    sys.path.insert(0, str(REPO_ROOT))
    import main

    imported = time.perf_counter() - began
    modules_after_import = len(sys.modules)
    import functions_framework

    began = time.perf_counter()
    app = functions_framework.create_app(
        target=function, source=str(REPO_ROOT / "main.py"), signature_type=main.ENTRY_POINTS[function]
    )
    client = app.test_client()
    created = time.perf_counter() - began
    began = time.perf_counter()
    answer = client.open(
        "/",
        method=call.get("method", "POST"),
        json=call.get("json"),
        query_string=call.get("query"),
        headers=call.get("headers"),
        data=bytes.fromhex(call["hex"]) if "hex" in call else None,
    )
    first = time.perf_counter() - began
    return {
        "function": function,
        "importSeconds": round(imported, 4),
        "appSeconds": round(created, 4),
        "firstRequestSeconds": round(first, 4),
        "status": answer.status_code,
        "maxRssMiB": round(_peak_rss_kib() / 1024, 1),
        "modulesAfterImport": modules_after_import,
        "modulesAfterRequest": len(sys.modules),
        "interpreterToReadySeconds": round(time.perf_counter() - _STARTED, 4),
    }


def _peak_rss_kib() -> float:
    """This process's peak resident memory. Not getrusage's ru_maxrss: Linux carries it over from the parent
    across fork and exec, so a probe started by a large parent would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run_probe(function: str, call: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """One probe in a new interpreter with the functions' environment; its report."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.cold_start", function, json.dumps(call)],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"function"')]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"probe of {function} failed ({done.returncode}): {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


if __name__ == "__main__":
    name, raw = sys.argv[1], sys.argv[2]
    result = probe(name, json.loads(raw))
    print(json.dumps(result), flush=True)


def calls(
    push_link: str, pull_link: str, channel_id: str, channel_token: str, project: str
) -> dict[str, dict[str, Any]]:
    """A representative first request for each function (each does its real work on the stack)."""
    from datetime import UTC, datetime, timedelta

    from shared.adapters.document_events import encode_document_event

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    document = {
        "professionalId": "marina",
        "centerId": "centro-b",
        "start": start,
        "end": start + timedelta(minutes=30),
        "status": "scheduled",
    }
    path = "clinics/demo/appointments/cold-start"
    body = encode_document_event(path, None, document, project)
    event_headers = {
        "ce-specversion": "1.0",
        "ce-id": "cold-start",
        "ce-source": f"//firestore.googleapis.com/projects/{project}/databases/(default)",
        "ce-type": "google.cloud.firestore.document.v1.written",
        "ce-subject": f"documents/{path}",
        "ce-time": start.isoformat().replace("+00:00", "Z"),
        "Content-Type": "application/protobuf",
    }
    return {
        "oauth_start": {"json": {"clinicId": "demo", "centerId": "centro-a", "userId": "marina"}},
        "oauth_callback": {"method": "GET", "query": {"state": "cold-start-unknown", "code": "x"}},
        "approve_link": {
            "json": {
                "clinicId": "demo",
                "centerId": "centro-b",
                "userId": "admin",
                "linkId": "cold-start-unknown",
                "decision": "approve",
            }
        },
        "disable_link": {"json": {"clinicId": "demo", "userId": "admin", "linkId": "cold-start-unknown"}},
        "complete_link": {
            "json": {
                "clinicId": "demo",
                "userId": "admin",
                "linkId": "cold-start-unknown",
                "code": "cold-start",
            }
        },
        "list_links": {"method": "GET", "query": {"clinicId": "demo", "userId": "admin"}},
        "calendar_webhook": {
            "headers": {
                "X-Goog-Channel-ID": channel_id,
                "X-Goog-Channel-Token": channel_token,
                "X-Goog-Resource-State": "exists",
                "X-Goog-Resource-ID": "cold-start",
            }
        },
        "push_worker": {"json": {"clinicId": "demo", "linkId": push_link, "appointmentId": "prop0"}},
        "pull_worker": {"json": {"clinicId": "demo", "linkId": pull_link}},
        "renew_channels": {"json": {}},
        "reconcile_links": {"json": {}},
        "on_appointment_written": {"headers": event_headers, "hex": body.hex()},
    }
