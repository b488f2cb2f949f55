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
