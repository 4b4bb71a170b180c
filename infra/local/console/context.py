"""The console's context: what it talks to, whom it acts as, and the helpers every page shares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, request, session, url_for
from google.cloud import firestore

from infra.local.console.clinic import ClinicSide
from infra.local.console.functions_api import Functions, clinic_backend_identity
from infra.local.console.google_side import GoogleSide
from infra.local.console.settings import ConsoleSettings
from shared.domain.clinic import Center, User

DEFAULT_ZONE = "Europe/Madrid"
Handler = TypeVar("Handler", bound=Callable[..., Any])


class Console:
    """What the pages talk to: the clinic's Firestore, our functions and the fake Google."""

    def __init__(self, settings: ConsoleSettings, db: firestore.Client | None = None) -> None:
        self.settings = settings
        self.clinic = ClinicSide(db or firestore.Client(project=settings.project), settings.clinic_id)
        self.functions = Functions(
            settings.functions_url, settings.clinic_id, clinic_backend_identity(settings.project)
        )
        self.google = GoogleSide(settings.google_url, settings.calendar_name)


def with_lang(language: str) -> str:
    """The current URL with another language."""
    args = {**request.args.to_dict(), "lang": language}
    return f"{request.path}?{urlencode(args)}"


def acting(console: Console) -> tuple[User | None, Center | None]:
    """The user and the centre the console acts as (None until chosen on the home page)."""
    if "user" not in g:
        user_id, center_id = session.get("user"), session.get("center")
        g.user = console.clinic.user(user_id) if user_id else None
        g.center = console.clinic.center(center_id) if center_id else None
    return g.user, g.center


def needs_someone(console: Console) -> Callable[[Handler], Handler]:
    """Pages that act as a clinic user send people to the home page until they chose one."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user, center = acting(console)
            if user is None or center is None:
                flash(g.texts("error.choose_user"), "error")
                return redirect(url_for("home", next=request.path))
            return handler(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def zone_of(console: Console) -> ZoneInfo:
    """The acting centre's time zone: the console shows and reads times there."""
    _, center = acting(console)
    if center is not None:
        return center.zone
    centers = console.clinic.centers()
    return centers[0].zone if centers else ZoneInfo(DEFAULT_ZONE)


def stamp(moment: datetime | None, zone: ZoneInfo) -> str:
    """A timestamp for people, in a time zone; a dash when there is none."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def safe_next(target: str | None, default: str) -> str:
    """Where to go after a form: a path of this console, else `default`."""
    # Only paths of this console: never bounce the browser to another site.
    return target if target and target.startswith("/") and not target.startswith("//") else default
