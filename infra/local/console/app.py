"""The console's pages and JSON endpoints (Flask; Jinja templates; a little JavaScript polls the JSON).

Who the console acts as (a user of the demo clinic, in one centre) and the language are kept in the
session cookie; every page says who that is, and the home page changes it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, flash, g, jsonify, redirect, render_template, request, session, url_for
from google.cloud import firestore
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from infra.local.console.clinic import ClinicSide, Notification
from infra.local.console.functions_api import FunctionError, Functions
from infra.local.console.google_side import GoogleSide, GoogleSideError
from infra.local.console.settings import ConsoleSettings
from infra.local.console.texts import DEFAULT_LANGUAGE, LANGUAGES, Texts
from infra.local.console.week import DURATIONS, Item, Week, local_moment, place
from shared.domain.clinic import AppointmentStatus, Center, User
from shared.domain.link import HOLDING, LinkStatus, SyncLink
from shared.services.notices import APPROVAL_REQUESTED

log = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Madrid"
Handler = TypeVar("Handler", bound=Callable[..., Any])


class Console:
    """What the pages talk to: the clinic's Firestore, our functions and the fake Google."""

    def __init__(self, settings: ConsoleSettings, db: firestore.Client | None = None) -> None:
        self.settings = settings
        self.clinic = ClinicSide(db or firestore.Client(project=settings.project), settings.clinic_id)
        self.functions = Functions(settings.functions_url, settings.clinic_id)
        self.google = GoogleSide(settings.google_url, settings.calendar_name)


def create_app(settings: ConsoleSettings, db: firestore.Client | None = None) -> Flask:
    """The console as a WSGI app; `db` defaults to a Firestore client on FIRESTORE_EMULATOR_HOST."""
    app = Flask(__name__)
    # The session only says who the console acts as in a throwaway demo; a new key per process is enough.
    app.secret_key = secrets.token_bytes(32)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    console = Console(settings, db)
    app.extensions["console"] = console

    @app.before_request
    def choose_language() -> None:
        wanted = request.args.get("lang")
        if wanted in LANGUAGES:
            session["lang"] = wanted
        g.texts = Texts(session.get("lang", DEFAULT_LANGUAGE))

    # A global rather than a context variable: macros imported by templates see globals only.
    app.jinja_env.globals["t"] = LocalProxy(lambda: g.texts)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        user, center = _acting(console)
        return {
            "lang": g.texts.language,
            "languages": LANGUAGES,
            "acting_user": user,
            "acting_center": center,
            "clinic_name": console.clinic.name(),
            "calendar_name": settings.calendar_name,
            "with_lang": _with_lang,
            "unread": len([n for n in console.clinic.notifications(user.id) if not n.read]) if user else 0,
        }

    @app.template_filter("local")
    def local_time(moment: datetime | None) -> str:
        """A timestamp in the acting centre's time zone."""
        return _stamp(moment, _zone(console))

    _routes(app, console)
    return app


def _with_lang(language: str) -> str:
    """The current URL with another language."""
    args = {**request.args.to_dict(), "lang": language}
    return f"{request.path}?{urlencode(args)}"


def _acting(console: Console) -> tuple[User | None, Center | None]:
    if "user" not in g:
        user_id, center_id = session.get("user"), session.get("center")
        g.user = console.clinic.user(user_id) if user_id else None
        g.center = console.clinic.center(center_id) if center_id else None
    return g.user, g.center


