"""Calendar API usage quotas: requests per rolling minute, per user and per project.

Which error for which quota (both are listed by the Calendar "Handle API errors" guide):
- per user (the account behind the token) over its limit -> 403, domain `usageLimits`, reason
  `rateLimitExceeded`, "Rate Limit Exceeded";
- per project (the OAuth client) over its limit -> 429, reason `rateLimitExceeded`, status RESOURCE_EXHAUSTED.
A refused request does not consume quota, so a client that backs off recovers within the minute.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque

from . import times
from .errors import GoogleApiError, rate_limited

WINDOW_SECONDS = 60.0


class Quotas:
    """Rolling one-minute windows of granted requests, one per user and one per project."""

    def __init__(self, per_user_per_minute: int, per_project_per_minute: int) -> None:
        self.per_user_per_minute = per_user_per_minute
        self.per_project_per_minute = per_project_per_minute
        self._lock = threading.Lock()
        self._user: dict[str, deque[float]] = defaultdict(deque)
        self._project: dict[str, deque[float]] = defaultdict(deque)

    def reset(self, per_user_per_minute: int, per_project_per_minute: int) -> None:
        """Back to the given limits with empty windows."""
        with self._lock:
            self.per_user_per_minute = per_user_per_minute
            self.per_project_per_minute = per_project_per_minute
            self._user.clear()
            self._project.clear()

    def set_limits(self, per_user: int | None = None, per_project: int | None = None) -> None:
        """Change one or both limits; the windows keep what they hold."""
        with self._lock:
            if per_user is not None:
                self.per_user_per_minute = per_user
            if per_project is not None:
                self.per_project_per_minute = per_project

    def admit(self, user: str, project: str) -> GoogleApiError | None:
        """Count one request, or return the error that refuses it."""
        at = times.now()
        with self._lock:
            user_window = self._trim(self._user[user], at)
            project_window = self._trim(self._project[project], at)
            if len(project_window) >= self.per_project_per_minute:
                return rate_limited(429)
            if len(user_window) >= self.per_user_per_minute:
                return rate_limited(403)
            user_window.append(at)
            project_window.append(at)
            return None

    @staticmethod
    def _trim(window: deque[float], at: float) -> deque[float]:
        while window and window[0] <= at - WINDOW_SECONDS:
            window.popleft()
        return window
