"""What clinic users must be told, and how it reaches them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shared.domain.clinic import User


@dataclass(frozen=True)
class Notice:
    """Something a clinic user must know: an in-app notification and an e-mail."""

    clinic_id: str
    user: User
    type: str
    link_id: str
    center_id: str
    subject: str
    text: str
    details: Mapping[str, str] = field(default_factory=dict)


class Notifier(Protocol):
    def notify(self, notice: Notice) -> None: ...
