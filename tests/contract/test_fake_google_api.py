"""The fake Google's Calendar API, driven only through google-api-python-client and google-auth.

What our adapters rely on must hold here as it holds at Google: 409 on a repeated event id, incremental
sync with tombstones and 410 on a dead token, push notifications, paging, If-Match, scopes, token
refresh and revocation, batches, quotas, injected faults, and Google's error shape for bad input.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.exceptions import RefreshError
from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from infra.local.fake_google import RunningServer

from .conftest import CredentialsFactory, ServiceFactory
from .google_client import APP_CREATED, EMAIL, FULL_CALENDAR, Receiver, event, list_all, reason

# Events: ids, tombstones, etags ----------------------------------------------------------------------


def test_an_insert_with_a_repeated_client_id_raises_409_even_after_delete(
    service: Resource, calendar_id: str
) -> None:
    service.events().insert(calendarId=calendar_id, body=event(id="appt00001")).execute()
    with pytest.raises(HttpError) as first:
        service.events().insert(calendarId=calendar_id, body=event(id="appt00001")).execute()
    assert first.value.resp.status == 409 and reason(first.value) == "duplicate"

    service.events().delete(calendarId=calendar_id, eventId="appt00001").execute()
    with pytest.raises(HttpError) as again:
        service.events().insert(calendarId=calendar_id, body=event(id="appt00001")).execute()
    assert again.value.resp.status == 409


def test_delete_leaves_a_tombstone_that_get_shows_and_a_second_delete_answers_410(
    service: Resource, calendar_id: str
) -> None:
    service.events().insert(calendarId=calendar_id, body=event(id="appt00002")).execute()
    service.events().delete(calendarId=calendar_id, eventId="appt00002").execute()
    assert (
        service.events().get(calendarId=calendar_id, eventId="appt00002").execute()["status"] == "cancelled"
    )
    with pytest.raises(HttpError) as gone:
        service.events().delete(calendarId=calendar_id, eventId="appt00002").execute()
    assert gone.value.resp.status == 410 and reason(gone.value) == "deleted"
    with pytest.raises(HttpError) as unknown:
        service.events().get(calendarId=calendar_id, eventId="neverexisted").execute()
    assert unknown.value.resp.status == 404 and reason(unknown.value) == "notFound"

    restored = (
        service.events()
        .patch(calendarId=calendar_id, eventId="appt00002", body={"status": "confirmed"})
        .execute()
    )
    assert restored["status"] == "confirmed"


def test_patch_leaves_every_field_it_does_not_name(service: Resource, calendar_id: str) -> None:
    """Google's patch semantics, which our writes rely on to keep what people typed in Google."""
    typed = {
        "description": "Traer factura 123",
        "location": "Sala 2",
        "colorId": "5",
        "attendees": [{"email": "invitada@example.com"}],
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]},
    }
    service.events().insert(calendarId=calendar_id, body=event(id="appt00009", **typed)).execute()
    moved = {"dateTime": "2026-12-02T10:00:00+01:00", "timeZone": "Europe/Madrid"}
    patched = (
        service.events()
        .patch(
            calendarId=calendar_id,
            eventId="appt00009",
            body={"start": moved, "end": moved | {"dateTime": "2026-12-02T11:00:00+01:00"}},
        )
        .execute()
    )
    assert patched["start"]["dateTime"] == "2026-12-02T10:00:00+01:00"
    assert {k: patched.get(k) for k in typed} == {
        **typed,
        "attendees": [{"email": "invitada@example.com", "responseStatus": "needsAction"}],
    }


def test_patch_merges_private_properties_and_update_replaces(service: Resource, calendar_id: str) -> None:
    created = (
        service.events()
        .insert(
            calendarId=calendar_id,
            body=event(id="appt00003", description="x", extendedProperties={"private": {"a": "1", "b": "2"}}),
        )
        .execute()
    )
    patched = (
        service.events()
        .patch(
            calendarId=calendar_id,
            eventId="appt00003",
            body={"summary": "Revisión", "extendedProperties": {"private": {"b": "3", "c": "4"}}},
        )
        .execute()
    )
    assert patched["extendedProperties"]["private"] == {"a": "1", "b": "3", "c": "4"}
    assert patched["description"] == "x"
    assert patched["etag"] != created["etag"]
    assert patched["updated"] >= created["updated"]

    updated = (
        service.events()
        .update(calendarId=calendar_id, eventId="appt00003", body=event(summary="Nueva"))
        .execute()
    )
    assert "description" not in updated and "extendedProperties" not in updated
    assert updated["summary"] == "Nueva"


