"""Rules for the dates people type outside the diagrams' forms (meetings, costs, report periods,
a case's year), each written once: the engine functions apply them, so the web pages and the
`dhr` command refuse the same things with the same words.

"Today" is the London day (`calendar.london_day`): at 00:30 on 1 April in London it is 1 April,
although it is still 31 March in UTC.
"""

from __future__ import annotations

from datetime import date

from .errors import FormDataInvalid


def future_problems(today: date, days: dict[str, tuple[str, date | None]]) -> dict[str, str]:
    """A problem for each field whose day is after `today`; `days` maps a field to its label and day."""
    return {field: f"{label} must be today or in the past"
            for field, (label, day) in days.items() if day is not None and day > today}


def period_problems(start: date | None, end: date | None, today: date, *, fields: tuple[str, str] = ("start", "end"),
                    what: str = "The period") -> dict[str, str]:
    """The problem with a period of days, on its last day's field: it must end today or earlier (a
    report of days to come would count what has not happened yet) and not before it starts."""
    if start is None or end is None:
        return {}
    if end > today:
        return {fields[1]: f"{what} must end today or earlier"}
    if end < start:
        return {fields[1]: f"{what} must end on or after the day it starts"}
    return {}


def refuse(problems: dict[str, str]) -> None:
    """Raises: FormDataInvalid with every problem found, if there is any."""
    if problems:
        raise FormDataInvalid(problems)
