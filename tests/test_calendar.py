"""Working days for chase periods: weekends and England-and-Wales bank holidays are skipped."""

from __future__ import annotations

from datetime import date

import pytest

from engine.bpmn.scripting import RestrictedEnvironment
from engine.platform.calendar import add_working_days, is_working_day


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # Friday + 1: Monday
        (date(2026, 11, 23), 10, date(2026, 12, 7)),  # two weeks
        (date(2026, 12, 23), 2, date(2026, 12, 29)),  # Christmas, Boxing Day (observed Monday 28th)
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Good Friday and Easter Monday
        (date(2026, 8, 28), 1, date(2026, 9, 1)),  # the late summer bank holiday
        (date(2026, 12, 29), -2, date(2026, 12, 23)),  # counting back over Christmas
        (date(2026, 11, 24), 0, date(2026, 11, 24)),
    ],
)
def test_add_working_days(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


def test_bank_holidays_and_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2027, 1, 1)) and not is_working_day(date(2026, 11, 28))
    assert is_working_day(date(2026, 11, 24))


def test_diagrams_can_count_working_days() -> None:
    context = {"requested_on": "2026-12-18"}
    RestrictedEnvironment().execute("reminder_on = add_working_days(requested_on, 10)", context)
    assert context["reminder_on"] == "2027-01-06"  # two weeks of working days over Christmas and New Year
