"""What a user or an administrator does outside the app, and what the app then meets at the fake Google:
all-day and free events, a calendar deleted or hidden in Google Calendar, refresh tokens refused for
reasons other than a revocation, and guests told (or not) by e-mail.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google.auth.exceptions import RefreshError
from googleapiclient.discovery import Resource
from googleapiclient.errors import HttpError

from infra.local.fake_google import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, RunningServer

from .conftest import CredentialsFactory, ServiceFactory
from .google_client import EMAIL, Receiver, event, list_all, reason

DAY = {"start": {"date": "2026-03-03"}, "end": {"date": "2026-03-04"}}


# All-day and free events --------------------------------------------------------------------------------


def test_an_all_day_end_date_is_exclusive_so_it_must_follow_the_start(
    service: Resource, calendar_id: str
) -> None:
    created = service.events().insert(calendarId=calendar_id, body=event(id="fechas001", **DAY)).execute()
    assert created["start"] == {"date": "2026-03-03"} and created["end"] == {"date": "2026-03-04"}
    with pytest.raises(HttpError) as same_day:
        service.events().insert(
            calendarId=calendar_id, body=event(start={"date": "2026-03-03"}, end={"date": "2026-03-03"})
        ).execute()
    assert same_day.value.resp.status == 400 and reason(same_day.value) == "timeRangeEmpty"

    def listed(**window: str) -> list[str]:
        return [item["id"] for item in list_all(service, calendar_id, **window)[0]]

    # The calendar is in UTC: the event covers 3 March 00:00 to 4 March 00:00, no more.
    assert listed(timeMin="2026-03-03T23:00:00Z") == ["fechas001"]
    assert listed(timeMin="2026-03-04T00:00:00Z") == []
    assert listed(timeMax="2026-03-03T00:00:00Z") == []


def test_transparency_is_opaque_or_transparent(service: Resource, calendar_id: str) -> None:
    free = service.events().insert(calendarId=calendar_id, body=event(transparency="transparent")).execute()
    assert free["transparency"] == "transparent"
    busy = service.events().patch(calendarId=calendar_id, eventId=free["id"], body={"transparency": "opaque"})
    assert busy.execute()["transparency"] == "opaque"
    with pytest.raises(HttpError) as refused:
        service.events().insert(calendarId=calendar_id, body=event(transparency="see-through")).execute()
    assert refused.value.resp.status == 400 and reason(refused.value) == "invalid"


# A calendar the user deletes or hides -------------------------------------------------------------------


def test_a_calendar_deleted_by_the_user_answers_404_everywhere_after_a_last_not_exists(
    fake_google: RunningServer, service: Resource, calendar_id: str, receiver: Receiver
) -> None:
    service.events().insert(calendarId=calendar_id, body=event(id="doomed001")).execute()
    channel = (
        service.events()
        .watch(calendarId=calendar_id, body={"id": "chan-gone", "type": "web_hook", "address": receiver.url})
        .execute()
    )
    assert receiver.take()["X-Goog-Resource-State"] == "sync"

    answer = requests.delete(f"{fake_google.url}/_fake/calendars/{calendar_id}", timeout=5)
    assert answer.status_code == 200, answer.text
    last = receiver.take()
    assert last["X-Goog-Resource-State"] == "not_exists" and last["X-Goog-Channel-ID"] == "chan-gone"

    calls = [
        service.calendars().get(calendarId=calendar_id),
        service.calendarList().get(calendarId=calendar_id),
        service.events().list(calendarId=calendar_id),
        service.events().get(calendarId=calendar_id, eventId="doomed001"),
        service.events().insert(calendarId=calendar_id, body=event()),
        service.events().patch(calendarId=calendar_id, eventId="doomed001", body={"summary": "x"}),
        service.events().delete(calendarId=calendar_id, eventId="doomed001"),
        service.events().instances(calendarId=calendar_id, eventId="doomed001"),
        service.events().watch(
            calendarId=calendar_id, body={"id": "chan-late", "type": "web_hook", "address": receiver.url}
        ),
        service.calendars().delete(calendarId=calendar_id),
    ]
    for call in calls:
        with pytest.raises(HttpError) as gone:
            call.execute()
        assert gone.value.resp.status == 404 and reason(gone.value) == "notFound", call.uri
    with pytest.raises(HttpError) as stopped:
        service.channels().stop(body={"id": "chan-gone", "resourceId": channel["resourceId"]}).execute()
    assert stopped.value.resp.status == 404
    assert fake_google.wait_for_notifications()
    assert receiver.received.empty()

    primary = requests.delete(f"{fake_google.url}/_fake/calendars/{EMAIL}", timeout=5)
    assert primary.status_code == 400


def test_the_app_reads_and_sets_its_calendars_list_entry_with_app_created_scope(
    fake_google: RunningServer, calendar_service: ServiceFactory, oauth_login: CredentialsFactory
) -> None:
    service = calendar_service(oauth_login(EMAIL))
    own = service.calendars().insert(body={"summary": "DASI eCLINIC"}).execute()["id"]
    entry = service.calendarList().get(calendarId=own).execute()
    assert entry["id"] == own and entry["selected"] is True and "hidden" not in entry
    assert entry["accessRole"] == "owner"
    with pytest.raises(HttpError) as foreign:
        service.calendarList().get(calendarId=EMAIL).execute()
    assert foreign.value.resp.status == 404

    # The user hides and unselects it in Google Calendar; the app sees it and puts it back.
    answer = requests.post(
        f"{fake_google.url}/_fake/calendars/{own}/list-entry",
        json={"hidden": True, "selected": False},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    entry = service.calendarList().get(calendarId=own).execute()
    assert entry["hidden"] is True and entry["selected"] is False
    shown = service.calendarList().patch(calendarId=own, body={"hidden": False, "selected": True}).execute()
    assert "hidden" not in shown and shown["selected"] is True
    assert service.calendarList().get(calendarId=own).execute()["selected"] is True
    with pytest.raises(HttpError) as bad:
        service.calendarList().patch(calendarId=own, body={"hidden": "yes"}).execute()
    assert bad.value.resp.status == 400


def test_hidden_calendars_are_listed_only_with_show_hidden(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    service.calendarList().patch(calendarId=calendar_id, body={"hidden": True}).execute()
    assert calendar_id not in [entry["id"] for entry in service.calendarList().list().execute()["items"]]
    everything = service.calendarList().list(showHidden=True).execute()["items"]
    assert calendar_id in [entry["id"] for entry in everything]


# Refresh tokens refused ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("admin_policy_enforced", 400),
        ("org_internal", 400),
        ("deleted_client", 401),
        ("unauthorized_client", 400),
        ("invalid_grant", 400),
    ],
)
def test_a_refresh_refused_for_the_account_answers_google_s_oauth_error(
    fake_google: RunningServer,
    calendar_service: ServiceFactory,
    credentials_for: CredentialsFactory,
    error: str,
    status: int,
) -> None:
    blocked, other = credentials_for(EMAIL), credentials_for("other@clinic.test")
    answer = requests.post(
        f"{fake_google.url}/_fake/refresh-failure", json={"email": EMAIL, "error": error}, timeout=5
    )
    assert answer.status_code == 200, answer.text

    raw = requests.post(
        f"{fake_google.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": blocked.refresh_token,
            "client_id": LOCAL_CLIENT_ID,
            "client_secret": LOCAL_CLIENT_SECRET,
        },
        timeout=5,
    )
    assert raw.status_code == status
    assert raw.json()["error"] == error and raw.json()["error_description"]
    requests.post(f"{fake_google.url}/_fake/tokens/expire", json={}, timeout=5)
    with pytest.raises(RefreshError) as refused:
        calendar_service(blocked).calendars().insert(body={"summary": "A"}).execute()
    assert error in str(refused.value)
    calendar_service(other).calendars().insert(body={"summary": "B"}).execute()

    requests.post(f"{fake_google.url}/_fake/refresh-failure", json={"email": EMAIL, "error": None}, timeout=5)
    calendar_service(blocked).calendars().insert(body={"summary": "C"}).execute()


def test_an_unknown_refresh_failure_is_refused_by_the_admin_api(fake_google: RunningServer) -> None:
    answer = requests.post(
        f"{fake_google.url}/_fake/refresh-failure", json={"email": EMAIL, "error": "bad_luck"}, timeout=5
    )
    assert answer.status_code == 400


# Guests and sendUpdates ----------------------------------------------------------------------------------


def mails(fake_google: RunningServer) -> list[tuple[str, str]]:
    found = requests.get(f"{fake_google.url}/_fake/mails", timeout=5).json()["mails"]
    return [(mail["to"], mail["kind"]) for mail in found]


def guests(*emails: str) -> list[dict[str, Any]]:
    return [{"email": email} for email in emails]


def test_send_updates_decides_which_guests_google_mails(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    requests.post(f"{fake_google.url}/_fake/accounts", json={"email": "colleague@gmail.com"}, timeout=5)
    created = (
        service.events()
        .insert(
            calendarId=calendar_id,
            body=event(id="guests001", attendees=guests("patient@mail.test", "colleague@gmail.com")),
            sendUpdates="all",
        )
        .execute()
    )
    assert {a["responseStatus"] for a in created["attendees"]} == {"needsAction"}
    assert mails(fake_google) == [("patient@mail.test", "invitation"), ("colleague@gmail.com", "invitation")]

    # externalOnly: only guests without Google Calendar (no account here) are told.
    service.events().patch(
        calendarId=calendar_id,
        eventId="guests001",
        body={"summary": "Moved", "attendees": guests("colleague@gmail.com", "new@mail.test")},
        sendUpdates="externalOnly",
    ).execute()
    assert mails(fake_google)[2:] == [("new@mail.test", "invitation"), ("patient@mail.test", "cancellation")]

    # none (and no parameter at all) tells nobody.
    service.events().update(
        calendarId=calendar_id,
        eventId="guests001",
        body=event(attendees=guests("new@mail.test")),
        sendUpdates="none",
    ).execute()
    service.events().patch(calendarId=calendar_id, eventId="guests001", body={"summary": "Quiet"}).execute()
    assert len(mails(fake_google)) == 4

    service.events().patch(
        calendarId=calendar_id, eventId="guests001", body={"location": "Sala 1"}, sendUpdates="all"
    ).execute()
    service.events().delete(calendarId=calendar_id, eventId="guests001", sendUpdates="all").execute()
    assert mails(fake_google)[4:] == [("new@mail.test", "update"), ("new@mail.test", "cancellation")]

    unknown_mode = service.events().insert(calendarId=calendar_id, body=event())
    unknown_mode.uri += "&sendUpdates=everyone"  # the client library refuses it before sending
    with pytest.raises(HttpError) as refused:
        unknown_mode.execute()
    assert refused.value.resp.status == 400
    with pytest.raises(HttpError) as no_email:
        service.events().insert(
            calendarId=calendar_id, body=event(attendees=[{"displayName": "X"}])
        ).execute()
    assert no_email.value.resp.status == 400 and reason(no_email.value) == "required"


def test_guests_of_a_series_hear_about_a_deleted_instance(
    fake_google: RunningServer, service: Resource, calendar_id: str
) -> None:
    service.events().insert(
        calendarId=calendar_id,
        body=event(id="semana001", recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"], attendees=guests("p@mail.test")),
        sendUpdates="all",
    ).execute()
    service.events().delete(
        calendarId=calendar_id, eventId="semana001_20260309T080000Z", sendUpdates="all"
    ).execute()
    found = requests.get(f"{fake_google.url}/_fake/mails", timeout=5).json()["mails"]
    assert [(m["kind"], m["eventId"]) for m in found] == [
        ("invitation", "semana001"),
        ("cancellation", "semana001_20260309T080000Z"),
    ]
