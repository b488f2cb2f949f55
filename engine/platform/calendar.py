"""Dates as the law and the council count them: London days, calendar months, and working days in
England and Wales (weekends and bank holidays, from the maintained `holidays` package)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

LONDON = ZoneInfo("Europe/London")


def parse_day(value: Any) -> date | None:
    """The date an ISO date or datetime string starts with; None if there is none."""
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def add_months(day: date, months: int) -> date:
    """Calendar months: 31 August + 6 = 28 February (the month's last day when it is shorter)."""
    result: date = day + relativedelta(months=months)
    return result


def london_day(moment: datetime) -> date:
    """The day it is in London at `moment`."""
    return moment.astimezone(LONDON).date()


def start_of_day(day: date) -> datetime:
    """The first moment of a London day (midnight, GMT or BST as that day has it), in UTC."""
    return datetime.combine(day, time(0), LONDON).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The last moment of a London day, in UTC."""
    return start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1)


def parse_moment(value: Any) -> datetime | None:
    """An ISO datetime (London time if it has no offset) in UTC, or the end of an ISO date's London
    day; None if the value is neither."""
    text = str(value or "").strip()
    if len(text) <= 10:
        day = parse_day(text)
        return end_of_day(day) if day else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=LONDON)).astimezone(UTC)


def long_date(day: date) -> str:
    """1 April 2026."""
    return f"{day.day} {day:%B %Y}"


def long_moment(moment: datetime) -> str:
    """'3 March 2027, 09:00' in London time (GMT or BST as it was on that day)."""
    local = moment.astimezone(LONDON)
    return f"{long_date(local.date())}, {local:%H:%M}"


def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_anniversary(day: date, event: date) -> bool:
    """Whether `day` is the anniversary of `event` (a birthday, a death): the same day and month; for an event
    on 29 February, in a year without one, both 28 February and 1 March count."""
    if (day.month, day.day) == (event.month, event.day):
        return True
    if (event.month, event.day) != (2, 29) or is_leap_year(day.year):
        return False
    return (day.month, day.day) in ((2, 28), (3, 1))


def next_quarter_day(after: date, months: tuple[int, ...], day_of_month: int) -> date:
    """The first day after `after` that is day `day_of_month` of one of `months` (the month's last day when it is
    shorter): e.g. the next of 1 January, April, July and October."""
    if not months or any(not 1 <= m <= 12 for m in months) or not 1 <= day_of_month <= 31:
        raise ValueError("months must be 1 to 12 and the day 1 to 31")
    year = after.year
    while True:
        for month in sorted(set(months)):
            candidate = date(year, month, 1) + relativedelta(day=day_of_month)
            if candidate > after:
                return candidate
        year += 1


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # Wales has England's bank holidays; the package names them under the England subdivision.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (before it, if negative); `start` itself never counts."""
    step = timedelta(days=1 if days >= 0 else -1)
    day, left = start, abs(days)
    while left:
        day += step
        if is_working_day(day):
            left -= 1
    return day
