"""A series made in Google, pulled into a two-way link's agenda: what the import and a later edit cost.

Set-up (not measured): a two-way link whose first pull took its baseline. The user makes a weekly series of
52 instances in Google; one pull brings it in (measured: Calendar calls, every route counted, and the
Firestore commits with the documents each wrote). Then the user changes one instance (an exception) and
one pull brings that in (measured: Calendar calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.bench.harness import Environment, link_fresh_clinic
from tests.bench.report import Row

INSTANCES = 52
MADRID = ZoneInfo("Europe/Madrid")


def _calendar_calls(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {
        route: n - before.get(route, 0)
        for route, n in after.items()
        if route.startswith("calendar.") and n - before.get(route, 0)
    }


def measure(env: Environment, full: bool) -> list[Row]:
    linked = link_fresh_clinic(env, "bench-series", "series@gmail.com")
    services, clinic, link = linked.services, linked.clinic, linked.link
    services.pull.pull(clinic.id, link.id)  # the baseline

    # The user makes a weekly series in Google Calendar.
    token = env.google.ui_token(linked.email)
    headers = {"Authorization": f"Bearer {token}"}
    events_url = f"{env.google.url}/calendar/v3/calendars/{linked.calendar_id}/events"
    first = datetime.combine(datetime.now(MADRID).date() + timedelta(days=1), time(9), MADRID)
    body = {
        "summary": "Pilates",
        "start": {"dateTime": first.isoformat(), "timeZone": "Europe/Madrid"},
        "end": {"dateTime": (first + timedelta(hours=1)).isoformat(), "timeZone": "Europe/Madrid"},
        "recurrence": [f"RRULE:FREQ=WEEKLY;COUNT={INSTANCES}"],
    }
    series = env.google.session.post(events_url, json=body, headers=headers, timeout=30)
    series.raise_for_status()
    series_id = series.json()["id"]

    before = env.google.counts()
    env.ops.reset()
    imported = services.pull.pull(clinic.id, link.id)
    ops = env.ops.snapshot()
    import_calls = _calendar_calls(env.google.counts(), before)
    commits = ops["rpcs"].get("Commit", 0)
    writes = ops["writes"]
    appointments = writes.get("clinics/{}/appointments/{}", 0)
    # Commits by what they wrote: the appointments' batch is the import's figure; the event links' batch and
    # the link's pull record (its sync token) are reported beside it.
    by_commit = env.ops.commits()
    appointment_batches = sum(1 for names in by_commit if "clinics/{}/appointments/{}" in names)

    # The user changes one instance: an exception of the series.
    listed = env.google.session.get(
        f"{events_url}/{series_id}/instances", params={"maxResults": 3}, headers=headers, timeout=30
    )
    listed.raise_for_status()
    third = listed.json()["items"][2]["id"]
    env.google.session.patch(
        f"{events_url}/{third}", json={"summary": "Pilates (sala 2)"}, headers=headers, timeout=30
    ).raise_for_status()
    before = env.google.counts()
    edited = services.pull.pull(clinic.id, link.id)
    edit_calls = _calendar_calls(env.google.counts(), before)

    details: dict[str, Any] = {
        "instances": INSTANCES,
        "calendarCalls": import_calls,
        "commits": [dict(names) for names in by_commit],
        "writes": writes,
        "pulled": {"events": imported.events, "applied": imported.applied},
    }
    import_total = sum(import_calls.values())
    import_ok = (
        import_total <= 2 and appointment_batches == 1 and appointments == INSTANCES == imported.applied
    )
    edit_total = sum(edit_calls.values())
    edit_ok = edit_calls == {"calendar.events.list": 1} and edited.applied == 1
    return [
        Row(
            "series_import",
            f"import of a weekly series of {INSTANCES} instances made in Google (one pull)",
            "<= 2 Calendar calls; the appointments in 1 Firestore write batch",
            f"{import_total} Calendar calls ({', '.join(f'{k} {v}' for k, v in sorted(import_calls.items()))}); "
            f"{appointment_batches} write batch of {appointments} appointments "
            f"(and {commits - appointment_batches} more commits: the event links' batch, the link's pull record)",
            import_ok,
            details,
        ),
        Row(
            "series_instance_edit",
            "pull of an edit to one instance of that series",
            "1 list call",
            f"{edit_total} Calendar call ({', '.join(f'{k} {v}' for k, v in sorted(edit_calls.items()))})",
            edit_ok,
            {"calendarCalls": edit_calls, "pulled": {"events": edited.events, "applied": edited.applied}},
        ),
    ]
