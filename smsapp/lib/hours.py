"""When the clinic is open, and when a patient must not get a text the app sends on its own.

- Office hours (`OFFICE_HOURS`, e.g. ``mon-fri 08:00-17:00; sat 09:00-12:00``) in the
  clinic's TIME_ZONE, closed all day on the public holidays of `OFFICE_HOLIDAYS` (the
  `holidays` package: ``US``, ``US-CA``). Auto-reply rules limited to "outside office
  hours" answer only then.
- Quiet hours (`QUIET_HOURS`, default ``21:00-08:00``) in the patient's local time (their
  chart's time zone, else their number's when it has one, else TIME_ZONE: see
  smsapp.services.directory.time_zone_of): a scheduled text that falls due inside
  them waits for their end; the page asks before a manual send.

Settings hold the text; it is parsed once at start-up (project/settings.py refuses a bad
value, naming it) and again, cached, where it is used, so a test may change it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFFICE_EXAMPLE = "mon-fri 08:00-17:00; sat 09:00-12:00"
END_OF_DAY = time(23, 59, 59, 999999)  # what "24:00" means as the end of a range
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Window:
    """A daily window from `start` to `end`, crossing midnight when end < start."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def end_after(self, local: datetime) -> datetime:
        """The end of the window `local` (a zone-aware time inside it) is in."""
        day = local.date()
        if self.end < self.start and local.time() >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=local.tzinfo)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock(text: str, *, end: bool = False) -> time:
    match = _TIME.match(text)
    if not match or (int(match[1]) == 24 and (match[2] != "00" or not end)):
        raise ValueError(f"{text!r} is not a time of day; write it as HH:MM, such as 08:00")
    hour, minute = int(match[1]), int(match[2])
    return END_OF_DAY if hour == 24 else time(hour, minute)


def parse_window(text: str) -> Window | None:
    """``21:00-08:00`` as a Window (it may cross midnight); None for an empty value."""
    text = text.strip()
    if not text:
        return None
    start, dash, end = text.partition("-")
    if not dash:
        raise ValueError(f"{text!r} is not a time range; write it as 21:00-08:00")
    window = Window(_clock(start.strip()), _clock(end.strip(), end=True))
    if window.start == window.end:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return window


_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: n for names in (DAYS, _FULL_NAMES) for n, name in enumerate(names)}


def _day(name: str) -> int:
    name = name.strip().lower()
    if name not in _DAY_NAMES:
        raise ValueError(f"{name!r} is not a day; use {', '.join(DAYS)}")
    return _DAY_NAMES[name]


def _days(text: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        a = _day(first)
        b = _day(last) if dash else a
        found += [(a + i) % 7 for i in range((b - a) % 7 + 1)]  # "fri-mon" wraps round
    return found


@dataclass(frozen=True)
class OfficeHours:
    """The windows the office is open on each weekday (0 = Monday); none crosses midnight."""

    by_day: dict[int, tuple[Window, ...]]

    def is_open(self, local: datetime) -> bool:
        return any(w.contains(local.time()) for w in self.by_day.get(local.weekday(), ()))


def parse_office_hours(text: str) -> OfficeHours:
    """``mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-12:00``: entries separated by ``;``,
    each days (``mon``, ``mon-fri``, ``mon,wed``) then one or more ranges. Empty: the
    office is never open."""
    by_day: dict[int, list[Window]] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        days, _, ranges = entry.partition(" ")
        if not ranges.strip():
            raise ValueError(f"{entry!r} needs days then hours, such as {OFFICE_EXAMPLE}")
        weekdays = _days(days)
        windows = [parse_window(r) for r in ranges.replace(" ", "").split(",")]
        for window in windows:
            if window is None or window.end < window.start:
                raise ValueError(f"{entry!r}: office hours may not cross midnight")
        for day in weekdays:
            by_day.setdefault(day, []).extend(windows)
    return OfficeHours({day: tuple(windows) for day, windows in by_day.items()})


def holiday_calendar(code: str) -> holidays.HolidayBase | None:
    """The public holidays of ``US`` or ``US-CA`` (country, then subdivision); None for
    an empty code."""
    code = code.strip().upper()
    if not code:
        return None
    country, _, subdivision = code.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        raise ValueError(
            f"{code!r} is not a country (and subdivision) the holidays package knows, such "
            "as US or US-CA"
        ) from None


@cache
def _office(hours: str, holiday_code: str) -> tuple[OfficeHours, holidays.HolidayBase | None]:
    return parse_office_hours(hours), holiday_calendar(holiday_code)


def holiday_on(day: date) -> str | None:
    """The name of the clinic's public holiday on `day`, or None."""
    _, calendar = _office(settings.OFFICE_HOURS, settings.OFFICE_HOLIDAYS)
    return calendar.get(day) if calendar is not None else None


def office_is_open(at: datetime) -> bool:
    """Whether the office is open at `at` (any aware time), in the clinic's TIME_ZONE."""
    hours, _ = _office(settings.OFFICE_HOURS, settings.OFFICE_HOLIDAYS)
    local = at.astimezone(ZoneInfo(settings.TIME_ZONE))
    return hours.is_open(local) and holiday_on(local.date()) is None


@cache
def quiet_window(text: str) -> Window | None:
    return parse_window(text)


def quiet_hours_end(zone: str, at: datetime) -> datetime | None:
    """When the patient's quiet hours (QUIET_HOURS in their time zone `zone`) end, if `at`
    is inside them; None when the app may text them at `at`."""
    window = quiet_window(settings.QUIET_HOURS)
    if window is None:
        return None
    local = at.astimezone(ZoneInfo(zone))
    return window.end_after(local) if window.contains(local.time()) else None
