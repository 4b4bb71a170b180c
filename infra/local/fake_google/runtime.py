"""The live parts of one fake Google instance, shared by its blueprints through `app.extensions`."""

from __future__ import annotations

import threading
from collections import Counter

from flask import current_app

from .config import FakeGoogleConfig
from .faults import Faults
from .notifications import Notifier
from .quotas import Quotas
from .store import Store

EXTENSION_KEY = "fake_google"


class FakeGoogle:
    """Config, state, quotas, faults, notifier and request counters of one instance."""

    def __init__(self, config: FakeGoogleConfig) -> None:
        self.config = config
        self.store = Store(default_time_zone=config.default_time_zone)
        self.quotas = Quotas(config.per_user_per_minute, config.per_project_per_minute)
        self.faults = Faults()
        self.notifier = Notifier(self.store, config.notification_timeout_seconds)
        self.latency_ms = config.latency_ms
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def count(self, route_name: str) -> None:
        """Count one request under its route name."""
        with self._counts_lock:
            self._counts[route_name] += 1

    def counts(self) -> dict[str, int]:
        """Requests per route name since the last reset."""
        with self._counts_lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        """Forget all state, counters, faults and quota windows; latency back to the configured value."""
        self.notifier.discard_pending()
        self.store.reset()
        self.quotas.reset(self.config.per_user_per_minute, self.config.per_project_per_minute)
        self.faults.clear()
        self.latency_ms = self.config.latency_ms
        self.notifier.deliveries.clear()
        with self._counts_lock:
            self._counts.clear()


def current() -> FakeGoogle:
    """The instance serving the current request."""
    fake: FakeGoogle = current_app.extensions[EXTENSION_KEY]
    return fake
