"""What a function instance runs on: secrets, the token cipher, time and the task queue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class TokenCipher(Protocol):
    def encrypt(self, plaintext: str, context: str) -> dict[str, Any]: ...

    def decrypt(self, sealed: Mapping[str, Any], context: str) -> str: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class TaskQueue(Protocol):
    def enqueue(self, queue: str, name: str, payload: Mapping[str, Any], delay_seconds: float = 0) -> bool:
        """Schedule `payload` for the queue's worker under a deterministic task name.

        Returns False when a task of that name already exists (a duplicate delivery), True otherwise.
        """
        ...


class Secrets(Protocol):
    def get(self, name: str) -> str:
        """The latest value of a secret; raises KeyError when it does not exist."""
        ...
