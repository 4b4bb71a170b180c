"""A week of a calendar as the console draws it: seven days, 08:00 to 20:00, items placed on the grid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

FIRST_HOUR = 8
LAST_HOUR = 20
DURATIONS = (15, 30, 45, 60, 90, 120)  # minutes offered when an appointment or event is made or moved


@dataclass(frozen=True)
class Week:
    """Monday to Sunday in one time zone."""

    monday: date
    zone: ZoneInfo

    @classmethod
    def containing(cls, day: date, zone: ZoneInfo) -> Week:
        return cls(day - timedelta(days=day.weekday()), zone)

    @classmethod
    def parse(cls, value: str | None, zone: ZoneInfo, today: date | None = None) -> Week:
        """The week of `value` (YYYY-MM-DD, any day of it); this week when it is missing or malformed."""
        try:
            day = date.fromisoformat(value) if value else None
        except ValueError:
            day = None
        return cls.containing(day or today or datetime.now(zone).date(), zone)

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=offset) for offset in range(7)]

    @property
    def start(self) -> datetime:
        return datetime.combine(self.monday, time(0), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.monday + timedelta(days=7), time(0), self.zone)

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)

    @property
    def hours(self) -> list[int]:
        return list(range(FIRST_HOUR, LAST_HOUR))


@dataclass(frozen=True)
class Item:
    """Something with a time range to draw: an appointment or a Google event."""

    id: str
    start: datetime
    end: datetime
    title: str
    href: str
    detail: str = ""
    cancelled: bool = False
    # An all-day block or event: drawn over the whole day shown.
    all_day: bool = False


def local_moment(day: str, at: str, zone: ZoneInfo) -> datetime:
    """A form's date (YYYY-MM-DD) and time (HH:MM) in the time zone; ValueError when malformed."""
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(at), zone)


def place(items: Sequence[Item], week: Week) -> list[dict[str, Any]]:
    """Each item that falls in the week, with its day column, its vertical span (percent of the day shown)
    and its lane, so that items at the same time sit side by side."""
    span = (LAST_HOUR - FIRST_HOUR) * 60
    placed: list[dict[str, Any]] = []
    lanes_by_day: dict[int, list[datetime]] = {}
    for item in sorted(items, key=lambda i: (i.start, i.end)):
        start, end = item.start.astimezone(week.zone), item.end.astimezone(week.zone)
        day = (start.date() - week.monday).days
        if not 0 <= day < 7:
            continue
        minutes = (start.hour - FIRST_HOUR) * 60 + start.minute
        length = max(int((end - start).total_seconds() // 60), 15)
        top = min(max(minutes, 0), span - 15)
        bottom = min(max(minutes + length, top + 15), span)
        lane_ends = lanes_by_day.setdefault(day, [])
        lane = next((index for index, busy in enumerate(lane_ends) if busy <= start), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        placed.append(
            {
                "id": item.id,
                "day": day,
                "top": round(100 * top / span, 3),
                "height": round(100 * (bottom - top) / span, 3),
                "lane": lane,
                "time": f"{start:%H:%M}\u2013{end:%H:%M}",
                "date": start.date().isoformat(),
                "title": item.title,
                "detail": item.detail,
                "href": item.href,
                "cancelled": item.cancelled,
                "allDay": item.all_day,
            }
        )
    for entry in placed:
        entry["lanes"] = len(lanes_by_day[entry["day"]])
    return placed