def _needs_someone(console: Console) -> Callable[[Handler], Handler]:
    """Pages that act as a clinic user send people to the home page until they chose one."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user, center = _acting(console)
            if user is None or center is None:
                flash(g.texts("error.choose_user"), "error")
                return redirect(url_for("home", next=request.path))
            return handler(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def _zone(console: Console) -> ZoneInfo:
    _, center = _acting(console)
    if center is not None:
        return center.zone
    centers = console.clinic.centers()
    return centers[0].zone if centers else ZoneInfo(DEFAULT_ZONE)


def _stamp(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _safe_next(target: str | None, default: str) -> str:
    # Only paths of this console: never bounce the browser to another site.
    return target if target and target.startswith("/") and not target.startswith("//") else default


def _routes(app: Flask, console: Console) -> None:
    clinic, functions, google, settings = console.clinic, console.functions, console.google, console.settings
    needs_someone = _needs_someone(console)

    # --- who the console acts as -------------------------------------------------------------------
    @app.get("/")
    def home() -> str:
        return render_template(
            "home.html",
            users=clinic.users(),
            centers=clinic.centers(),
            next=request.args.get("next", ""),
        )

    @app.post("/act")
    def act() -> Response:
        user = clinic.user(request.form.get("user", ""))
        center = clinic.center(request.form.get("center", ""))
        if user is None or center is None:
            flash(g.texts("error.choose_user"), "error")
            return redirect(url_for("home"))
        session["user"], session["center"] = user.id, center.id
        return redirect(_safe_next(request.form.get("next"), url_for("profile")))

    # --- the profile: Google Calendar --------------------------------------------------------------
    @app.get("/profile")
    @needs_someone
    def profile() -> str:
        return _profile_page(outcome=None)

    @app.get("/profile/google/done")
    @needs_someone
    def google_done() -> str:
        """Where oauth_callback sends the browser back: `linkId`, `status` and maybe `reason`."""
        outcome = {key: request.args.get(key, "") for key in ("linkId", "status", "reason")}
        return _profile_page(outcome=outcome)

    def _profile_page(outcome: dict[str, str] | None) -> str:
        user, center = _acting(console)
        assert user is not None and center is not None
        try:
            links = functions.links(user.id)
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
            links = []
        mine = [link for link in links if link["userId"] == user.id]
        live = next((link for link in reversed(mine) if link["status"] in {s.value for s in HOLDING}), None)
        professionals = {p.id: p for p in clinic.professionals()}
        return render_template(
            "profile.html",
            user=user,
            outcome=outcome,
            live=live,
            links=list(reversed(links)),
            own_professionals=[professionals[p] for p in user.professional_ids if p in professionals],
            professionals=professionals,
            centers={c.id: c for c in clinic.centers()},
            users={u.id: u for u in clinic.users()},
        )

    @app.post("/profile/google")
    @needs_someone
    def sign_in_with_google() -> Response:
        """oauth_start, then off to Google's consent pages; oauth_callback brings the browser back."""
        user, center = _acting(console)
        assert user is not None and center is not None
        try:
            started = functions.start_link(
                center.id,
                user.id,
                request.form.get("professional") or None,
                request.form.get("bidirectional") == "on",
                f"{settings.console_url}{url_for('google_done')}",
            )
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
            return redirect(url_for("profile"))
        log.info("sign-in started", extra={"linkId": started["linkId"]})
        return redirect(started["authorizationUrl"], code=303)

    @app.post("/links/<link_id>/disable")
    @needs_someone
    def disable(link_id: str) -> Response:
        user, _ = _acting(console)
        assert user is not None
        try:
            functions.disable(user.id, link_id)
            flash(g.texts("disabled"), "ok")
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
        return redirect(_safe_next(request.form.get("next"), url_for("profile")))

    # --- the master's notifications ----------------------------------------------------------------
    @app.get("/notifications")
    @needs_someone
    def notifications() -> str:
        user, _ = _acting(console)
        assert user is not None
        entries = []
        for notification in clinic.notifications(user.id):
            link = clinic.link(notification.link_id) if notification.link_id else None
            entries.append(
                {
                    "notification": notification,
                    "link": link,
                    "decidable": _decidable(notification, link),
                    "words": _notice_words(notification, g.texts),
                }
            )
        return render_template(
            "notifications.html", entries=entries, centers={c.id: c for c in clinic.centers()}
        )

    @app.post("/notifications/<notification_id>/decide")
    @needs_someone
    def decide(notification_id: str) -> Response:
        """approve_link from the centre the console acts in (the function refuses any other centre)."""
        user, center = _acting(console)
        assert user is not None and center is not None
        approve = request.form.get("decision") == "approve"
        try:
            link = functions.decide(center.id, user.id, request.form.get("linkId", ""), approve)
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
        else:
            clinic.mark_read(notification_id)
            status = g.texts(f"status.{link['status']}")
            flash(
                g.texts("notifications.approved", status=status)
                if approve
                else g.texts("notifications.rejected"),
                "ok",
            )
        return redirect(url_for("notifications"))

    # --- the week, both sides ----------------------------------------------------------------------
    def _week_choices() -> dict[str, Any]:
        zone = _zone(console)
        week = Week.parse(request.args.get("week"), zone)
        user, _ = _acting(console)
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

    # --- clinic appointments -----------------------------------------------------------------------
    @app.post("/agenda/appointments")
    def create_appointment() -> Response:
        zone = _zone(console)
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
        zone = _zone(console)
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
        span = _form_range(_zone(console))
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
        zone = _zone(console)
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
        zone = _zone(console)
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
        zone = _zone(console)
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

    # --- sync health -------------------------------------------------------------------------------
    @app.get("/health")
    def health() -> str:
        return render_template("health.html", data=_health_data())

    @app.get("/api/links")
    def links_json() -> Response:
        return jsonify(_health_data())

    def _health_data() -> dict[str, Any]:
        texts: Texts = g.texts
        zone = _zone(console)
        users = {u.id: u for u in clinic.users()}
        professionals = {p.id: p for p in clinic.professionals()}
        centers = {c.id: c for c in clinic.centers()}
        rows = []
        for link, document in clinic.links():
            error = link.last_error or {}
            rows.append(
                {
                    "id": link.id,
                    "user": users[link.user_id].name if link.user_id in users else link.user_id,
                    "professional": (
                        professionals[link.professional_id].name
                        if link.professional_id in professionals
                        else link.professional_id
                    ),
                    "center": centers[link.center_id].name if link.center_id in centers else link.center_id,
                    "status": link.status.value,
                    "statusLabel": texts(f"status.{link.status.value}"),
                    "reason": link.reason or "",
                    "googleEmail": link.google_email or "—",
                    "bidirectional": texts("yes") if link.bidirectional else texts("no"),
                    "lastPushAt": _stamp(link.last_push_at, zone),
                    "lastPullAt": _stamp(link.last_pull_at, zone) if link.bidirectional else "—",
                    "channelExpiresAt": _stamp(link.channel.expires_at if link.channel else None, zone),
                    "lastError": f"{error.get('code', '')}: {error.get('message', '')}" if error else "—",
                    "conflicts": link.conflicts,
                    "lastConflictAt": _stamp(document.get("lastConflictAt"), zone) if link.conflicts else "",
                }
            )
        return {"updated": datetime.now(zone).strftime("%H:%M:%S"), "links": rows}