def test_a_stale_if_match_etag_answers_412(service: Resource, calendar_id: str) -> None:
    created = service.events().insert(calendarId=calendar_id, body=event(id="appt00004")).execute()
    service.events().patch(calendarId=calendar_id, eventId="appt00004", body={"summary": "moved"}).execute()

    stale = service.events().patch(calendarId=calendar_id, eventId="appt00004", body={"summary": "late"})
    stale.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as refused:
        stale.execute()
    assert refused.value.resp.status == 412 and reason(refused.value) == "conditionNotMet"

    fresh_etag = service.events().get(calendarId=calendar_id, eventId="appt00004").execute()["etag"]
    ok = service.events().patch(calendarId=calendar_id, eventId="appt00004", body={"summary": "now"})
    ok.headers["If-Match"] = fresh_etag
    assert ok.execute()["summary"] == "now"


def test_times_come_back_in_the_event_time_zone(service: Resource, calendar_id: str) -> None:
    created = (
        service.events()
        .insert(
            calendarId=calendar_id,
            body=event(
                start={"dateTime": "2026-07-01T08:00:00Z", "timeZone": "Europe/Madrid"},
                end={"dateTime": "2026-07-01T08:45:00Z", "timeZone": "Europe/Madrid"},
            ),
        )
        .execute()
    )
    assert created["start"] == {"dateTime": "2026-07-01T10:00:00+02:00", "timeZone": "Europe/Madrid"}
    assert created["end"]["dateTime"] == "2026-07-01T10:45:00+02:00"


# Listing and incremental sync ------------------------------------------------------------------------


def test_paging_gives_every_event_once_and_the_sync_token_only_on_the_last_page(
    service: Resource, calendar_id: str
) -> None:
    for index in range(7):
        service.events().insert(calendarId=calendar_id, body=event(id=f"page{index:05d}")).execute()
    first = service.events().list(calendarId=calendar_id, maxResults=3).execute()
    assert len(first["items"]) == 3 and "nextPageToken" in first and "nextSyncToken" not in first

    items, sync_token = list_all(service, calendar_id, maxResults=3)
    assert sorted(item["id"] for item in items) == [f"page{i:05d}" for i in range(7)]
    assert sync_token


def test_a_sync_token_returns_only_what_changed_including_deleted_events(
    service: Resource, calendar_id: str
) -> None:
    for name in ("keep00001", "move00001", "drop00001"):
        service.events().insert(calendarId=calendar_id, body=event(id=name)).execute()
    items, sync_token = list_all(service, calendar_id)
    assert len(items) == 3

    service.events().patch(calendarId=calendar_id, eventId="move00001", body={"summary": "moved"}).execute()
    service.events().delete(calendarId=calendar_id, eventId="drop00001").execute()
    service.events().insert(calendarId=calendar_id, body=event(id="added0001")).execute()

    changes, next_token = list_all(service, calendar_id, syncToken=sync_token)
    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {"move00001", "drop00001", "added0001"}
    assert by_id["drop00001"]["status"] == "cancelled"
    assert by_id["move00001"]["summary"] == "moved"

    nothing, _ = list_all(service, calendar_id, syncToken=next_token)
    assert nothing == []

    # Without a sync token, deleted events are omitted unless asked for.
    full, _ = list_all(service, calendar_id)
    assert "drop00001" not in {item["id"] for item in full}
    with_deleted, _ = list_all(service, calendar_id, showDeleted=True)
    assert "drop00001" in {item["id"] for item in with_deleted}


