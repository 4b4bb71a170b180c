"""The texts of what we tell clinic users (Spanish, as the clinic app speaks)."""

from __future__ import annotations

from shared.domain.clinic import Center, Professional, User
from shared.domain.link import SyncLink
from shared.ports import Notice

APPROVAL_REQUESTED = "link_approval_requested"
LINK_REJECTED = "link_rejected"
NEEDS_RECONNECT = "link_needs_reconnect"


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


def needs_reconnect(recipient: User, link: SyncLink) -> Notice:
    return Notice(
        clinic_id=link.clinic_id,
        user=recipient,
        type=NEEDS_RECONNECT,
        link_id=link.id,
        center_id=link.center_id,
        subject="Google Calendar ha dejado de sincronizar",
        text=(
            f"La cuenta de Google {link.google_email} ya no permite el acceso. Desactive la sincronización "
            "y vuelva a vincularla desde su perfil; el calendario de Google se conserva."
        ),
    )
