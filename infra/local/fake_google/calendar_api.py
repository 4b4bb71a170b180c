"""Calendar API v3 under /calendar/v3: calendars, calendarList, events (instances too) and channels.stop.

Paths, verbs and scopes come from the discovery document (see `access.api_method`). Sync and paging:
- `nextSyncToken` comes only on the last page; it stands for the state when the first page was read, so
  changes made while paging come in the next incremental sync.
- with `syncToken`, `iCalUID`, `orderBy`, `privateExtendedProperty`, `q`, `sharedExtendedProperty`,
  `timeMin`, `timeMax` and `updatedMin` are refused (400 `invalid`), and `showDeleted=false` too (the
  reference says deleted events always come); the result holds every event changed since, tombstones
  included. An unknown, foreign or invalidated token answers 410 `fullSyncRequired`, as Google answers
  tokens it no longer honours. Window filters of the original full sync are not re-applied to later
  incremental syncs (a superset: the client sees every change on the calendar).
- `singleEvents` may come with a sync token (Google's reference allows it): the incremental result then
  shows a changed series as its instances (see listing.py).
- an instance id (`{seriesId}_{stamp}`, recurrence.py) answers get, patch, update and delete; its first
  change stores it as an exception, a delete as a cancelled one. events.instances pages end without a
  nextSyncToken (the method takes no syncToken).
- insert, patch, update and delete read `sendUpdates` and record the guests' e-mails (guest_mail.py).
- watch addresses may be plain http (Google demands https with a valid certificate; locally there is none).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request

from . import calendars, guest_mail, ids, listing, recurrence, times
from . import events as event_model
from .access import Caller, api_method
from .errors import (
    GoogleApiError,
    bad_request,
    deleted,
    duplicate,
    full_sync_required,
    invalid,
    not_found,
    parse_error,
    precondition_failed,
    required,
    time_range_empty,
)
from .runtime import current
from .store import CalendarRecord, Channel, EventRecord, PageCursor, SyncToken

bp = Blueprint("calendar", __name__, url_prefix="/calendar/v3")

MAX_EVENTS_PAGE = 2500
DEFAULT_EVENTS_PAGE = 250
SYNC_EXCLUSIVE_PARAMS = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


# Request helpers -------------------------------------------------------------------------------------


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 `parseError` for anything else, as Google answers."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise parse_error() from None
    if not isinstance(body, dict):
        raise parse_error()
    return body


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(f"Invalid boolean value: '{raw}'.", location=name, location_type="parameter")


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Invalid integer value: '{raw}'.", location=name, location_type="parameter") from None
    if value < minimum:
        raise invalid(f"Invalid value '{raw}'. Values must be >= {minimum}", location=name)
    return min(value, maximum)


def _time_arg(name: str) -> Any:
    raw = request.args.get(name)
    if raw is None:
        return None
    moment = times.parse_datetime(raw, require_offset=True)
    if moment is None:
        raise bad_request("Bad Request")
    return moment


def _check_if_match(record: EventRecord) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted.strip() != "*" and wanted.strip() != record.resource["etag"]:
        raise precondition_failed()


def _ok(body: dict[str, Any], status: int = 200) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp


def _no_content() -> Response:
    return Response(status=204)


# Calendars -------------------------------------------------------------------------------------------


@api_method(bp, "calendar.calendars.insert")
def calendars_insert(caller: Caller) -> Response:
    body = json_body()
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise required("Missing title.")
    zone_name = body.get("timeZone")
    fake = current()
    if zone_name is not None and (not isinstance(zone_name, str) or times.zone(zone_name) is None):
        raise invalid("Invalid time zone definition.")
    for name in ("description", "location"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid("Invalid Value", location=name, location_type="parameter")
    with fake.store.lock:
        primary = fake.store.calendars.get(caller.email)
        calendar = CalendarRecord(
            id=f"c_{secrets.token_hex(32)}@group.calendar.google.com",
            owner=caller.email,
            summary=summary,
            time_zone=zone_name or (primary.time_zone if primary else fake.store.default_time_zone),
            etag=fake.store.etag(),
            created_by_client=caller.client_id,
            description=body.get("description"),
            location=body.get("location"),
        )
        fake.store.calendars[calendar.id] = calendar
        fake.store.events[calendar.id] = {}
        return _ok(calendars.calendar_resource(calendar))


@api_method(bp, "calendar.calendars.get")
def calendars_get(caller: Caller, calendar_id: str) -> Response:
    return _ok(calendars.calendar_resource(caller.calendar(calendar_id)))


@api_method(bp, "calendar.calendars.delete")
def calendars_delete(caller: Caller, calendar_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    if calendar.primary:
        # Google refuses too: a primary calendar can only be cleared (calendars.clear).
        raise bad_request("Cannot delete primary calendar.", reason="cannotDeletePrimaryCalendar")
    calendars.remove(current(), calendar)
    return _no_content()


@api_method(bp, "calendar.calendarList.list")
def calendar_list_list(caller: Caller) -> Response:
    fake = current()
    max_results = _int_arg("maxResults", 100, 1, 250)
    show_hidden = bool(_bool_arg("showHidden"))
    offset = 0
    page_token = request.args.get("pageToken")
    if page_token:
        try:
            offset = int(page_token.removeprefix("o"))
        except ValueError:
            raise invalid("Invalid page token.") from None
    with fake.store.lock:
        # Google's reference: hidden entries come only with showHidden=true.
        owned = [
            c
            for c in fake.store.calendars.values()
            if c.owner == caller.email and (show_hidden or not c.hidden)
        ]
        owned.sort(key=lambda c: (not c.primary, c.summary.lower(), c.id))
        page = owned[offset : offset + max_results]
        items = [calendars.list_entry(calendar) for calendar in page]
        body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": fake.store.etag(), "items": items}
        if offset + max_results < len(owned):
            body["nextPageToken"] = f"o{offset + max_results}"
        else:
            body["nextSyncToken"] = ids.opaque("cl", 12)
        return _ok(body)


@api_method(bp, "calendar.calendarList.get")
def calendar_list_get(caller: Caller, calendar_id: str) -> Response:
    return _ok(calendars.list_entry(caller.calendar(calendar_id)))


def _change_list_entry(caller: Caller, calendar_id: str, *, patch: bool) -> Response:
    calendar = caller.calendar(calendar_id)
    body = json_body()
    for name in ("hidden", "selected"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise invalid("Invalid Value", location=name, location_type="parameter")
    if body.get("summaryOverride") is not None and not isinstance(body["summaryOverride"], str):
        raise invalid("Invalid Value", location="summaryOverride", location_type="parameter")
    fake = current()
    with fake.store.lock:
        if patch:
            calendar.hidden = bool(body.get("hidden", calendar.hidden))
            calendar.selected = bool(body.get("selected", calendar.selected))
            if "summaryOverride" in body:
                calendar.summary_override = body["summaryOverride"]
        else:
            # update replaces the entry's writable fields: what the body leaves out returns to its default.
            calendar.hidden = bool(body.get("hidden", False))
            calendar.selected = bool(body.get("selected", True))
            calendar.summary_override = body.get("summaryOverride")
        calendar.etag = fake.store.etag()
        return _ok(calendars.list_entry(calendar))


@api_method(bp, "calendar.calendarList.patch")
def calendar_list_patch(caller: Caller, calendar_id: str) -> Response:
    return _change_list_entry(caller, calendar_id, patch=True)


@api_method(bp, "calendar.calendarList.update")
def calendar_list_update(caller: Caller, calendar_id: str) -> Response:
    return _change_list_entry(caller, calendar_id, patch=False)


# Events ----------------------------------------------------------------------------------------------


def _record(calendar: CalendarRecord, event_id: str) -> EventRecord:
    """The stored event, or an instance of a series not stored yet (its first change makes it an exception)."""
    records = current().store.calendar_events(calendar.id)
    record = records.get(event_id)
    if record is not None:
        return record
    found = recurrence.virtual_instance(records, calendar, event_id)
    if found is None:
        raise not_found()
    series, resource = found
    return EventRecord(calendar.id, resource, series.serial, series.order)


def store_change(calendar: CalendarRecord, record: EventRecord) -> None:
    """Persist a changed event under the lock and tell the watch channels."""
    fake = current()
    fake.store.calendar_events(calendar.id)[record.id] = record
    fake.notifier.calendar_changed(calendar.id)


@api_method(bp, "calendar.events.insert")
def events_insert(caller: Caller, calendar_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    body = json_body()
    mail_mode = guest_mail.requested_mode()
    fake = current()
    with fake.store.lock:
        existing = fake.store.calendar_events(calendar.id)
        event_id = body.get("id")
        if event_id is None:
            event_id = ids.event_id()
        elif not isinstance(event_id, str) or not ids.is_valid_event_id(event_id):
            raise invalid("Invalid resource id value.")
        elif event_id in existing:
            raise duplicate()
        serial = fake.store.next_serial()
        resource = event_model.new_event(
            body, calendar, event_id, caller.email, times.now(), fake.store.etag(), request.host_url
        )
        record = EventRecord(calendar.id, resource, serial, order=serial)
        store_change(calendar, record)
        guest_mail.record(fake, calendar, None, resource, mail_mode)
        return _ok(event_model.representation(record, minimal_if_cancelled=False))


@api_method(bp, "calendar.events.get")
def events_get(caller: Caller, calendar_id: str, event_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    with current().store.lock:
        record = _record(calendar, event_id)
        if request.headers.get("If-None-Match") == record.resource["etag"]:
            return Response(status=304)
        return _ok(event_model.representation(record, minimal_if_cancelled=False))


def _modify(caller: Caller, calendar_id: str, event_id: str, *, patch: bool) -> Response:
    calendar = caller.calendar(calendar_id)
    body = json_body()
    mail_mode = guest_mail.requested_mode()
    fake = current()
    with fake.store.lock:
        record = _record(calendar, event_id)
        _check_if_match(record)
        if "id" in body and body["id"] != event_id:
            raise invalid("Invalid Value", location="id", location_type="parameter")
        resource = event_model.changed_event(record.resource, body, calendar, patch=patch)
        changed = save(calendar, record, resource)
        guest_mail.record(fake, calendar, record.resource, resource, mail_mode)
        return _ok(event_model.representation(changed, minimal_if_cancelled=False))


def save(calendar: CalendarRecord, record: EventRecord, resource: dict[str, Any]) -> EventRecord:
    """Store a new version of an event (an instance's first change stores it as an exception)."""
    store = current().store
    resource["etag"] = store.etag()
    resource["updated"] = times.rfc3339_ms(times.now())
    changed = EventRecord(calendar.id, resource, store.next_serial(), record.order)
    store_change(calendar, changed)
    return changed


@api_method(bp, "calendar.events.patch")
def events_patch(caller: Caller, calendar_id: str, event_id: str) -> Response:
    return _modify(caller, calendar_id, event_id, patch=True)


@api_method(bp, "calendar.events.update")
def events_update(caller: Caller, calendar_id: str, event_id: str) -> Response:
    return _modify(caller, calendar_id, event_id, patch=False)


@api_method(bp, "calendar.events.delete")
def events_delete(caller: Caller, calendar_id: str, event_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    mail_mode = guest_mail.requested_mode()
    fake = current()
    with fake.store.lock:
        record = _record(calendar, event_id)
        if record.cancelled:
            raise deleted()
        _check_if_match(record)
        cancel(calendar, record)
        guest_mail.record(
            fake, calendar, record.resource, {**record.resource, "status": "cancelled"}, mail_mode
        )
    return _no_content()


def cancel(calendar: CalendarRecord, record: EventRecord) -> None:
    """Delete an event (a tombstone stays); a deleted series takes its changed instances with it.

    Google documents nothing about a deleted series' exceptions; the fake cancels them too, so that no
    changed instance of a deleted series stays visible.
    """
    save(calendar, record, {**record.resource, "status": "cancelled"})
    if recurrence.is_series(record.resource):
        records = current().store.calendar_events(calendar.id)
        for exception in recurrence.exceptions_of(records, record.id):
            if not exception.cancelled:
                save(calendar, exception, {**exception.resource, "status": "cancelled"})


def _list_filters() -> dict[str, Any]:
    """The events.list parameters of a full list, checked as Google checks them."""
    single_events = bool(_bool_arg("singleEvents"))
    order_by = request.args.get("orderBy")
    if order_by not in (None, "startTime", "updated"):
        raise invalid(f"Invalid value for orderBy: {order_by}", location="orderBy", location_type="parameter")
    if order_by == "startTime" and not single_events:
        raise bad_request("The requested ordering is not available for the particular query.")
    time_min, time_max = _time_arg("timeMin"), _time_arg("timeMax")
    if time_min is not None and time_max is not None and time_min >= time_max:
        raise time_range_empty("timeMax")
    private_filters = request.args.getlist("privateExtendedProperty")
    text = request.args.get("q")
    ical_uid = request.args.get("iCalUID")

    def matches(resource: dict[str, Any]) -> bool:
        if private_filters and not event_model.matches_private_properties(resource, private_filters):
            return False
        if text and not event_model.matches_text(resource, text):
            return False
        return not ical_uid or resource.get("iCalUID") == ical_uid

    return {
        "single_events": single_events,
        "show_deleted": bool(_bool_arg("showDeleted")),
        "order_by": order_by,
        "time_min": time_min,
        "time_max": time_max,
        "updated_min": _time_arg("updatedMin"),
        "matches": matches,
    }


def _matching_ids(calendar: CalendarRecord, incremental_since: int | None) -> list[str]:
    """The ids a fresh list returns, in the requested order (called under the store lock)."""
    records = current().store.calendar_events(calendar.id)
    if incremental_since is not None:
        single_events = bool(_bool_arg("singleEvents"))
        return listing.incremental_ids(records, calendar, incremental_since, single_events=single_events)
    return listing.full_ids(records, calendar, **_list_filters())


@api_method(bp, "calendar.events.list")
def events_list(caller: Caller, calendar_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    fake = current()
    store = fake.store
    max_results = _int_arg("maxResults", DEFAULT_EVENTS_PAGE, 1, MAX_EVENTS_PAGE)
    with store.lock:
        page_token = request.args.get("pageToken")
        if page_token:
            cursor = _cursor(caller, calendar, page_token, None, max_results)
        else:
            sync_token = request.args.get("syncToken")
            since: int | None = None
            if sync_token is not None:
                given = [name for name in SYNC_EXCLUSIVE_PARAMS if name in request.args]
                if given or _bool_arg("showDeleted") is False:
                    raise invalid(
                        "Sync token cannot be used with other parameters: "
                        + ", ".join(given or ["showDeleted"]),
                        location="syncToken",
                        location_type="parameter",
                    )
                known = store.sync_tokens.get(sync_token)
                if known is None or known.calendar_id != calendar.id or known.owner != caller.email:
                    raise full_sync_required()
                since = known.serial
            cursor = PageCursor(
                calendar_id=calendar.id,
                event_ids=_matching_ids(calendar, since),
                offset=0,
                as_of=store.serial,
                owner=caller.email,
                incremental=since is not None,
                max_results=max_results,
                show_full_cancelled=since is None and bool(_bool_arg("showDeleted")),
            )
        return _ok(_events_page(calendar, cursor))


def _cursor(
    caller: Caller, calendar: CalendarRecord, page_token: str, series_id: str | None, max_results: int
) -> PageCursor:
    """The rest of a list from its page token: only for the same caller, calendar and method."""
    cursor = current().store.page_cursors.get(page_token)
    if (
        cursor is None
        or cursor.calendar_id != calendar.id
        or cursor.owner != caller.email
        or cursor.series_id != series_id
    ):
        raise invalid("Invalid page token value.", location="pageToken", location_type="parameter")
    return PageCursor(**{**cursor.__dict__, "max_results": max_results})


@api_method(bp, "calendar.events.instances")
def events_instances(caller: Caller, calendar_id: str, event_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    store = current().store
    max_results = _int_arg("maxResults", DEFAULT_EVENTS_PAGE, 1, MAX_EVENTS_PAGE)
    with store.lock:
        page_token = request.args.get("pageToken")
        if page_token:
            return _ok(_events_page(calendar, _cursor(caller, calendar, page_token, event_id, max_results)))
        records = store.calendar_events(calendar.id)
        series = records.get(event_id)
        if series is None:
            raise not_found()
        if series.cancelled:
            raise deleted()
        time_min, time_max = _time_arg("timeMin"), _time_arg("timeMax")
        if time_min is not None and time_max is not None and time_min >= time_max:
            raise time_range_empty("timeMax")
        show_deleted = bool(_bool_arg("showDeleted"))
        found = listing.instance_ids(
            records,
            calendar,
            series,
            show_deleted=show_deleted,
            time_min=time_min,
            time_max=time_max,
            original_start=_time_arg("originalStart"),
        )
        cursor = PageCursor(
            calendar_id=calendar.id,
            event_ids=found,
            offset=0,
            as_of=store.serial,
            owner=caller.email,
            incremental=False,
            max_results=max_results,
            show_full_cancelled=show_deleted,
            series_id=event_id,
        )
        return _ok(_events_page(calendar, cursor))


def _events_page(calendar: CalendarRecord, cursor: PageCursor) -> dict[str, Any]:
    """One page of a list from a cursor (under the store lock), with the token for what follows.

    events.instances pages end without a nextSyncToken: that method takes no syncToken.
    """
    store = current().store
    records = store.calendar_events(calendar.id)
    window = cursor.event_ids[cursor.offset : cursor.offset + cursor.max_results]
    items = []
    for event_id in window:
        resource = listing.resolve(records, calendar, event_id)
        if resource is not None:
            items.append(event_model.shown(resource, minimal_if_cancelled=not cursor.show_full_cancelled))
    latest = max((r.resource["updated"] for r in records.values()), default=times.rfc3339_ms(times.now()))
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"p{cursor.as_of:016d}"',
        "summary": calendar.summary,
        "description": calendar.description or "",
        "updated": latest,
        "timeZone": calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
        "items": items,
    }
    next_offset = cursor.offset + cursor.max_results
    if next_offset < len(cursor.event_ids):
        token = ids.opaque("pg", 18)
        store.page_cursors[token] = PageCursor(**{**cursor.__dict__, "offset": next_offset})
        body["nextPageToken"] = token
    elif cursor.series_id is None:
        token = ids.opaque("sy", 18)
        store.sync_tokens[token] = SyncToken(calendar.id, cursor.as_of, cursor.owner)
        body["nextSyncToken"] = token
    return body


# Watch channels --------------------------------------------------------------------------------------


@api_method(bp, "calendar.events.watch")
def events_watch(caller: Caller, calendar_id: str) -> Response:
    calendar = caller.calendar(calendar_id)
    body = json_body()
    fake = current()
    channel_id, address, kind = body.get("id"), body.get("address"), body.get("type")
    if not isinstance(channel_id, str) or not channel_id:
        raise required("Required", location="id", location_type="parameter")
    if len(channel_id) > 64:
        raise invalid("Channel id must be at most 64 characters.")
    if kind not in ("web_hook", "webhook"):
        raise invalid(f"Invalid value for type: {kind}" if kind else "Required", location="type")
    if not isinstance(address, str) or not address.startswith(("http://", "https://")):
        raise invalid("WebHook callback must be HTTPS: " + str(address), location="address")
    token = body.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > 256):
        raise invalid("Invalid Value", location="token", location_type="parameter")
    at = times.now()
    ttl = fake.config.channel_ttl_seconds
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise invalid("Invalid Value", location="params", location_type="parameter")
    if params.get("ttl") is not None:
        try:
            ttl = int(params["ttl"])
        except (TypeError, ValueError):
            raise invalid("Invalid ttl value.", location="params.ttl") from None
    expiration_ms = int((at + min(ttl, fake.config.channel_max_ttl_seconds)) * 1000)
    if body.get("expiration") is not None:
        try:
            wanted = int(body["expiration"])
        except (TypeError, ValueError):
            raise invalid("Invalid expiration value.", location="expiration") from None
        expiration_ms = min(wanted, int((at + fake.config.channel_max_ttl_seconds) * 1000))
    with fake.store.lock:
        existing = fake.store.channels.get(channel_id)
        if existing is not None and existing.live(at):
            raise bad_request(f"Channel id {channel_id} not unique", reason="channelIdNotUnique")
        # Google gives one resourceId per watched collection: the same calendar yields the same id.
        resource_id = next(
            (c.resource_id for c in fake.store.channels.values() if c.calendar_id == calendar.id),
            ids.opaque("", 18).replace("-", "A").replace("_", "B"),
        )
        channel = Channel(
            id=channel_id,
            resource_id=resource_id,
            resource_uri=f"{request.host_url}calendar/v3/calendars/{calendar.id}/events?alt=json",
            calendar_id=calendar.id,
            address=address,
            token=token,
            expiration_ms=expiration_ms,
            client_id=caller.client_id,
            owner=caller.email,
        )
        fake.store.channels[channel_id] = channel
        fake.notifier.channel_created(channel)
    answer: dict[str, Any] = {
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": channel.resource_uri,
        "expiration": str(channel.expiration_ms),
    }
    if token is not None:
        answer["token"] = token
    return _ok(answer)


@api_method(bp, "calendar.channels.stop")
def channels_stop(caller: Caller) -> Response:
    body = json_body()
    fake = current()
    with fake.store.lock:
        channel = fake.store.channels.get(str(body.get("id")))
        if (
            channel is None
            or channel.stopped
            or channel.resource_id != body.get("resourceId")
            or channel.client_id != caller.client_id
        ):
            raise GoogleApiError(
                404, "notFound", f"Channel '{body.get('id')}' not found for project '{caller.client_id}'"
            )
        channel.stopped = True
    return _no_content()


@bp.errorhandler(GoogleApiError)
def _google_error(error: GoogleApiError) -> Response:
    return error.response()
