"""The console's pure parts: where items sit in a week, and that both languages say everything."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from infra.local.console.texts import EN, ES, Texts
from infra.local.console.week import FIRST_HOUR, LAST_HOUR, Item, Week, local_moment, place

MADRID = ZoneInfo("Europe/Madrid")
TEMPLATES = Path(__file__).resolve().parents[2] / "infra" / "local" / "console" / "templates"


def item(name: str, start: datetime, minutes: int = 30) -> Item:
    return Item(id=name, start=start, end=start + timedelta(minutes=minutes), title=name, href=f"/{name}")


def test_a_week_runs_monday_to_monday_in_its_time_zone() -> None:
    week = Week.parse("2026-03-26", MADRID)  # a Thursday; Madrid moves to summer time that Sunday
    assert week.monday == date(2026, 3, 23)
    assert week.start == datetime(2026, 3, 23, tzinfo=MADRID)
    # Seven local days, one hour short: the week's end is an instant, not a wall-clock sum.
    assert week.end.astimezone(UTC) - week.start.astimezone(UTC) == timedelta(days=7, hours=-1)
    assert Week.parse("not a date", MADRID, today=date(2026, 3, 26)).monday == date(2026, 3, 23)


def test_items_are_placed_by_local_day_and_hour() -> None:
    week = Week.containing(date(2026, 5, 11), MADRID)
    utc_start = local_moment("2026-05-12", "10:00", MADRID).astimezone(ZoneInfo("UTC"))
    [placed] = place([item("a", utc_start, 60)], week)
    span = (LAST_HOUR - FIRST_HOUR) * 60
    assert placed["day"] == 1 and placed["date"] == "2026-05-12"
    assert placed["time"] == "10:00\u201311:00"
    assert placed["top"] == round(100 * (10 - FIRST_HOUR) * 60 / span, 3)
    assert placed["height"] == round(100 * 60 / span, 3)
    assert (placed["lane"], placed["lanes"]) == (0, 1)


def test_overlapping_items_share_the_day_in_lanes_and_other_weeks_are_left_out() -> None:
    week = Week.containing(date(2026, 5, 11), MADRID)
    at = local_moment("2026-05-13", "09:00", MADRID)
    placed = place(
        [
            item("first", at, 60),
            item("overlapping", at + timedelta(minutes=30)),
            item("after", at + timedelta(minutes=60)),
            item("next-week", at + timedelta(days=7)),
            item("early", local_moment("2026-05-13", "06:00", MADRID)),
        ],
        week,
    )
    lanes = {entry["id"]: (entry["lane"], entry["lanes"]) for entry in placed}
    assert lanes == {"early": (0, 2), "first": (0, 2), "overlapping": (1, 2), "after": (0, 2)}
    early = next(entry for entry in placed if entry["id"] == "early")
    assert early["top"] == 0  # before the first hour shown: drawn at the top, not lost


def test_both_languages_have_every_text_and_the_same_placeholders() -> None:
    assert ES.keys() == EN.keys()
    for key in ES:
        assert set(re.findall(r"{(\w+)}", ES[key])) == set(re.findall(r"{(\w+)}", EN[key])), key
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*[,)]""", template.read_text()))
    assert used and used <= ES.keys()


def test_errors_read_as_words_and_unknown_codes_still_say_what_happened() -> None:
    texts = Texts("en")
    assert texts.error("wrong_center") == "Authorize from the centre where the request was made."
    assert texts.error("something_new", "it broke") == "Error something_new: it broke"
    assert Texts("fr").language == "es"
