"""What the HTTP functions tell people, per machine-readable code: Spanish first, English second.

The services raise errors with a stable English `code` and an English message meant for the logs; the
edge (functions/http.py) answers the code with this catalogue's text. Spanish is what the clinic app and
its users speak; a caller that asks for English (`Accept-Language: en`, as the console's English view
does) gets English. Codes never change with the language.
"""

from __future__ import annotations

from typing import Literal

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
DEFAULT_LANGUAGE: Language = "es"

# code -> (Spanish, English). `{field}` is filled with the request field that failed validation.
ERRORS: dict[str, tuple[str, str]] = {
    # The request itself.
    "invalid_request": (
        "La petición no es válida.",
        "The request is not valid.",
    ),
    "invalid_field": (
        "La petición no es válida: revise el campo «{field}».",
        "The request is not valid: check the field “{field}”.",
    ),
    "payload_too_large": (
        "La petición es demasiado grande (máximo 64 KiB).",
        "The request is too large (64 KiB at most).",
    ),
    "return_url_not_allowed": (
        "La dirección de vuelta («returnUrl») debe usar https y un dominio autorizado de la aplicación de la clínica.",
        "The return address (“returnUrl”) must use https and an authorized host of the clinic app.",
    ),
    "method_not_allowed": (
        "Este método HTTP no está permitido aquí.",
        "This HTTP method is not allowed here.",
    ),
    "invalid_time_zone": (
        "La zona horaria del centro no es válida.",
        "The centre's time zone is not valid.",
    ),
    "invalid_appointment": (
        "La cita no es válida: le falta el inicio, el fin, el profesional o el centro, o su estado es desconocido.",
        "The appointment is not valid: it misses its start, end, professional or centre, or its status is unknown.",
    ),
    "invalid_clinic": (
        "Los datos de la clínica no son válidos: corríjalos para que la sincronización continúe.",
        "The clinic's settings are not valid: correct them for the sync to go on.",
    ),
    "invalid_time_range": (
        "La cita termina antes de empezar.",
        "The appointment ends before it starts.",
    ),
    # Who and what the request names.
    "clinic_not_found": ("La clínica no existe.", "The clinic does not exist."),
    "center_not_found": ("El centro no existe.", "The centre does not exist."),
    "user_not_found": ("El usuario no existe.", "The user does not exist."),
    "professional_not_found": ("El profesional no existe.", "The professional does not exist."),
    "link_not_found": ("La vinculación no existe.", "The link does not exist."),
    "professional_required": (
        "El usuario está vinculado a varios profesionales: indique cuál en «professionalId».",
        "The user is linked to several professionals: name one in “professionalId”.",
    ),
    # The clinic's rules.
    "user_not_linked_to_professional": (
        "El usuario no está vinculado a ese profesional: un usuario master debe vincularlos primero.",
        "The user is not linked to that professional: a master must link them first.",
    ),
    "user_already_linked": (
        "Este usuario ya sincroniza una agenda con Google Calendar.",
        "This user already syncs an agenda with Google Calendar.",
    ),
    "email_already_linked": (
        "Esta cuenta de Google ya sincroniza una agenda.",
        "This Google account already syncs an agenda.",
    ),
    "account_already_linked": (
        "Esta cuenta de Google ya sincroniza una agenda.",
        "This Google account already syncs an agenda.",
    ),
    "not_master": (
        "Solo un usuario master de la clínica puede autorizar una vinculación.",
        "Only a master of the clinic can authorize a link.",
    ),
    "wrong_center": (
        "La vinculación se autoriza desde el centro donde se solicitó.",
        "The link is authorized from the centre where it was requested.",
    ),
    "link_not_pending": (
        "La vinculación ya no está pendiente: ya se decidió, se completó o se canceló.",
        "The link is no longer pending: it was already decided, completed or cancelled.",
    ),
    "link_not_active": (
        "Solo se puede volver a sincronizar una vinculación activa.",
        "Only an active link can be synced again.",
    ),
    "link_state_conflict": (
        "La vinculación ha cambiado mientras tanto; vuelva a consultarla.",
        "The link changed meanwhile; read it again.",
    ),
    # Google's sign-in round trip.
    "invalid_state": (
        "El inicio de sesión con Google ha caducado o ya se usó. Vuelva a empezar desde la clínica.",
        "The Google sign-in expired or was already used. Start again from the clinic.",
    ),
    "invalid_code": (
        "El código de vinculación no es válido o ya se usó. Vuelva a empezar desde la clínica.",
        "The link code is not valid or was already used. Start again from the clinic.",
    ),
    "link_not_reconnectable": (
        "Esta vinculación no necesita volver a conectarse.",
        "This link does not need reconnecting.",
    ),
    # Google's push notifications and the task workers.
    "bad_channel_token": (
        "La notificación no procede de un canal nuestro.",
        "The notification does not come from one of our channels.",
    ),
    "retry_later": (
        "Google no responde por ahora; se volverá a intentar.",
        "Google is busy for now; it will be retried.",
    ),
    # Defaults of the error classes, for a refusal raised without a code of its own.
    "bad_request": ("La petición no se puede atender.", "The request cannot be served."),
    "not_found": ("No existe.", "It does not exist."),
    "forbidden": ("No tiene permiso para hacer esto.", "You may not do this."),
    "conflict": (
        "El estado actual no permite hacer esto.",
        "The current state does not allow this.",
    ),
    "internal": (
        "Error inesperado; ha quedado registrado.",
        "Unexpected error; it has been logged.",
    ),
}

