"""When things are due and whether they are overdue: counted in London days, due today never overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.platform import deadlines
from engine.platform.calendar import add_months, end_of_day, start_of_day
from engine.platform.models import Case, OpenTask, Timer


def _due(when: date | datetime, now: datetime) -> deadlines.Due:
    due = deadlines.due(when, now)
    assert due is not None
    return due


def _task(due_at: datetime | None) -> OpenTask:
    return OpenTask(id="t", case_id=1, bpmn_id="decide", title="Decide", due_at=due_at)


def test_due_today_is_not_overdue_whatever_the_hour() -> None:
    evening = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)  # 18:00 in London (BST)
    morning_due = _task(datetime(2026, 9, 30, 8, 0, tzinfo=UTC))  # 09:00 in London, passed
    due = deadlines.of_task(morning_due, evening)
    assert due is not None and due.due_today and not due.overdue and due.words == "due today"
    assert due.when == "30 September 2026, 09:00"
    next_morning = deadlines.of_task(morning_due, evening + timedelta(hours=7))  # 01:00 on 1 October
    assert next_morning is not None and next_morning.overdue and next_morning.words == "overdue by 1 day"
    assert deadlines.of_task(_task(None), evening) is None


def test_the_london_day_around_midnight_utc_in_summer_time() -> None:
    late = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # already 00:30 on 1 July in London (BST)
    assert deadlines.today(late) == date(2026, 7, 1)
    assert _due(date(2026, 7, 1), late).text == "1 July 2026 (due today)"
    assert _due(date(2026, 6, 30), late).text == "30 June 2026 (overdue by 1 day)"
    assert _due(date(2026, 6, 28), late).words == "overdue by 3 days"
    assert _due(date(2026, 7, 2), late).words == "1 day left"
    # a timer at 23:15 UTC on 30 June falls at 00:15 on 1 July in London: due today, not yesterday
    timer = Timer(id="x", case_id=1, bpmn_id="b", title="T", due_at=datetime(2026, 6, 30, 23, 15, tzinfo=UTC))
    due = deadlines.of_timer(timer, late)
    assert due.on == date(2026, 7, 1) and due.due_today and due.when == "1 July 2026, 00:15"
    # queries count from London's midnight, 23:00 UTC the evening before
    assert deadlines.overdue_before(late) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)


def test_the_london_day_around_midnight_utc_in_winter() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 23:30 on 31 December in London (GMT)
    assert deadlines.today(late) == date(2026, 12, 31)
    new_year = _due(datetime(2027, 1, 1, 0, 10, tzinfo=UTC), late)
    assert new_year.on == date(2027, 1, 1) and new_year.words == "1 day left"
    assert deadlines.overdue_before(late) == datetime(2026, 12, 31, 0, 0, tzinfo=UTC)


def test_london_days_across_the_clock_changes() -> None:
    # the clocks go forward on 29 March 2026 and back on 25 October 2026
    assert start_of_day(date(2026, 3, 29)) == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 3, 30)) == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)
    assert end_of_day(date(2026, 10, 25)) == datetime(2026, 10, 25, 23, 59, 59, 999999, tzinfo=UTC)
    just_before_midnight_bst = datetime(2026, 10, 24, 22, 59, tzinfo=UTC)
    assert _due(date(2026, 10, 25), just_before_midnight_bst).words == "1 day left"
    assert deadlines.due_within_before(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), 1) == \
        datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # 28 and 29 March, whose end is in BST


@pytest.mark.parametrize(
    ("decided", "deadline", "now", "words"),
    [
        (date(2025, 8, 31), date(2026, 2, 28), datetime(2025, 8, 31, 8, 0, tzinfo=UTC), "181 days left"),
        (date(2027, 8, 31), date(2028, 2, 29), datetime(2028, 2, 29, 23, 30, tzinfo=UTC), "due today"),
        (date(2026, 1, 31), date(2026, 7, 31), datetime(2026, 7, 31, 23, 30, tzinfo=UTC), "overdue by 1 day"),
        (date(2026, 3, 15), date(2026, 9, 15), datetime(2026, 9, 20, 9, 0, tzinfo=UTC), "overdue by 5 days"),
    ],
)
def test_a_six_month_deadline_is_counted_in_calendar_months_and_london_days(
        decided: date, deadline: date, now: datetime, words: str) -> None:
    case = Case(reference="Rosemary/2026", deadline_on=add_months(decided, 6))
    assert case.deadline_on == deadline  # 31 August + 6 months is 28 February (29th in a leap year)
    due = deadlines.of_case(case, now)
    assert due is not None and due.on == deadline and due.words == words and due.at is None
    assert due.sentence == words[0].upper() + words[1:]
    assert deadlines.of_case(Case(reference="Hazel/2026", deadline_on=None), now) is None


def test_a_target_date_is_due_only_while_it_is_owed() -> None:
    now = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    owed = deadlines.target(date(2026, 6, 30), now, owed=True)
    assert owed is not None and owed.overdue and owed.days_over == 1 and owed.days_left == 0
    assert deadlines.target(date(2026, 6, 30), now, owed=False) is None
    assert deadlines.target(None, now, owed=True) is None


def test_a_moment_without_its_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        deadlines.due(datetime(2026, 7, 1, 9, 0), datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
