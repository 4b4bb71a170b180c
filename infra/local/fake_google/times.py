"""RFC 3339 and RFC 1123 time formatting and parsing, as the Calendar API reads and writes times."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import format_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def now() -> float:
    """Seconds since the epoch (the one clock of the fake)."""
    return time.time()


def rfc3339_ms(epoch: float) -> str:
    """`2024-05-01T10:00:00.123Z`: how Google writes `created` and `updated`."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rfc1123(epoch: float) -> str:
    """`Tue, 19 Nov 2013 01:13:52 GMT`: the format of X-Goog-Channel-Expiration."""
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


def zone(name: str) -> tzinfo | None:
    """The IANA time zone of that name, or None when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_datetime(value: str, *, require_offset: bool) -> datetime | None:
    """An RFC 3339 date-time (aware when it carries an offset); None when malformed."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    if require_offset and not re.search(r"([Zz]|[+-]\d{2}:\d{2})$", value):
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_date(value: str) -> date | None:
    """A `YYYY-MM-DD` date; None when malformed."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def format_in_zone(moment: datetime, tz: tzinfo) -> str:
    """An aware date-time rendered in a zone as Google does: `...+02:00`, or `...Z` for UTC."""
    local = moment.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")
