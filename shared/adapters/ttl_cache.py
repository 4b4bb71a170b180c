"""A per-instance cache of values that change rarely, each kept for a few seconds after it was read.

A function instance serves many changes a minute; documents such as a clinic's settings or a link's sealed
refresh token change rarely, so reading them once per instance and TTL instead of once per change saves a
Firestore read (and a round trip) per change, at the price of a change taking up to the TTL to be seen.
The keeping and the eviction are cachetools' TTLCache; this wrapper adds the read-through and the rule that
what does not exist is never kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Enough for every clinic and link an instance serves; past it the least recently used value goes first.
DEFAULT_MAXSIZE = 4096


class TtlCache(Generic[K, V]):
    """Values by key, each reused for `seconds` after it was loaded; 0 seconds loads every time.

    A load that answers None is not kept: what does not exist yet is read again next time.
    """

    def __init__(
        self, seconds: float, clock: Callable[[], float] = time.monotonic, maxsize: int = DEFAULT_MAXSIZE
    ) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._values: TTLCache[K, V] | None = (
            TTLCache(maxsize=maxsize, ttl=seconds, timer=clock) if seconds > 0 else None
        )

    def get(self, key: K, load: Callable[[], V | None]) -> V | None:
        """The value kept for `key` while fresh, else `load()` (kept when not None)."""
        if self._values is None:
            return load()
        with self._lock:
            kept = self._values.get(key)
        if kept is not None:
            return kept
        # Loaded outside the lock: a slow read must not hold up other keys. Two threads missing the same
        # key both read it, which costs a read, never a wrong value.
        value = load()
        with self._lock:
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = value
        return value

    def forget(self, key: K) -> None:
        """Drop what is kept for `key` (this instance changed it)."""
        if self._values is not None:
            with self._lock:
                self._values.pop(key, None)
