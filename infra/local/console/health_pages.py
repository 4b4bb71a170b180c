"""Sync health: every link of the clinic and how its sync is doing, updating by itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, g, jsonify, render_template, url_for
from werkzeug.wrappers import Response

from infra.local.console.context import Console, stamp, zone_of
from infra.local.console.texts import Texts


def register(app: Flask, console: Console) -> None:
    """Add these pages to the console's app."""
    clinic = console.clinic

    # --- sync health -------------------------------------------------------------------------------
    @app.get("/health")
    def health() -> str:
        return render_template("health.html", data=_health_data())

    @app.get("/api/links")
    def links_json() -> Response:
        return jsonify(_health_data())

    def _health_data() -> dict[str, Any]:
        texts: Texts = g.texts
        zone = zone_of(console)
        users = {u.id: u for u in clinic.users()}
        professionals = {p.id: p for p in clinic.professionals()}
        centers = {c.id: c for c in clinic.centers()}
        rows = []
        for link, document in clinic.links():
            error = link.last_error or {}
            held = link.health or {}
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
                    # Hidden or unselected in the user's Google calendar list: synced, but not seen.
                    "calendarShown": (
                        texts(f"shown.{link.calendar_shown}")
                        if link.calendar_shown in ("hidden", "unselected")
                        else ""
                    ),
                    "googleEmail": link.google_email or "—",
                    "bidirectional": texts("yes") if link.bidirectional else texts("no"),
                    "lastPushAt": stamp(link.last_push_at, zone),
                    "lastPullAt": stamp(link.last_pull_at, zone) if link.bidirectional else "—",
                    "channelExpiresAt": stamp(link.channel.expires_at if link.channel else None, zone),
                    "health": _held(texts, held, zone),
                    "lastError": f"{error.get('code', '')}: {error.get('message', '')}" if error else "—",
                    "conflicts": link.conflicts,
                    "pendingFailures": link.pending_failures,
                    # The resync button's form (resync_link); only an active link can be synced again.
                    "resyncUrl": url_for("resync", link_id=link.id) if link.status.value == "active" else "",
                    "lastConflictAt": stamp(document.get("lastConflictAt"), zone) if link.conflicts else "",
                }
            )
        return {"updated": datetime.now(zone).strftime("%H:%M:%S"), "links": rows}


def _held(texts: Texts, held: dict[str, Any], zone: Any) -> str:
    """Why the link waits, for people: the known codes in words, with when it is tried again."""
    if not held:
        return "—"
    code = str(held.get("code", ""))
    until = held.get("until")
    when = stamp(datetime.fromisoformat(until), zone) if isinstance(until, str) else ""
    label = texts(f"health.{code}") if code == "daily_quota_exceeded" else code
    return f"{label} {when}".strip()
