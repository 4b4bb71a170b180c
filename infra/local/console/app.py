"""The console as a Flask app: Jinja templates, and a little JavaScript polling the console's JSON.

Who the console acts as (a user of the demo clinic, in one centre) and the language are kept in the
session cookie; every page says who that is, and the home page changes it. The pages live in
clinic_pages.py, week_pages.py and health_pages.py.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from flask import Flask, g, request, session
from google.cloud import firestore
from werkzeug.local import LocalProxy

from infra.local.console import clinic_pages, health_pages, week_pages
from infra.local.console.context import Console, acting, stamp, with_lang, zone_of
from infra.local.console.settings import ConsoleSettings
from infra.local.console.texts import DEFAULT_LANGUAGE, LANGUAGES, Texts


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
        user, center = acting(console)
        return {
            "lang": g.texts.language,
            "languages": LANGUAGES,
            "acting_user": user,
            "acting_center": center,
            "clinic_name": console.clinic.name(),
            "calendar_name": settings.calendar_name,
            "with_lang": with_lang,
            "unread": len([n for n in console.clinic.notifications(user.id) if not n.read]) if user else 0,
        }

    @app.template_filter("local")
    def local_time(moment: datetime | None) -> str:
        """A timestamp in the acting centre's time zone."""
        return stamp(moment, zone_of(console))

    for pages in (clinic_pages, week_pages, health_pages):
        pages.register(app, console)
    return app
