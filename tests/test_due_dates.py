"""Due dates and the case deadline outlive the timers that chase them: a decision stays due (and
overdue) after its reminder and escalation fire; a breached six-month deadline stays the case's
deadline until an extension sets a new one; an agency's answer is due when its reminder falls."""

from __future__ import annotations

from datetime import UTC, date, datetime

from engine.bpmn.timers import run_due

from .conftest import World
from .dhr_driver import Dhr, base_policy


def test_the_decision_stays_due_on_its_day_after_the_reminder_and_the_escalation(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("decide_on_review") is not None)
    decision = case.find("decide_on_review")
    assert decision is not None and decision.due_at is not None
    # notified on 31 August 2025: due by the end of 30 September (London), 23:59 BST
    assert decision.due_at.astimezone(UTC).replace(microsecond=0) == datetime(2025, 9, 30, 22, 59, 59, tzinfo=UTC)

    dhr.clock.set(datetime(2025, 10, 8, 9, 0, tzinfo=UTC))
    fired = run_due(dhr.db.sessions, dhr.clock)
    assert {f.title for f in fired} >= {"A week before the decision is due", "Decision overdue"}
    still = case.find("decide_on_review")
    assert still is not None and still.due_at == decision.due_at  # overdue, not "no due date"


def test_a_breached_deadline_stays_the_deadline_until_an_extension(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {"extensions": ["2026-05-31"]}, step=None,
               hold=lambda t: t.bpmn_id == "draft_terms_of_reference",
               until=lambda d: d.find("draft_terms_of_reference") is not None)
    assert dhr.case(case.reference).deadline_on == date(2026, 2, 28)  # decided 31 August 2025

    dhr.clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    run_due(dhr.db.sessions, dhr.clock)
    assert "deadline_passed" not in case.timers()
    assert case.find("tell_home_office_of_delay") is not None
    assert dhr.case(case.reference).deadline_on == date(2026, 2, 28)  # overdue, still shown

    for name in ("tell_home_office_of_delay", "tell_cspb_of_delay"):
        task = case.find(name)
        assert task is not None
        case.complete(task, base_policy(case, task, {}))
        assert dhr.case(case.reference).deadline_on == date(2026, 2, 28)
    extension = case.find("record_agreed_extension")
    assert extension is not None
    case.complete(extension, base_policy(case, extension, {"extensions": ["2026-05-31"]}))
    assert dhr.case(case.reference).deadline_on == date(2026, 5, 31)


def test_an_agencys_answer_is_due_when_its_reminder_falls(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("secure_records_and_nominate") is not None)
    asked = case.all("secure_records_and_nominate")
    reminders = case.timers()["reminder_due"]
    assert asked and sorted(t.due_at for t in asked if t.due_at) == sorted(reminders)[:len(asked)]
