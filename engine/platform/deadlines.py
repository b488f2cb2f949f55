"""When something is due, whether it is overdue and by how many days: one rule for every door.

Pages, e-mails, exports and the `dhr` listings all ask this module, so they cannot disagree. The
rule: everything is counted in **London days** (GMT or BST as the day has it, never the UTC date).
A thing is due on a London day; it is overdue from the next London day on, so something due today
is never overdue, whatever the hour. A task or timer is due at a moment (its day is the London day
of that moment); a case's deadline and a recommendation's target date are plain days.

It lives in the platform, not in the review features, because what it counts is the platform's
(open tasks, timers, a case's `deadline_on`) and the platform's e-mails print it; the register
asks it about a target date through `target`, saying itself when a recommendation is no longer owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .calendar import london_day, long_date, long_moment, start_of_day
from .models import Case, OpenTask, Timer


@dataclass(frozen=True)
class Due:
    """When something is due, seen from one moment ("now")."""

    on: date  # the London day it is due
    at: datetime | None  # the moment, for what is due at a time (a task, a timer); None for a day
    days: int  # London days from today to `on`: 3 is three days left, 0 due today, -3 three days over

    @property
    def overdue(self) -> bool:
        return self.days < 0

    @property
    def due_today(self) -> bool:
        return self.days == 0

    @property
    def days_left(self) -> int:
        return max(self.days, 0)

    @property
    def days_over(self) -> int:
        return max(-self.days, 0)

    @property
    def when(self) -> str:
        """'30 September 2025, 23:59' (London time) for a moment, '28 February 2027' for a day."""
        return long_moment(self.at) if self.at is not None else long_date(self.on)

    @property
    def words(self) -> str:
        """'96 days left', '1 day left', 'due today', 'overdue by 3 days'."""
        if self.days > 0:
            return f"{self.days} day{'s' if self.days > 1 else ''} left"
        if self.days == 0:
            return "due today"
        return f"overdue by {self.days_over} day{'s' if self.days_over > 1 else ''}"

    @property
    def sentence(self) -> str:
        """The words as a heading or a cell starts them: 'Overdue by 3 days', 'Due today'."""
        return self.words[:1].upper() + self.words[1:]

    @property
    def text(self) -> str:
        """'28 February 2027 (96 days left)': the day and how it stands."""
        return f"{long_date(self.on)} ({self.words})"


def today(now: datetime) -> date:
    """The London day it is at `now`: the day every count here starts from."""
    return london_day(now)


def counted(on: date, today: date, at: datetime | None = None) -> Due:
    """A London day `on` counted from the London day `today` (for a caller that holds London days)."""
    return Due(on=on, at=at, days=(on - today).days)


def due(when: date | datetime | None, now: datetime) -> Due | None:
    """When a moment or a day is due, seen at `now`; None if there is nothing to be due.

    Raises:
        ValueError: `when` is a moment without a timezone (it could be read as any day).
    """
    if when is None:
        return None
    if isinstance(when, datetime):  # a datetime is a date too: ask about it first
        if when.tzinfo is None:
            raise ValueError("a due moment needs its timezone")
        return counted(london_day(when), today(now), at=when)
    return counted(when, today(now))


def of_task(task: OpenTask, now: datetime) -> Due | None:
    """An open task's due date (None if it has none)."""
    return due(task.due_at, now)


def of_timer(timer: Timer, now: datetime) -> Due:
    """When a waiting timer falls (one past its day that has not fired yet is overdue)."""
    return counted(london_day(timer.due_at), today(now), at=timer.due_at)


def of_case(case: Case, now: datetime) -> Due | None:
    """A case's deadline (the six-month completion date, or an agreed extension); None while none runs."""
    return due(case.deadline_on, now)


def target(day: date | None, now: datetime, *, owed: bool) -> Due | None:
    """A target date (a recommendation's): None once its work is no longer owed (completed, withdrawn)."""
    return due(day, now) if owed else None


def overdue_before(now: datetime) -> datetime:
    """For queries: a moment earlier than this was due on an earlier London day, so it is overdue."""
    return start_of_day(today(now))


def due_within_before(now: datetime, days: int) -> datetime:
    """For queries: a moment earlier than this is due within `days` London days of today (today + days
    included), or is overdue."""
    return start_of_day(today(now) + timedelta(days=days + 1))
