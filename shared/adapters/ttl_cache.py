"""A per-instance cache of values that change rarely, each kept for a few seconds after it was read.

A function instance serves many changes a minute; documents such as a clinic's settings or a link's sealed
refresh token change rarely, so reading them once per instance and TTL instead of once per change saves a
Firestore read (and a round trip) per change, at the price of a change taking up to the TTL to be seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values by key, each reused for `seconds` after it was loaded; 0 seconds loads every time.

    A load that answers None is not kept: what does not exist yet is read again next time.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[K, tuple[float, V]] = {}

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The value kept for `key` while fresh, else `load()` (kept when not None)."""
        if self.seconds <= 0:
            return load()
        now = self._clock()
        with self._lock:
            kept = self._values.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        value = load()
        with self._lock:
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = (now, value)
        return value

    def forget(self, key: K) -> None:
        """Drop what is kept for `key` (this instance changed it)."""
        with self._lock:
            self._values.pop(key, None)
