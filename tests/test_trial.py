"""A trial run of a draft: the real engine in a scratch database of its own, on its own clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.bpmn.library import read_folder
from engine.bpmn.trial import Trial, parse_period, run_trial
from engine.platform.calendar import LONDON, add_months
from engine.platform.errors import DhrError, DiagramInvalid
from engine.platform.models import AuditEvent, Case, ProcessVersion, Timer, User
from engine.platform.notifications import OutboxMessage
from engine.platform.settings import PROJECT_ROOT
from tests.conftest import POSTGRES_IN_SECOND_STEP, Db

# a trial runs on a scratch SQLite database whatever the product's database
pytestmark = POSTGRES_IN_SECOND_STEP

START = datetime(2026, 6, 1, 9, 0, tzinfo=LONDON)
SIX = "completion_due_date = add_months(clock_start_date, 6)"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    found = read_folder(PROJECT_ROOT / "processes")
    assert SIX in found["dhr_review.bpmn"]
    return found


def _with_months(files: dict[str, str], months: int) -> dict[str, str]:
    return {**files, "dhr_review.bpmn": files["dhr_review.bpmn"].replace(
        SIX, f"completion_due_date = add_months(clock_start_date, {months})")}


def _one(trial: Trial, kind: str, element: str) -> Any:
    found = [e for e in trial.events if e.kind == kind and e.element == element]
    assert found, f"no {kind} on {element}: {[(e.kind, e.element) for e in trial.events]}"
    return found[0]


def _counts(db: Db) -> tuple[int, ...]:
    with db.sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(model)) or 0
                     for model in (Case, OutboxMessage, AuditEvent, ProcessVersion, Timer, User))


def test_the_deadline_falls_six_months_after_the_decision_and_moves_when_the_script_says_twelve(
        db: Db, files: dict[str, str]) -> None:
    before = _counts(db)
    six = run_trial(files, until="7 months", start=START)
    twelve = run_trial(_with_months(files, 12), until="7 months", start=START)
    assert _counts(db) == before  # nothing of either trial reached the real database

    assert six.error is None and twelve.error is None
    for trial, months in ((six, 6), (twelve, 12)):
        decided = _one(trial, "task", "decide_on_review").done_at.astimezone(LONDON).date()
        due = add_months(decided, months)
        deadline = _one(trial, "deadline", "deadline_passed")
        assert deadline.day == due.isoformat()
        # the reminder a month before and the breach the morning after, each with the date it fires
        assert _one(trial, "timer", "deadline_month_away").day == add_months(due, -1).isoformat()
        breach = _one(trial, "timer", "deadline_passed").at.astimezone(LONDON)
        assert (breach.date(), breach.hour) == (due + timedelta(days=1), 9)
    six_due = date.fromisoformat(_one(six, "deadline", "deadline_passed").day)
    twelve_due = date.fromisoformat(_one(twelve, "deadline", "deadline_passed").day)
    assert twelve_due == add_months(six_due, 6)
    # the trial went through the commissioning decision, into the review itself
    assert "decide_on_review" in six.passed and "stage_conducting" in six.passed
    # e-mails are only the trial's, kept in its scratch outbox
    assert "e-mailed to csp.chair@trial.invalid (kept in the trial" in _one(six, "task", "decide_on_review").note


def test_the_same_draft_and_data_give_the_same_timeline(files: dict[str, str]) -> None:
    first = run_trial(files, until="3 months", start=START)
    again = run_trial(files, until="3 months", start=START)
    assert [e.as_json() for e in first.events] == [e.as_json() for e in again.events]


def test_a_task_left_unanswered_shows_its_reminders_and_escalations(files: dict[str, str]) -> None:
    trial = run_trial(files, until="2 months", start=START, data={"decide_on_review": {"@skip": True}})
    reminder = _one(trial, "timer", "decision_reminder_due")
    assert reminder.happened
    assert _one(trial, "task", "remind_csp_chair").happened
    overdue = _one(trial, "timer", "decision_overdue")
    assert overdue.happened and overdue.at > reminder.at


def test_a_draft_that_does_not_validate_is_refused_with_its_problems(files: dict[str, str]) -> None:
    broken = {**files, "dhr_review.bpmn": files["dhr_review.bpmn"].replace(SIX, "completion_due_date = (")}
    with pytest.raises(DiagramInvalid) as refused:
        run_trial(broken, until="3 months", start=START)
    assert any(p.element_id == "start_six_month_clock" for p in refused.value.problems)


@pytest.mark.parametrize(("data", "message"), [
    ({"decide_on_reveiw": {}}, "names no task or form of these files: decide_on_reveiw"),
    ([1, 2], "must be a JSON object"),
    ({"decide_on_review": {"@after": "soon"}}, "decide_on_review: @after"),
])
def test_example_data_that_cannot_be_meant_is_refused(files: dict[str, str], data: Any, message: str) -> None:
    with pytest.raises(DhrError, match=message):
        run_trial(files, until="3 months", start=START, data=data)


def test_periods_are_read_in_words_or_iso() -> None:
    assert parse_period("18 months") == parse_period("P18M") == parse_period("1 year") + parse_period("6 months")
    assert parse_period("400 days").days == 400
    assert parse_period("2 weeks").days == 14
    for wrong in ("soon", "0 days", "200 years"):
        with pytest.raises(DhrError):
            parse_period(wrong)
