"""Injected faults and latency, set through POST /_fake/faults.

A rule: `{"route"?, "rate"?, "status"?, "reason"?, "latencyMs"?, "count"?}`.
- `route` selects requests, by one of:
  - a route name as /_fake/requests counts it: a discovery method id (`calendar.events.insert`) or
    `METHOD /path` for the other endpoints (`POST /token`);
  - a method id without the `calendar.` prefix (`events.insert`);
  - a path prefix starting with `/` (`/calendar/v3/`, `/token`, `/batch/`).
  Without `route` the rule applies to every request except the admin API.
- `rate` (0..1, default 1): the probability that a matching request is hit.
- `status`: the answer to a hit request. 5xx -> Google's `backendError` JSON; 429 or 403 ->
  `rateLimitExceeded`; 401 -> `authError` (the client will refresh its token); other 4xx -> a generic
  Google error. `0` or `"timeout"`: hang `latencyMs` (default 30000) and then answer 503, which looks like a
  timeout to a client with a shorter deadline. Without `status`, a hit only adds `latencyMs`.
- `reason` (only with status 403): which usage limit answers, one of `errors.USAGE_LIMITS`:
  `rateLimitExceeded` (the default), `userRateLimitExceeded`, `dailyLimitExceeded` (the project's daily
  quota) or `quotaExceeded` (Calendar's usage limits), in the shape the errors guide shows.
- `latencyMs`: delay before answering (with or without an error status).
- `count`: the rule removes itself after hitting that many requests (default: unlimited).
Rules add up: each POST appends one; `{}` clears them all. A fault hits the outer batch request when its
route matches `/batch/...`, and each inner call when its route matches that call.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from .errors import USAGE_LIMITS, GoogleApiError, backend_error, rate_limited, unauthenticated, usage_limit

TIMEOUT_DEFAULT_MS = 30000


@dataclass
class FaultRule:
    """One injected fault; see the module docstring for the meaning of each field."""

    route: str | None
    rate: float
    status: int | None
    latency_ms: int
    remaining: int | None
    timeout: bool = False
    reason: str | None = None

    def matches(self, route_name: str, path: str) -> bool:
        """Whether the rule selects a request with that route name and path."""
        if self.route is None:
            return True
        if self.route.startswith("/"):
            return path.startswith(self.route)
        return self.route in (route_name, route_name.removeprefix("calendar."))

    def describe(self) -> dict[str, Any]:
        """The rule as the admin API shows it."""
        return {
            "route": self.route,
            "rate": self.rate,
            "status": "timeout" if self.timeout else self.status,
            "reason": self.reason,
            "latencyMs": self.latency_ms,
            "count": self.remaining,
        }


@dataclass
class FaultHit:
    """What to do to one request: wait, then maybe fail."""

    latency_ms: int
    error: GoogleApiError | None


def parse_rule(body: dict[str, Any]) -> FaultRule:
    """A rule from the admin API's JSON; ValueError with a readable message when malformed."""
    route = body.get("route")
    if route is not None and (not isinstance(route, str) or not route):
        raise ValueError("route must be a non-empty string")
    rate = float(body.get("rate", 1.0))
    if not 0.0 <= rate <= 1.0:
        raise ValueError("rate must be between 0 and 1")
    raw_status = body.get("status")
    timeout = raw_status in (0, "0", "timeout")
    status: int | None = None
    if raw_status is not None and not timeout:
        status = int(raw_status)
        if not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code, 0 or 'timeout'")
    reason = body.get("reason")
    if reason is not None and (status != 403 or reason not in USAGE_LIMITS):
        raise ValueError(f"reason needs status 403 and one of {sorted(USAGE_LIMITS)}")
    latency = int(body.get("latencyMs", TIMEOUT_DEFAULT_MS if timeout else 0))
    if latency < 0:
        raise ValueError("latencyMs must be >= 0")
    count = body.get("count")
    remaining = int(count) if count is not None else None
    if remaining is not None and remaining < 1:
        raise ValueError("count must be >= 1")
    return FaultRule(route, rate, 503 if timeout else status, latency, remaining, timeout, reason)


def error_for(status: int, reason: str | None = None) -> GoogleApiError:
    """Google's error for an injected status (and, for a 403, usage limit)."""
    if reason is not None:
        return usage_limit(reason)
    if status in (403, 429):
        return rate_limited(status)
    if status == 401:
        return unauthenticated()
    if status >= 500:
        return backend_error(status)
    return GoogleApiError(status, "badRequest" if status == 400 else "failedPrecondition", "Injected fault")


class Faults:
    """The active fault rules, consulted on every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random = random.Random()

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def add(self, rule: FaultRule) -> None:
        """Append a rule."""
        with self._lock:
            self._rules.append(rule)

    def describe(self) -> list[dict[str, Any]]:
        """The active rules, as the admin API shows them."""
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def hit(self, route_name: str, path: str) -> FaultHit | None:
        """The fault a request suffers, if any: latency adds up over rules, the first error wins."""
        latency = 0
        error: GoogleApiError | None = None
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(route_name, path) or self._random.random() >= rule.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                latency += rule.latency_ms
                if error is None and rule.status is not None:
                    error = error_for(rule.status, rule.reason)
        if latency == 0 and error is None:
            return None
        return FaultHit(latency, error)
