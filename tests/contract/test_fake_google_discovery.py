"""Every JSON body the fake gives for calendars, events and channels fits the discovery document's schemas.

The checker walks a schema: types, `$ref`, `items`, `additionalProperties`, formats, and no property the
schema does not name, so that a field the fake invents (or misspells) fails here before a client trips.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import requests

from infra.local.fake_google import RunningServer, discovery

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "object": dict,
    "array": list,
    "integer": int,
    "number": (int, float),
}


def check(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Problems of `value` against a discovery schema (empty when it conforms)."""
    if "$ref" in schema:
        return check(value, discovery.schemas()[schema["$ref"]], where)
    kind = schema.get("type", "any")
    if kind != "any" and (
        not isinstance(value, _TYPES[kind]) or (kind == "integer" and isinstance(value, bool))
    ):
        return [f"{where}: expected {kind}, got {type(value).__name__}"]
    problems: list[str] = []
    fmt = schema.get("format")
    if kind == "string" and fmt == "date-time":
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            problems.append(f"{where}: not RFC 3339: {value!r}")
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif kind == "string" and fmt == "date":
        date.fromisoformat(value)
    elif kind == "string" and fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
        problems.append(f"{where}: not an {fmt} string: {value!r}")
    if kind == "array":
        for index, item in enumerate(value):
            problems += check(item, schema.get("items", {}), f"{where}[{index}]")
    if kind == "object":
        known = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in known:
                problems += check(item, known[key], f"{where}.{key}")
            elif extra is not None:
                problems += check(item, extra, f"{where}.{key}")
            else:
                problems.append(f"{where}: unknown property {key!r}")
    return problems


def test_the_checker_catches_unknown_properties_and_wrong_types() -> None:
    assert check({"kind": "calendar#event", "bogus": 1}, {"$ref": "Event"}) == ["$: unknown property 'bogus'"]
    assert check({"summary": 3}, {"$ref": "Event"}) == ["$.summary: expected string, got int"]
    assert check({"expiration": "soon"}, {"$ref": "Channel"})
    assert check({"updated": "yesterday"}, {"$ref": "Event"})


def test_every_calendar_events_and_channel_body_fits_its_schema(fake_google: RunningServer) -> None:
    email = "schema@clinic.test"
    token = requests.post(
        f"{fake_google.url}/_fake/token", json={"email": email, "clientId": "local-client"}, timeout=5
    ).json()["access_token"]
    base = f"{fake_google.url}/calendar/v3"
    bodies: list[tuple[str, Any]] = []

    def call(method_id: str, verb: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(
            verb, base + path, headers={"Authorization": f"Bearer {token}"}, timeout=5, **kwargs
        )
        assert answer.status_code == 200, (method_id, answer.text)
        ref = discovery.method(method_id).response_ref
        assert ref is not None
        bodies.append((ref, answer.json()))
        return answer.json()

    calendar = call(
        "calendar.calendars.insert", "POST", "/calendars", json={"summary": "S", "timeZone": "Europe/Madrid"}
    )
    cid = calendar["id"]
    call("calendar.calendars.get", "GET", f"/calendars/{cid}")
    call("calendar.calendarList.list", "GET", "/users/me/calendarList")
    body = {
        "id": "schema001",
        "summary": "Cita",
        "start": {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Madrid"},
        "end": {"dateTime": "2026-03-02T09:30:00+01:00", "timeZone": "Europe/Madrid"},
        "extendedProperties": {"private": {"appointmentId": "a1"}},
    }
    call("calendar.events.insert", "POST", f"/calendars/{cid}/events", json=body)
    call(
        "calendar.events.insert",
        "POST",
        f"/calendars/{cid}/events",
        json={**body, "id": "schema002", "start": {"date": "2026-03-03"}, "end": {"date": "2026-03-04"}},
    )
    call("calendar.events.get", "GET", f"/calendars/{cid}/events/schema001")
    call("calendar.events.patch", "PATCH", f"/calendars/{cid}/events/schema001", json={"summary": "x"})
    call("calendar.events.update", "PUT", f"/calendars/{cid}/events/schema001", json=body)
    first = call("calendar.events.list", "GET", f"/calendars/{cid}/events", params={"maxResults": 1})
    assert "nextPageToken" in first
    listed = call(
        "calendar.events.list",
        "GET",
        f"/calendars/{cid}/events",
        params={"pageToken": first["nextPageToken"]},
    )
    requests.delete(
        f"{base}/calendars/{cid}/events/schema002", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    call(
        "calendar.events.list",
        "GET",
        f"/calendars/{cid}/events",
        params={"syncToken": listed["nextSyncToken"]},
    )
    call("calendar.events.list", "GET", f"/calendars/{cid}/events", params={"showDeleted": "true"})
    call("calendar.events.get", "GET", f"/calendars/{cid}/events/schema002")
    call(
        "calendar.events.watch",
        "POST",
        f"/calendars/{cid}/events/watch",
        json={"id": "ch-schema", "type": "web_hook", "address": "http://127.0.0.1:9/none", "token": "t"},
    )

    call("calendar.calendarList.get", "GET", f"/users/me/calendarList/{cid}")
    call("calendar.calendarList.patch", "PATCH", f"/users/me/calendarList/{cid}", json={"hidden": True})
    call("calendar.calendarList.update", "PUT", f"/users/me/calendarList/{cid}", json={"selected": False})
    call(
        "calendar.events.insert",
        "POST",
        f"/calendars/{cid}/events",
        json={
            **body,
            "id": "schema003",
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
            "attendees": [{"email": "guest@mail.test"}],
            "transparency": "transparent",
        },
    )
    instances = call(
        "calendar.events.instances",
        "GET",
        f"/calendars/{cid}/events/schema003/instances",
        params={"maxResults": 2},
    )
    call(
        "calendar.events.instances",
        "GET",
        f"/calendars/{cid}/events/schema003/instances",
        params={"pageToken": instances["nextPageToken"]},
    )
    instance_id = instances["items"][1]["id"]
    call("calendar.events.get", "GET", f"/calendars/{cid}/events/{instance_id}")
    call("calendar.events.patch", "PATCH", f"/calendars/{cid}/events/{instance_id}", json={"summary": "y"})
    requests.delete(
        f"{base}/calendars/{cid}/events/{instances['items'][0]['id']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    call("calendar.events.list", "GET", f"/calendars/{cid}/events", params={"singleEvents": "true"})
    call("calendar.events.list", "GET", f"/calendars/{cid}/events")

    assert len(bodies) == 24
    for ref, answer in bodies:
        assert check(answer, {"$ref": ref}) == [], (ref, answer)


def test_the_fake_serves_each_method_the_sync_meets_at_google_with_discovery_paths(
    fake_google: RunningServer,
) -> None:
    served: dict[str, set[str]] = {}
    for rule in fake_google.app.url_map.iter_rules():
        served.setdefault(rule.rule, set()).update(rule.methods or ())
    for method_id in (
        "calendar.calendars.insert",
        "calendar.calendars.get",
        "calendar.calendars.delete",
        "calendar.calendarList.list",
        "calendar.calendarList.get",
        "calendar.calendarList.patch",
        "calendar.calendarList.update",
        "calendar.events.insert",
        "calendar.events.get",
        "calendar.events.list",
        "calendar.events.instances",
        "calendar.events.patch",
        "calendar.events.update",
        "calendar.events.delete",
        "calendar.events.watch",
        "calendar.channels.stop",
    ):
        method = discovery.method(method_id)
        rule = "/calendar/v3" + method.flask_rule
        assert method.http_method in served.get(rule, set()), (method_id, rule)