def test_an_invalidated_sync_token_answers_410_full_sync_required(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    service.events().insert(calendarId=calendar_id, body=event()).execute()
    _, sync_token = list_all(service, calendar_id)
    requests.post(f"{fake_google.url}/_fake/sync-tokens/invalidate", json={"email": EMAIL}, timeout=5)

    with pytest.raises(HttpError) as gone:
        service.events().list(calendarId=calendar_id, syncToken=sync_token).execute()
    assert gone.value.resp.status == 410 and reason(gone.value) == "fullSyncRequired"
    with pytest.raises(HttpError) as garbage:
        service.events().list(calendarId=calendar_id, syncToken="1" + sync_token).execute()
    assert garbage.value.resp.status == 410


def test_a_sync_token_refuses_filters_and_start_time_order_needs_single_events(
    service: Resource, calendar_id: str
) -> None:
    _, sync_token = list_all(service, calendar_id)
    with pytest.raises(HttpError) as mixed:
        service.events().list(
            calendarId=calendar_id, syncToken=sync_token, timeMin="2026-01-01T00:00:00Z"
        ).execute()
    assert mixed.value.resp.status == 400 and reason(mixed.value) == "invalid"
    with pytest.raises(HttpError) as ordering:
        service.events().list(calendarId=calendar_id, orderBy="startTime").execute()
    assert ordering.value.resp.status == 400


def test_list_filters_by_time_window_private_property_and_text(service: Resource, calendar_id: str) -> None:
    service.events().insert(
        calendarId=calendar_id,
        body=event(id="march0001", summary="Limpieza", extendedProperties={"private": {"appt": "1"}}),
    ).execute()
    service.events().insert(
        calendarId=calendar_id,
        body=event(
            id="april0001",
            start={"dateTime": "2026-04-02T09:00:00+02:00"},
            end={"dateTime": "2026-04-02T10:00:00+02:00"},
        ),
    ).execute()

    def ids(**params: Any) -> list[str]:
        return [item["id"] for item in list_all(service, calendar_id, **params)[0]]

    assert ids(timeMin="2026-04-01T00:00:00Z") == ["april0001"]
    assert ids(timeMax="2026-04-01T00:00:00Z") == ["march0001"]
    assert ids(privateExtendedProperty="appt=1") == ["march0001"]
    assert ids(q="limpieza") == ["march0001"]
    assert ids(singleEvents=True, orderBy="startTime") == ["march0001", "april0001"]


# Push notifications ----------------------------------------------------------------------------------


def test_a_watch_channel_gets_sync_then_one_exists_per_change(
    fake_google: RunningServer,
    service: Resource,
    calendar_id: str,
    receiver: Receiver,
) -> None:
    channel = (
        service.events()
        .watch(
            calendarId=calendar_id,
            body={"id": "chan-1", "type": "web_hook", "address": receiver.url, "token": "s3cret"},
        )
        .execute()
    )
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1"
    assert int(channel["expiration"]) > time.time() * 1000

    sync = receiver.take()
    assert sync["X-Goog-Resource-State"] == "sync"
    assert sync["X-Goog-Message-Number"] == "1"
    assert sync["X-Goog-Channel-Token"] == "s3cret"
    assert sync["X-Goog-Resource-ID"] == channel["resourceId"]
    assert sync["X-Goog-Channel-Expiration"].endswith("GMT")
    assert sync["body"] == ""

    # Changes from the app and from the user in Google's UI (another token) both notify.
    service.events().insert(calendarId=calendar_id, body=event(id="seen00001")).execute()
    service.events().patch(calendarId=calendar_id, eventId="seen00001", body={"summary": "x"}).execute()
    ui_token = requests.post(f"{fake_google.url}/_fake/token", json={"email": EMAIL}, timeout=5).json()
    requests.delete(
        f"{fake_google.url}/calendar/v3/calendars/{calendar_id}/events/seen00001",
        headers={"Authorization": f"Bearer {ui_token['access_token']}"},
        timeout=5,
    ).raise_for_status()

    changes = [receiver.take() for _ in range(3)]
    assert [c["X-Goog-Resource-State"] for c in changes] == ["exists"] * 3
    assert [c["X-Goog-Message-Number"] for c in changes] == ["2", "3", "4"]
    assert fake_google.wait_for_notifications()
    assert receiver.received.empty()


def test_stopped_and_expired_channels_get_nothing_and_ids_are_unique(
    fake_google: RunningServer, service: Resource, calendar_id: str, receiver: Receiver
) -> None:
    body = {"id": "chan-2", "type": "web_hook", "address": receiver.url}
    channel = service.events().watch(calendarId=calendar_id, body=body).execute()
    assert receiver.take()["X-Goog-Resource-State"] == "sync"
    with pytest.raises(HttpError) as clash:
        service.events().watch(calendarId=calendar_id, body=body).execute()
    assert clash.value.resp.status == 400 and reason(clash.value) == "channelIdNotUnique"

    service.channels().stop(body={"id": "chan-2", "resourceId": channel["resourceId"]}).execute()
    with pytest.raises(HttpError) as unknown:
        service.channels().stop(body={"id": "chan-2", "resourceId": channel["resourceId"]}).execute()
    assert unknown.value.resp.status == 404

    service.events().watch(calendarId=calendar_id, body={**body, "id": "chan-3"}).execute()
    assert receiver.take()["X-Goog-Channel-ID"] == "chan-3"
    requests.post(f"{fake_google.url}/_fake/channels/expire", json={"id": "chan-3"}, timeout=5)

    service.events().insert(calendarId=calendar_id, body=event()).execute()
    assert fake_google.wait_for_notifications()
    assert receiver.received.empty()


# Scopes and tokens -----------------------------------------------------------------------------------


def test_app_created_scope_cannot_list_calendars_nor_reach_the_primary_calendar(
    calendar_service: ServiceFactory, oauth_login: CredentialsFactory
) -> None:
    service = calendar_service(oauth_login(EMAIL))
    with pytest.raises(HttpError) as denied:
        service.calendarList().list().execute()
    assert denied.value.resp.status == 403 and reason(denied.value) == "insufficientPermissions"
    with pytest.raises(HttpError) as hidden:
        service.events().list(calendarId="primary").execute()
    assert hidden.value.resp.status == 404

    own = service.calendars().insert(body={"summary": "DASI eCLINIC"}).execute()
    assert service.calendars().get(calendarId=own["id"]).execute()["summary"] == "DASI eCLINIC"
    service.events().insert(calendarId=own["id"], body=event()).execute()


def test_another_accounts_calendar_is_not_found(
    calendar_service: ServiceFactory, credentials_for: CredentialsFactory, calendar_id: str
) -> None:
    stranger = calendar_service(credentials_for("other@clinic.test"))
    with pytest.raises(HttpError) as hidden:
        stranger.events().list(calendarId=calendar_id).execute()
    assert hidden.value.resp.status == 404


def test_an_expired_access_token_is_refreshed_transparently(
    fake_google: RunningServer, calendar_service: ServiceFactory, oauth_login: CredentialsFactory
) -> None:
    credentials = oauth_login(EMAIL)
    service = calendar_service(credentials)
    service.calendars().insert(body={"summary": "A"}).execute()
    old_token = credentials.token
    requests.post(f"{fake_google.url}/_fake/tokens/expire", json={"email": EMAIL}, timeout=5)

    raw = requests.post(
        f"{fake_google.url}/calendar/v3/calendars",
        json={"summary": "B"},
        headers={"Authorization": f"Bearer {old_token}"},
        timeout=5,
    )
    assert raw.status_code == 401
    assert raw.json()["error"]["errors"][0]["reason"] == "authError"
    assert raw.json()["error"]["status"] == "UNAUTHENTICATED"

    service.calendars().insert(body={"summary": "C"}).execute()
    assert credentials.token != old_token
    assert fake_google.fake.counts()["POST /token"] == 2  # the code exchange, then one refresh


def test_refresh_after_revocation_fails_with_invalid_grant(
    fake_google: RunningServer, calendar_service: ServiceFactory, oauth_login: CredentialsFactory
) -> None:
    credentials = oauth_login(EMAIL)
    requests.post(f"{fake_google.url}/_fake/revoke", json={"email": EMAIL}, timeout=5)
    service = calendar_service(credentials)
    with pytest.raises(RefreshError) as refused:
        service.calendars().insert(body={"summary": "A"}).execute()
    assert "invalid_grant" in str(refused.value)


# Batch, quotas, faults ---------------------------------------------------------------------------------


def test_batch_requests_run_each_call_and_count_it(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    service.events().insert(calendarId=calendar_id, body=event(id="batch0000")).execute()
    answers: dict[str, tuple[Any, Any]] = {}

    def collect(request_id: str, response: Any, exception: Any) -> None:
        answers[request_id] = (response, exception)

    batch = BatchHttpRequest(callback=collect, batch_uri=f"{fake_google.url}/batch/calendar/v3")
    for index in range(1, 4):
        batch.add(service.events().insert(calendarId=calendar_id, body=event(id=f"batch{index:04d}")))
    batch.add(service.events().insert(calendarId=calendar_id, body=event(id="batch0000")))
    batch.add(service.events().delete(calendarId=calendar_id, eventId="batch0001"))
    batch.execute()

    assert [answers[str(i)][0]["id"] for i in range(1, 4)] == ["batch0001", "batch0002", "batch0003"]
    duplicate = answers["4"][1]
    assert isinstance(duplicate, HttpError) and duplicate.resp.status == 409
    assert answers["5"][1] is None
    counts = fake_google.fake.counts()
    assert counts["calendar.events.insert"] == 5 and counts["calendar.events.delete"] == 1
    assert counts["POST /batch/calendar/v3"] == 1


def test_quotas_answer_403_per_user_and_429_per_project(
    fake_google: RunningServer,
    calendar_service: ServiceFactory,
    credentials_for: CredentialsFactory,
) -> None:
    requests.post(f"{fake_google.url}/_fake/quotas", json={"perUserPerMinute": 2}, timeout=5)
    first = calendar_service(credentials_for("one@clinic.test"))
    first.calendars().insert(body={"summary": "1"}).execute()
    first.calendars().insert(body={"summary": "2"}).execute()
    with pytest.raises(HttpError) as per_user:
        first.calendars().insert(body={"summary": "3"}).execute()
    assert per_user.value.resp.status == 403 and reason(per_user.value) == "rateLimitExceeded"

    requests.post(
        f"{fake_google.url}/_fake/quotas", json={"perUserPerMinute": 600, "perProjectPerMinute": 3}, timeout=5
    )
    second = calendar_service(credentials_for("two@clinic.test"))
    second.calendars().insert(body={"summary": "1"}).execute()
    with pytest.raises(HttpError) as per_project:
        second.calendars().insert(body={"summary": "2"}).execute()
    assert per_project.value.resp.status == 429 and reason(per_project.value) == "rateLimitExceeded"


def test_injected_faults_fail_the_chosen_route_then_clear(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    requests.post(
        f"{fake_google.url}/_fake/faults",
        json={"route": "events.insert", "status": 503, "count": 1},
        timeout=5,
    )
    with pytest.raises(HttpError) as unavailable:
        service.events().insert(calendarId=calendar_id, body=event()).execute()
    assert unavailable.value.resp.status == 503 and reason(unavailable.value) == "backendError"
    service.events().insert(calendarId=calendar_id, body=event()).execute()

    requests.post(
        f"{fake_google.url}/_fake/faults", json={"route": "/calendar/v3/", "latencyMs": 300}, timeout=5
    )
    began = time.monotonic()
    service.events().list(calendarId=calendar_id).execute()
    assert time.monotonic() - began >= 0.3

    requests.post(f"{fake_google.url}/_fake/faults", json={"rate": 1, "status": 429}, timeout=5)
    with pytest.raises(HttpError) as limited:
        service.events().list(calendarId=calendar_id).execute()
    assert limited.value.resp.status == 429
    requests.post(f"{fake_google.url}/_fake/faults", json={}, timeout=5)
    service.events().list(calendarId=calendar_id).execute()


@pytest.mark.parametrize(
    ("limit", "message"),
    [("dailyLimitExceeded", "Daily Limit Exceeded"), ("quotaExceeded", "Calendar usage limits exceeded.")],
)
def test_a_fault_answers_a_daily_usage_limit_as_the_errors_guide_shows_it(
    fake_google: RunningServer, service: Resource, calendar_id: str, limit: str, message: str
) -> None:
    added = requests.post(
        f"{fake_google.url}/_fake/faults",
        json={"route": "events.list", "status": 403, "reason": limit, "count": 1},
        timeout=5,
    )
    assert added.status_code == 200 and added.json()["faults"][0]["reason"] == limit
    with pytest.raises(HttpError) as refused:
        service.events().list(calendarId=calendar_id).execute()
    assert refused.value.resp.status == 403 and reason(refused.value) == limit
    body = json.loads(refused.value.content)["error"]
    assert body["message"] == message and body["errors"][0]["domain"] == "usageLimits"
    service.events().list(calendarId=calendar_id).execute()  # the rule hit once and went


def test_a_fault_refuses_a_usage_limit_without_a_403(fake_google: RunningServer) -> None:
    refused = requests.post(
        f"{fake_google.url}/_fake/faults", json={"status": 429, "reason": "dailyLimitExceeded"}, timeout=5
    )
    assert refused.status_code == 400


# Bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "why"),
    [
        (event(id="UPPERCASE1"), 400, "invalid"),
        (event(id="abc"), 400, "invalid"),
        (event(id="wxyz12345"), 400, "invalid"),
        (event(end={"dateTime": "2026-03-02T08:00:00+01:00"}), 400, "timeRangeEmpty"),
        ({"summary": "no times"}, 400, "required"),
        (event(start={"dateTime": "2026-03-02T09:00:00"}), 400, "required"),
        (event(start={"dateTime": "yesterday"}), 400, "invalid"),
        (event(end={"date": "2026-03-03"}), 400, "invalid"),
        (event(summary=5), 400, "invalid"),
        (event(status="gone"), 400, "invalid"),
        (event(extendedProperties={"private": {"a": 1}}), 400, "invalid"),
    ],
)
def test_bad_events_get_google_4xx_errors(
    service: Resource, calendar_id: str, body: dict[str, Any], status: int, why: str
) -> None:
    with pytest.raises(HttpError) as refused:
        service.events().insert(calendarId=calendar_id, body=body).execute()
    assert refused.value.resp.status == status
    assert reason(refused.value) == why


def test_malformed_json_is_a_parse_error_not_a_crash(service: Resource, calendar_id: str) -> None:
    request = service.events().insert(calendarId=calendar_id, body=event())
    for payload in ("{not json", "[1, 2]", '"text"', "\xff"):
        response, content = request.http.request(
            request.uri, "POST", body=payload, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert json.loads(content)["error"]["errors"][0]["reason"] == "parseError"


def test_bad_parameters_never_produce_a_500(service: Resource, calendar_id: str) -> None:
    attempts = [
        service.events().list(calendarId=calendar_id, timeMin="not a time"),
        service.events().list(calendarId=calendar_id, pageToken="bogus"),
        service.events().list(calendarId=calendar_id, maxResults=0),
        service.events().list(
            calendarId=calendar_id, timeMin="2026-05-01T00:00:00Z", timeMax="2026-04-01T00:00:00Z"
        ),
        service.events().patch(calendarId=calendar_id, eventId="missing00", body={"summary": "x"}),
        service.events().watch(calendarId=calendar_id, body={"id": "c", "type": "carrier-pigeon"}),
        service.calendars().insert(body={"timeZone": "Mars/Olympus"}),
        service.channels().stop(body={}),
    ]
    for attempt in attempts:
        with pytest.raises(HttpError) as refused:
            attempt.execute()
        assert 400 <= refused.value.resp.status < 500, attempt.uri
        reason(refused.value)


def test_requests_are_counted_by_discovery_method_id(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    service.events().list(calendarId=calendar_id).execute()
    counts = requests.get(f"{fake_google.url}/_fake/requests", timeout=5).json()
    assert counts == {"calendar.calendars.insert": 1, "calendar.events.list": 1}


def test_scopes_granted_by_the_admin_token_are_enforced(
    calendar_service: ServiceFactory, credentials_for: CredentialsFactory
) -> None:
    read_only = calendar_service(
        credentials_for(EMAIL, scopes=["https://www.googleapis.com/auth/calendar.readonly"])
    )
    read_only.calendarList().list().execute()
    with pytest.raises(HttpError) as denied:
        read_only.calendars().insert(body={"summary": "x"}).execute()
    assert denied.value.resp.status == 403 and reason(denied.value) == "insufficientPermissions"
    full = calendar_service(credentials_for(EMAIL, scopes=[FULL_CALENDAR, APP_CREATED]))
    entries = full.calendarList().list().execute()["items"]
    assert [entry["id"] for entry in entries if entry.get("primary")] == [EMAIL]


def test_a_batch_of_more_than_1000_calls_is_refused_whole(fake_google: RunningServer) -> None:
    part = (
        "--b\r\nContent-Type: application/http\r\nContent-ID: <{n}>\r\n\r\n"
        "GET /calendar/v3/users/me/calendarList HTTP/1.1\r\n\r\n"
    )
    body = "".join(part.format(n=n) for n in range(1001)) + "--b--\r\n"
    answer = requests.post(
        f"{fake_google.url}/batch/calendar/v3",
        data=body,
        headers={"Content-Type": "multipart/mixed; boundary=b"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 400
    assert "calendar.calendarList.list" not in fake_google.fake.counts()


def test_the_module_serves_on_the_port_it_is_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.fake_google", "--host", "127.0.0.1", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/_fake/state", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the fake did not start"
                time.sleep(0.1)
        assert answer.json()["accounts"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)
