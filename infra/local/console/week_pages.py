"""The week view: the professional's agenda and the Google calendar side by side, and their edit pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, flash, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from infra.local.console.context import Console, acting, zone_of
from infra.local.console.google_side import GoogleSideError
from infra.local.console.texts import Texts
from infra.local.console.week import DURATIONS, Item, Week, local_moment, place
from shared.domain.clinic import AppointmentStatus
from shared.domain.link import LinkStatus, SyncLink


def register(app: Flask, console: Console) -> None:
    """Add these pages to the console's app."""
    clinic, google, settings = console.clinic, console.google, console.settings

    # --- the week, both sides ----------------------------------------------------------------------
    def _week_choices() -> dict[str, Any]:
        zone = zone_of(console)
        week = Week.parse(request.args.get("week"), zone)
        user, _ = acting(console)
        professionals = clinic.professionals()
        default_professional = (
            user.professional_ids[0]
            if user and user.professional_ids
            else (professionals[0].id if professionals else "")
        )
        professional_id = request.args.get("professional") or default_professional
        account = request.args.get("account")
        if account is None:
            account = _linked_account(clinic.links(), professional_id) or ""
        return {"week": week, "professional_id": professional_id, "account": account}

    @app.get("/week")
    def week_page() -> str:
        choices = _week_choices()
        try:
            accounts = google.accounts()
        except GoogleSideError as exc:
            flash(g.texts("error.google", message=str(exc)), "error")
            accounts = []
        if choices["account"] and choices["account"] not in accounts:
            accounts.append(choices["account"])
        week: Week = choices["week"]
        today = datetime.now(week.zone).date()
        return render_template(
            "week.html",
            **choices,
            data=_week_data(**choices),
            accounts=accounts,
            professionals=clinic.professionals(),
            centers=clinic.centers(),
            days=[_day_label(day, g.texts) for day in week.days],
            today=today.isoformat(),
            default_day=(today if week.monday <= today < week.next else week.monday).isoformat(),
            durations=DURATIONS,
        )

    @app.get("/api/week")
    def week_json() -> Response:
        return jsonify(_week_data(**_week_choices()))

    def _week_data(week: Week, professional_id: str, account: str) -> dict[str, Any]:
        texts: Texts = g.texts
        centers = {c.id: c for c in clinic.centers()}
        query: dict[str, Any] = {
            "week": week.monday.isoformat(),
            "professional": professional_id,
            "account": account,
        }
        agenda = [
            Item(
                id=appointment.id,
                start=appointment.start,
                end=appointment.end,
                title=appointment.service or appointment.title or texts("appointment.title"),
                detail=" · ".join(
                    part
                    for part in (
                        appointment.patient_name or (texts("week.from_google") if appointment.origin else ""),
                        centers[appointment.center_id].name if appointment.center_id in centers else "",
                        texts("week.cancelled") if appointment.status is AppointmentStatus.CANCELLED else "",
                    )
                    if part
                ),
                href=url_for("appointment_page", appointment_id=appointment.id, **query),
                cancelled=appointment.status is AppointmentStatus.CANCELLED,
                all_day=appointment.all_day,
            )
            for appointment in clinic.appointments(professional_id, week.start, week.end)
        ]
        side: dict[str, Any] = {"account": account, "calendarId": None, "items": [], "message": None}
        if not account:
            side["message"] = texts("week.choose_account")
        else:
            try:
                calendar = google.calendar(account)
                if calendar is None:
                    side["message"] = texts("week.no_calendar", calendar=settings.calendar_name)
                else:
                    side["calendarId"] = calendar["id"]
                    events = google.events(account, calendar["id"], week.start, week.end)
                    side["items"] = place(
                        [
                            Item(
                                id=event.id,
                                start=event.start,
                                end=event.end,
                                title=event.summary,
                                href=url_for("event_page", event_id=event.id, **query),
                                all_day=event.all_day,
                            )
                            for event in events
                        ],
                        week,
                    )
            except GoogleSideError as exc:
                side["message"] = texts("error.google", message=str(exc))
        return {
            "updated": datetime.now(week.zone).strftime("%H:%M:%S"),
            "week": week.monday.isoformat(),
            "agenda": {"professionalId": professional_id, "items": place(agenda, week)},
            "google": side,
        }

    def _back_to_week(day: str | None = None) -> Response:
        args: dict[str, Any] = {k: request.values.get(k, "") for k in ("professional", "account")}
        args["week"] = day or request.values.get("week", "")
        return redirect(url_for("week_page", **args))

    def _form_range(zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        try:
            start = local_moment(request.form["date"], request.form["time"], zone)
            minutes = int(request.form.get("duration", "30"))
        except (KeyError, ValueError):
            flash(g.texts("bad_time"), "error")
            return None
        return start, start + timedelta(minutes=max(minutes, 5))

    def _form_count() -> int:
        try:
            return int(request.form.get("count", "1"))
        except ValueError:
            return 1

    # --- clinic appointments -----------------------------------------------------------------------
    @app.post("/agenda/appointments")
    def create_appointment() -> Response:
        zone = zone_of(console)
        span = _form_range(zone)
        center_id = request.form.get("center", "")
        professional_id = request.form.get("professional", "")
        if span is None or clinic.center(center_id) is None or not professional_id:
            return _back_to_week()
        clinic.create_appointment(
            professional_id,
            center_id,
            *span,
            request.form.get("patient", "").strip() or None,
            request.form.get("service", "").strip() or None,
        )
        flash(g.texts("appointment.created"), "ok")
        return _back_to_week(span[0].date().isoformat())

    @app.get("/agenda/appointments/<appointment_id>")
    def appointment_page(appointment_id: str) -> Any:
        appointment = clinic.appointment(appointment_id)
        if appointment is None:
            flash(g.texts("appointment.missing"), "error")
            return _back_to_week()
        zone = zone_of(console)
        return render_template(
            "appointment.html",
            appointment=appointment,
            start=appointment.start.astimezone(zone),
            end=appointment.end.astimezone(zone),
            minutes=int((appointment.end - appointment.start).total_seconds() // 60),
            centers={c.id: c for c in clinic.centers()},
            durations=DURATIONS,
            cancelled=appointment.status is AppointmentStatus.CANCELLED,
        )

    @app.post("/agenda/appointments/<appointment_id>/move")
    def move_appointment(appointment_id: str) -> Response:
        span = _form_range(zone_of(console))
        if span is None or clinic.appointment(appointment_id) is None:
            return _back_to_week()
        clinic.move_appointment(appointment_id, *span)
        flash(g.texts("appointment.moved"), "ok")
        return _back_to_week(span[0].date().isoformat())

    @app.post("/agenda/appointments/<appointment_id>/cancel")
    def cancel_appointment(appointment_id: str) -> Response:
        if clinic.appointment(appointment_id) is not None:
            clinic.cancel_appointment(appointment_id)
            flash(g.texts("appointment.cancelled"), "ok")
        return _back_to_week()

    # --- Google events, as the user edits them in Google Calendar ----------------------------------
    def _calendar_of(account: str) -> dict[str, Any]:
        calendar = google.calendar(account) if account else None
        if calendar is None:
            raise GoogleSideError(g.texts("week.no_calendar", calendar=settings.calendar_name))
        return calendar

    @app.post("/google/events")
    def create_event() -> Response:
        account = request.form.get("account", "")
        zone = zone_of(console)
        span = _form_range(zone)
        if span is None:
            return _back_to_week()
        try:
            calendar = _calendar_of(account)
            google.create(
                account,
                calendar["id"],
                request.form.get("summary", "").strip() or g.texts("appointment.title"),
                *span,
                calendar.get("timeZone") or zone.key,
                repeat=request.form.get("repeat") or None,
                count=_form_count(),
                all_day=request.form.get("all_day") == "on",
            )
            flash(g.texts("event.created"), "ok")
        except GoogleSideError as exc:
            flash(g.texts("error.google", message=str(exc)), "error")
        return _back_to_week(span[0].date().isoformat())

    @app.get("/google/events/<event_id>")
    def event_page(event_id: str) -> Any:
        account = request.args.get("account", "")
        try:
            calendar = _calendar_of(account)
            event = google.event(account, calendar["id"], event_id)
        except GoogleSideError as exc:
            flash(g.texts("error.google", message=str(exc)), "error")
            return _back_to_week()
        if event is None:
            flash(g.texts("event.missing"), "error")
            return _back_to_week()
        zone = zone_of(console)
        return render_template(
            "event.html",
            event=event,
            account=account,
            start=event.start.astimezone(zone),
            end=event.end.astimezone(zone),
            minutes=int((event.end - event.start).total_seconds() // 60),
            durations=DURATIONS,
        )

    @app.post("/google/events/<event_id>/move")
    def move_event(event_id: str) -> Response:
        account = request.form.get("account", "")
        zone = zone_of(console)
        span = _form_range(zone)
        if span is None:
            return _back_to_week()
        try:
            calendar = _calendar_of(account)
            google.move(account, calendar["id"], event_id, *span, calendar.get("timeZone") or zone.key)
            flash(g.texts("event.moved"), "ok")
        except GoogleSideError as exc:
            flash(g.texts("error.google", message=str(exc)), "error")
        return _back_to_week(span[0].date().isoformat())

    @app.post("/google/events/<event_id>/delete")
    def delete_event(event_id: str) -> Response:
        account = request.form.get("account", "")
        try:
            google.delete(account, _calendar_of(account)["id"], event_id)
            flash(g.texts("event.deleted"), "ok")
        except GoogleSideError as exc:
            flash(g.texts("error.google", message=str(exc)), "error")
        return _back_to_week()


def _linked_account(links: list[tuple[SyncLink, dict[str, Any]]], professional_id: str) -> str | None:
    """The Google account of the professional's newest link that holds one (active first)."""
    holding = [link for link, _ in links if link.professional_id == professional_id and link.holds_keys]
    holding.sort(key=lambda link: (link.status is LinkStatus.ACTIVE, link.created_at), reverse=True)
    return holding[0].google_email if holding else None


def _day_label(day: date, texts: Texts) -> dict[str, str]:
    label = texts("day_format", weekday=texts(f"weekday.{day.weekday()}"), day=day.day, month=day.month)
    return {"date": day.isoformat(), "label": label}