# Why a link failed or ended (`reason`), as the page after Google's consent shows it.
REASONS: dict[str, tuple[str, str]] = {
    "access_denied": (
        "No se dio permiso de acceso a Google Calendar.",
        "Access to Google Calendar was not granted.",
    ),
    "oauth_error": (
        "Google no completó el inicio de sesión.",
        "Google did not complete the sign-in.",
    ),
    "missing_scope": (
        "Falta el permiso para gestionar los calendarios creados por la aplicación: marque la casilla en la pantalla de Google.",
        "The permission to manage the calendars the app creates is missing: tick the box on Google's screen.",
    ),
    "no_refresh_token": (
        "Google no concedió acceso permanente; vuelva a intentarlo.",
        "Google granted no lasting access; try again.",
    ),
    "exchange_failed": (
        "Google rechazó el inicio de sesión; vuelva a intentarlo.",
        "Google refused the sign-in; try again.",
    ),
    "email_already_linked": ERRORS["email_already_linked"],
    "user_already_linked": ERRORS["user_already_linked"],
    "code_expired": (
        "El código de vinculación caducó antes de usarse; vuelva a empezar desde la clínica.",
        "The link code expired before it was used; start again from the clinic.",
    ),
    "other_account": (
        "Para volver a conectar hay que usar la misma cuenta de Google que tenía la vinculación.",
        "Reconnecting needs the same Google account the link had.",
    ),
    "superseded": (
        "Se empezó otra vinculación después de esta.",
        "Another link was started after this one.",
    ),
    "activation_failed": (
        "No se pudo crear el calendario en Google.",
        "The calendar could not be created in Google.",
    ),
    "rejected": ("El usuario master rechazó la vinculación.", "The master rejected the link."),
}

# The page after Google's consent, per outcome (a link status, or `error` for a refused callback).
PAGES: dict[str, tuple[str, str]] = {
    "title": ("Google Calendar", "Google Calendar"),
    "consented": (
        "Google ha dado el acceso. Para terminar, vuelva a la aplicación de la clínica, con su sesión, "
        "e introduzca este código de vinculación:",
        "Google granted access. To finish, go back to the clinic app, signed in as yourself, and enter this "
        "link code:",
    ),
    "active": (
        "La agenda ya se sincroniza con Google Calendar.",
        "The agenda now syncs with Google Calendar.",
    ),
    "pending_approval": (
        "Vinculación hecha. Falta la autorización del usuario master de la clínica.",
        "Linked. The clinic's master still has to authorize it.",
    ),
    "failed": (
        "No se ha podido vincular la cuenta de Google.",
        "The Google account could not be linked.",
    ),
    "needs_reconnect": (
        "Google no da acceso a la cuenta: vuelva a vincularla desde la clínica.",
        "Google gives no access to the account: link it again from the clinic.",
    ),
    "error": (
        "No se ha podido completar la vinculación con Google.",
        "The link with Google could not be completed.",
    ),
    "reason": ("Motivo", "Reason"),
    "close": ("Ya puede cerrar esta ventana.", "You may close this window now."),
}


def choose_language(accept_language: str | None) -> Language:
    """English when the caller prefers it to Spanish (`en`, `en-GB`, ...), else Spanish, also when the
    header names neither."""
    # Values in order of preference (quality, then as written); `es-ES` counts as `es`.
    for value, quality in parse_accept_header(accept_language, LanguageAccept):
        primary = value.lower().split("-")[0]
        if quality <= 0:  # q=0: "not this one"
            continue
        if primary == "en":
            return "en"
        if primary == "es":
            return "es"
    return DEFAULT_LANGUAGE


def _pick(entry: tuple[str, str], language: Language) -> str:
    return entry[LANGUAGES.index(language)]


def error_message(code: str, language: Language = DEFAULT_LANGUAGE, field: str | None = None) -> str:
    """The people's message for an error code (a generic one if a code was ever missed)."""
    if field and code == "invalid_request":
        return _pick(ERRORS["invalid_field"], language).format(field=field)
    return _pick(ERRORS.get(code, ERRORS["bad_request"]), language)


def reason_text(reason: str, language: Language = DEFAULT_LANGUAGE) -> str:
    entry = REASONS.get(reason) or ERRORS.get(reason)
    return _pick(entry, language) if entry else reason


def page_text(key: str, language: Language = DEFAULT_LANGUAGE) -> str:
    return _pick(PAGES.get(key, PAGES["error"]), language)
