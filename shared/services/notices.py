"""The texts of what we tell clinic users (Spanish, as the clinic app speaks)."""

from __future__ import annotations

from shared.domain.clinic import Center, Professional, User
from shared.domain.link import SyncLink
from shared.ports import Notice

APPROVAL_REQUESTED = "link_approval_requested"
LINK_REJECTED = "link_rejected"
NEEDS_RECONNECT = "link_needs_reconnect"
CALENDAR_NOT_SHOWN = "link_calendar_not_shown"


def approval_requested(
    master: User, requester: User, professional: Professional, center: Center, link: SyncLink
) -> Notice:
    subject = (
        f"Autorización pendiente: sincronización con Google Calendar de {requester.name or requester.id}"
    )
    professional_name = professional.name or professional.id
    text = (
        f"{requester.name or requester.id} quiere sincronizar la agenda de {professional_name} "
        f"con la cuenta de Google {link.google_email}, desde {center.name or center.id}.\n"
        f"Para autorizarla, entre en {center.name or center.id} y pulse «Autorizar» en sus notificaciones."
    )
    return Notice(
        clinic_id=link.clinic_id,
        user=master,
        type=APPROVAL_REQUESTED,
        link_id=link.id,
        center_id=link.center_id,
        subject=subject,
        text=text,
        details={
            "requester": requester.name or requester.id,
            "professional": professional.name or professional.id,
            "googleEmail": link.google_email or "",
            "center": center.name or center.id,
        },
    )


def rejected(owner: User, link: SyncLink) -> Notice:
    return Notice(
        clinic_id=link.clinic_id,
        user=owner,
        type=LINK_REJECTED,
        link_id=link.id,
        center_id=link.center_id,
        subject="Sincronización con Google Calendar rechazada",
        text=f"El administrador ha rechazado la sincronización con la cuenta de Google {link.google_email}.",
    )


# What the user (or their administrator) must do, by the link's reason (see access.LostReason).
_RECONNECT_TEXTS: dict[str | None, tuple[str, str]] = {
    None: (
        "Google Calendar ha dejado de sincronizar",
        "La cuenta de Google {email} ya no permite el acceso. Desactive la sincronización y vuelva a "
        "vincularla desde su perfil; el calendario de Google se conserva.",
    ),
    "calendar_deleted": (
        "Se ha eliminado el calendario de Google sincronizado",
        "El calendario «{calendar}» de la cuenta de Google {email} se ha eliminado, y la sincronización "
        "se ha detenido. Para volver a sincronizar, desactívela y vuelva a vincular la cuenta desde su "
        "perfil: se creará un calendario nuevo con sus citas.",
    ),
    "admin_blocked": (
        "El administrador de Google bloquea la sincronización",
        "El administrador de Google Workspace de la cuenta {email} no permite que esta aplicación acceda "
        "a Google Calendar, y la sincronización se ha detenido. Pida a su administrador que la autorice "
        "(Consola de administración de Google: Seguridad > Acceso y control de datos > Controles de API > "
        "Acceso de aplicaciones de terceros) y vuelva a vincular la cuenta desde su perfil.",
    ),
    "client_deleted": (
        "Google ha dejado de reconocer la aplicación de sincronización",
        "Google ya no acepta la aplicación de sincronización de la clínica para la cuenta {email} (su "
        "cliente OAuth se ha eliminado o no está autorizado), y la sincronización se ha detenido. Avise al "
        "responsable técnico de la clínica; cuando la aplicación vuelva a estar disponible, desactive la "
        "sincronización y vuelva a vincularla desde su perfil.",
    ),
}


def needs_reconnect(recipient: User, link: SyncLink, calendar_name: str = "DASI eCLINIC") -> Notice:
    subject, text = _RECONNECT_TEXTS.get(link.reason, _RECONNECT_TEXTS[None])
    details = {"reason": link.reason} if link.reason else {}
    body = text.format(email=link.google_email, calendar=calendar_name)
    return _about(link, recipient, NEEDS_RECONNECT, subject, body, details)


def _about(link: SyncLink, user: User, kind: str, subject: str, text: str, details: dict[str, str]) -> Notice:
    """A notice about a link to one of its people."""
    return Notice(link.clinic_id, user, kind, link.id, link.center_id, subject, text, details)


def calendar_not_shown(
    owner: User, link: SyncLink, shown: str, calendar_name: str = "DASI eCLINIC"
) -> Notice:
    """The link's calendar is hidden or unselected in its user's Google Calendar: the sync goes on."""
    where = "está oculto en" if shown == "hidden" else "no está seleccionado en"
    text = (
        f"El calendario «{calendar_name}» {where} la lista de calendarios de la cuenta de Google "
        f"{link.google_email}: las citas se siguen sincronizando, pero no las verá. Para verlas, en "
        "Google Calendar, en «Mis calendarios», muéstrelo y marque su casilla."
    )
    subject = "Sus citas no se ven en Google Calendar"
    return _about(link, owner, CALENDAR_NOT_SHOWN, subject, text, {"shown": shown})