def _linked_account(links: list[tuple[SyncLink, dict[str, Any]]], professional_id: str) -> str | None:
    """The Google account of the professional's newest link that holds one (active first)."""
    holding = [link for link, _ in links if link.professional_id == professional_id and link.holds_keys]
    holding.sort(key=lambda link: (link.status is LinkStatus.ACTIVE, link.created_at), reverse=True)
    return holding[0].google_email if holding else None


def _decidable(notification: Notification, link: SyncLink | None) -> bool:
    return (
        notification.type == APPROVAL_REQUESTED
        and link is not None
        and link.status is LinkStatus.PENDING_APPROVAL
        and not link.approved_by
    )


def _notice_words(notification: Notification, texts: Texts) -> tuple[str, str]:
    """Title and text in the console's language when the notice's details allow, else as stored."""
    title_key, text_key = f"notice_title.{notification.type}", f"notice.{notification.type}"
    if texts.has(title_key) and texts.has(text_key):
        try:
            return texts(title_key, **notification.details), texts(text_key, **notification.details)
        except KeyError:
            pass  # a notice written without every detail keeps its own words
    return notification.title, notification.text


def _day_label(day: date, texts: Texts) -> dict[str, str]:
    label = texts("day_format", weekday=texts(f"weekday.{day.weekday()}"), day=day.day, month=day.month)
    return {"date": day.isoformat(), "label": label}
