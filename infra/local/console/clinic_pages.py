"""The clinic app's pages: who you are, the profile with Google Calendar, the master's notifications."""

from __future__ import annotations

import logging

from flask import Flask, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from infra.local.console.clinic import Notification
from infra.local.console.context import Console, acting, needs_someone, safe_next
from infra.local.console.functions_api import FunctionError
from infra.local.console.texts import Texts
from shared.domain.link import HOLDING, LinkStatus, SyncLink
from shared.services.notices import APPROVAL_REQUESTED

log = logging.getLogger(__name__)


def register(app: Flask, console: Console) -> None:
    """Add these pages to the console's app."""
    clinic, functions, settings = console.clinic, console.functions, console.settings
    signed_in = needs_someone(console)

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
        return redirect(safe_next(request.form.get("next"), url_for("profile")))

    # --- the profile: Google Calendar --------------------------------------------------------------
    @app.get("/profile")
    @signed_in
    def profile() -> str:
        return _profile_page(outcome=None)

    @app.get("/profile/google/done")
    @signed_in
    def google_done() -> str:
        """Where oauth_callback sends the browser back: `linkId`, `status` and `code` (or `reason`).

        As the clinic app does, the console redeems the one-time code with complete_link for the user of
        its own session: a browser that is not that user's (a leaked consent URL) links nothing."""
        outcome = {key: request.args.get(key, "") for key in ("linkId", "status", "reason")}
        code = request.args.get("code", "")
        if outcome["status"] == "consented" and code:
            user, _ = acting(console)
            assert user is not None
            try:
                redeemed = functions.complete_link(user.id, outcome["linkId"], code)
                outcome["status"] = redeemed["link"]["status"]
                outcome["reason"] = redeemed.get("reason", "")
            except FunctionError as exc:
                outcome |= {"status": "failed", "reason": exc.code}
        return _profile_page(outcome=outcome)

    def _profile_page(outcome: dict[str, str] | None) -> str:
        user, center = acting(console)
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
    @signed_in
    def sign_in_with_google() -> Response:
        """oauth_start, then off to Google's consent pages; oauth_callback brings the browser back."""
        user, center = acting(console)
        assert user is not None and center is not None
        try:
            started = functions.start_link(
                center.id,
                user.id,
                request.form.get("professional") or None,
                request.form.get("bidirectional") == "on",
                f"{settings.console_url}{url_for('google_done')}",
                reconnect=request.form.get("reconnect") or None,
            )
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
            return redirect(url_for("profile"))
        log.info("sign-in started", extra={"linkId": started["linkId"]})
        return redirect(started["authorizationUrl"], code=303)

    @app.post("/links/<link_id>/disable")
    @signed_in
    def disable(link_id: str) -> Response:
        user, _ = acting(console)
        assert user is not None
        try:
            functions.disable(user.id, link_id)
            flash(g.texts("disabled"), "ok")
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
        return redirect(safe_next(request.form.get("next"), url_for("profile")))

    @app.post("/links/<link_id>/resync")
    @signed_in
    def resync(link_id: str) -> Response:
        user, _ = acting(console)
        assert user is not None
        try:
            functions.resync(user.id, link_id)
            flash(g.texts("resync_queued"), "ok")
        except FunctionError as exc:
            flash(g.texts.error(exc.code, exc.message), "error")
        return redirect(safe_next(request.form.get("next"), url_for("health")))

    # --- the master's notifications ----------------------------------------------------------------
    @app.get("/notifications")
    @signed_in
    def notifications() -> str:
        user, _ = acting(console)
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
    @signed_in
    def decide(notification_id: str) -> Response:
        """approve_link from the centre the console acts in (the function refuses any other centre)."""
        user, center = acting(console)
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
