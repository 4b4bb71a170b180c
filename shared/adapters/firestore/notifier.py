"""Notifier: an in-app notification document and a Trigger Email `mail` document, in one batch."""

from __future__ import annotations

import html

from google.cloud import firestore

from shared.ports import Notice


class FirestoreNotifier:
    """Notifier: an in-app notification document and a Trigger Email `mail` document."""

    def __init__(self, db: firestore.Client) -> None:
        self.db = db

    def notify(self, notice: Notice) -> None:
        batch = self.db.batch()
        batch.set(
            self.db.collection("clinics").document(notice.clinic_id).collection("notifications").document(),
            {
                "userId": notice.user.id,
                "type": notice.type,
                "linkId": notice.link_id,
                "centerId": notice.center_id,
                "title": notice.subject,
                "text": notice.text,
                "details": dict(notice.details),
                "createdAt": firestore.SERVER_TIMESTAMP,
                "read": False,
            },
        )
        if notice.user.email:
            paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in notice.text.splitlines())
            batch.set(
                self.db.collection("mail").document(),
                {
                    "to": notice.user.email,
                    "message": {"subject": notice.subject, "text": notice.text, "html": paragraphs},
                },
            )
        batch.commit()
