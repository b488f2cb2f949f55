"""The read models behind the inbox, the case list, a case's page, the dashboard and the register,
called directly: each shows a person only the cases they may see, and counts due dates in London days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from engine.bpmn import runtime, worklist
from engine.cli import cli
from engine.platform.audit import events_for_case
from engine.platform.errors import NotFound
from engine.platform.models import User
from engine.review import pages
from engine.review.register import AWAITING, COMPLETED, Filters, Recommendation

from .conftest import World

EVENING = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)  # 18:00 on 30 September in London (BST)
LATE = datetime(2026, 9, 30, 22, 30, tzinfo=UTC)  # 23:30 on 30 September in London
AFTER_MIDNIGHT = datetime(2026, 9, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 October in London, still the 30th in UTC


@pytest.fixture
def two_cases(world: World) -> World:
    """On 31 August 2026: Rosemary/2026 at the panel's IMR (Panel lane, due 14 September 09:00 London;
    pat, of the panel, is a member) and Hazel/2026 with the CSP chair's decision due on 30 September
    09:00 London (its reminder on 23 September)."""
    world.start("Rosemary")
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    world.complete("decide", {"outcome": "DHR"}, "chair")
    world.join("pat", "Rosemary/2026")
    world.start("Hazel")
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", reference="Hazel/2026")
    return world


def _user(world: World, name: str, session: Session) -> User:
    user = session.get(User, world.users[name].id)
    assert user is not None
    return user


def _recommendation(session: Session, reference: str, number: int, target: date, status: str,
                    agency: str = "Kent Police") -> None:
    at = datetime(2026, 8, 31, 8, 0, tzinfo=UTC)
    session.add(Recommendation(
        case_id=runtime.get_case(session, reference).id, number=number, text="Train staff", theme="Risk Assessment",
        lead_agency=agency, scope="Local", national_body=None, smart_action="Train every officer",
        action_holder=None, target_date=target, status=status, awaiting_since=None, created_at=at, updated_at=at))


def test_the_inbox_and_the_timers_keep_to_the_cases_a_person_may_see(two_cases: World) -> None:
    world = two_cases
    now = world.clock.now()
    with world.db.sessions() as s:
        pat, chair, carol = (_user(world, name, s) for name in ("pat", "chair", "carol"))
        mine = worklist.inbox(s, pat, now)
        assert [(r.case_reference, r.bpmn_id) for r in mine.rows] == [("Rosemary/2026", "write_imr")]
        assert [c.reference for c in mine.cases] == ["Rosemary/2026"]
        assert {r.case_reference for r in worklist.open_tasks(s, pat, now)} == {"Rosemary/2026"}
        assert {t.case_reference for t in worklist.waiting_timers(s, pat, now)} == {"Rosemary/2026"}
        assert [r.bpmn_id for r in worklist.inbox(s, chair, now).rows] == ["decide"]  # a case-wide role
        assert worklist.inbox(s, carol, now).rows.items == []
        # the operator at the command line sees every case
        assert {r.case_reference for r in worklist.open_tasks(s, None, now)} == {"Rosemary/2026", "Hazel/2026"}
        assert {t.case_reference for t in worklist.waiting_timers(s, None, now)} == {"Rosemary/2026", "Hazel/2026"}
    world.leave("pat", "Rosemary/2026")
    with world.db.sessions() as s:
        pat = _user(world, "pat", s)
        assert worklist.inbox(s, pat, now).rows.items == [] and worklist.waiting_timers(s, pat, now) == []
        assert pages.case_list(s, pat, now) == [] and pages.dashboard(s, pat, now).open_count == 0
        chair = _user(world, "chair", s)
        chair.active = False  # a disabled user sees nothing, even in a case-wide role
        assert worklist.open_tasks(s, chair, now) == [] and pages.case_list(s, chair, now) == []


def test_the_inbox_counts_overdue_in_london_days(two_cases: World) -> None:
    world = two_cases
    with world.db.sessions() as s:
        chair = _user(world, "chair", s)
        [decide] = worklist.inbox(s, chair, EVENING).rows  # nine hours after it fell due: still due today
        assert decide.due is not None and decide.due.due_today and not decide.overdue
        assert decide.due.when == "30 September 2026, 09:00"
        assert worklist.inbox(s, chair, LATE, due="overdue").rows.items == []
        assert [r.bpmn_id for r in worklist.inbox(s, chair, AFTER_MIDNIGHT, due="overdue").rows] == ["decide"]
        # "due in the next 7 days": today and the six days after it
        assert worklist.inbox(s, chair, datetime(2026, 9, 24, 8, 0, tzinfo=UTC), due="week").rows
        assert not worklist.inbox(s, chair, datetime(2026, 9, 23, 8, 0, tzinfo=UTC), due="week").rows
        hazel = runtime.get_case(s, "Hazel/2026")
        assert [r.case_reference for r in worklist.inbox(s, chair, EVENING, case_id=hazel.id).rows] == ["Hazel/2026"]
        assert worklist.inbox(s, chair, EVENING, case_id=hazel.id + 1000).rows.items == []


def test_the_case_list(two_cases: World) -> None:
    world = two_cases
    with world.uow() as s:
        runtime.get_case(s, "Hazel/2026").deadline_on = date(2027, 2, 28)
    with world.db.sessions() as s:
        carol, pat = _user(world, "carol", s), _user(world, "pat", s)
        rows = pages.case_list(s, carol, EVENING)
        assert [r.reference for r in rows] == ["Hazel/2026", "Rosemary/2026"]  # the newest first
        hazel, rosemary = rows
        assert hazel.tasks == ("Decide whether to hold a review",) and not hazel.overdue  # due today
        assert rosemary.tasks == ("Write the IMR",) and rosemary.overdue  # due on 14 September
        assert hazel.report_due is not None and hazel.report_due.text == "28 February 2027 (151 days left)"
        assert rosemary.report_due is None
        assert hazel.next_timer == datetime(2026, 9, 23, 8, 0, tzinfo=UTC)  # the reminder
        assert [r.reference for r in pages.case_list(s, carol, EVENING, overdue_only=True)] == ["Rosemary/2026"]
        assert [r.reference for r in pages.case_list(s, carol, AFTER_MIDNIGHT, overdue_only=True)] == \
            ["Hazel/2026", "Rosemary/2026"]
        assert [r.reference for r in pages.case_list(s, pat, EVENING)] == ["Rosemary/2026"]
        assert pages.case_list(s, carol, EVENING, status="completed") == []
        assert [r.reference for r in pages.case_list(s, None, EVENING, oldest_first=True)] == \
            ["Rosemary/2026", "Hazel/2026"]


def test_the_case_page_reads_projections_not_the_instance(two_cases: World) -> None:
    world = two_cases
    with world.uow() as s:
        _recommendation(s, "Hazel/2026", 1, date(2027, 3, 31), AWAITING)
        hazel = runtime.get_case(s, "Hazel/2026")
        hazel.state = "not a workflow instance"  # the page must not need to read it
    with world.db.sessions() as s:
        hazel = runtime.get_case(s, "Hazel/2026")
        with pytest.raises(NotFound):
            pages.case_page(s, _user(world, "pat", s), hazel, EVENING)  # not a member
        page = pages.case_page(s, _user(world, "carol", s), hazel, EVENING, with_candidates=True)
        assert page.key_data == [("Decision due", "30 September 2026")]
        [decide] = page.tasks
        assert decide.task.title == "Decide whether to hold a review" and not decide.overdue
        assert [p.username for p in decide.holders] == ["chair"]
        assert sorted(t.title for t in page.timers) == ["Decision overdue", "Decision reminder"]
        assert {page.task_titles[t.attached_to or ""] for t in page.timers} == {"Decide whether to hold a review"}
        assert [p.username for p in page.candidates] == ["pat"] and page.members == []
        assert page.recommendation_count == 1 and page.report_due is None
        assert [e.id for e in page.recent] == [e.id for e in events_for_case(s, hazel.id)][::-1][:pages.RECENT_EVENTS]


def test_the_dashboard(two_cases: World) -> None:
    world = two_cases
    with world.uow() as s:
        runtime.get_case(s, "Rosemary/2026").deadline_on = date(2027, 2, 1)
        _recommendation(s, "Rosemary/2026", 1, date(2026, 9, 30), AWAITING)  # 30 days on: listed
        _recommendation(s, "Rosemary/2026", 2, date(2026, 10, 1), AWAITING)  # 31 days on: not yet
        _recommendation(s, "Rosemary/2026", 3, date(2026, 9, 1), COMPLETED)  # done: never due
    now = world.clock.now()  # 31 August 2026
    with world.db.sessions() as s:
        board = pages.dashboard(s, _user(world, "carol", s), now)
        assert board.today == date(2026, 8, 31) and board.open_count == 2
        assert [(r.reference, r.report_due.words if r.report_due else None) for r in board.deadlines] == [
            ("Rosemary/2026", "154 days left"), ("Hazel/2026", None)]
        # the timers on the tasks are shown as the tasks' due dates
        assert [(i.kind, i.case_reference, i.due.on) for i in board.due] == [
            ("Task", "Rosemary/2026", date(2026, 9, 14)), ("Task", "Hazel/2026", date(2026, 9, 30)),
            ("Recommendation", "Rosemary/2026", date(2026, 9, 30))]
        assert board.due[1].task_id and board.due[2].recommendation_id and board.due[2].detail == "Kent Police"
        later = pages.dashboard(s, _user(world, "carol", s), datetime(2026, 9, 15, 8, 0, tzinfo=UTC))
        assert [i.due.overdue for i in later.due][:1] == [True]  # the IMR was due yesterday
        panel = pages.dashboard(s, _user(world, "pat", s), now)
        assert [r.reference for r in panel.deadlines] == ["Rosemary/2026"]
        assert {i.case_reference for i in panel.due} == {"Rosemary/2026"}


def test_the_register_keeps_to_the_cases_a_person_may_see_and_counts_london_days(two_cases: World) -> None:
    world = two_cases
    with world.uow() as s:
        _recommendation(s, "Rosemary/2026", 1, date(2026, 9, 30), AWAITING)
        _recommendation(s, "Rosemary/2026", 2, date(2026, 9, 1), COMPLETED)
        _recommendation(s, "Hazel/2026", 1, date(2026, 9, 30), AWAITING, agency="Health")
    with world.db.sessions() as s:
        carol, pat = _user(world, "carol", s), _user(world, "pat", s)
        assert [r.label for r in pages.register_entries(s, pat, Filters(), LATE)] == [
            "Rosemary/2026 R1", "Rosemary/2026 R2"]
        assert pages.register_agencies(s, pat) == ["Kent Police"]
        assert pages.register_agencies(s, carol) == ["Health", "Kent Police"]
        # 23:30 on 30 September in London: due today; half past midnight: overdue (the UTC date is still the 30th)
        assert pages.register_entries(s, carol, Filters(overdue=True), LATE) == []
        overdue = pages.register_entries(s, carol, Filters(overdue=True), AFTER_MIDNIGHT)
        assert [r.label for r in overdue] == ["Rosemary/2026 R1", "Hazel/2026 R1"]
        due = overdue[0].due(AFTER_MIDNIGHT)
        assert due is not None and due.words == "overdue by 1 day"
        completed = pages.register_entries(s, carol, Filters(status=COMPLETED), AFTER_MIDNIGHT)
        assert [r.due(AFTER_MIDNIGHT) for r in completed] == [None]


def test_the_command_line_lists_count_london_days(two_cases: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = two_cases
    with world.uow() as s:
        _recommendation(s, "Hazel/2026", 1, date(2026, 9, 30), AWAITING)
    monkeypatch.setenv("DHR_DATABASE_URL", world.db.url)
    monkeypatch.setenv("DHR_CLOCK", "simulated")
    runner = CliRunner()

    def dhr(*args: str) -> list[dict[str, object]]:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return list(json.loads(result.output)) if "--json" in args else []

    dhr("clock", "set", LATE.isoformat())
    tasks = {t["task"]: t for t in dhr("tasks", "list", "--json")}
    assert tasks["Decide whether to hold a review"]["overdue"] is False and tasks["Write the IMR"]["overdue"] is True
    assert dhr("register", "list", "--overdue", "--json") == []
    dhr("clock", "set", AFTER_MIDNIGHT.isoformat())
    tasks = {t["task"]: t for t in dhr("tasks", "list", "--json")}
    assert tasks["Decide whether to hold a review"]["overdue"] is True
    [overdue] = dhr("register", "list", "--overdue", "--json")
    assert overdue["case"] == "Hazel/2026" and overdue["overdue"] is True
    cases = {c["reference"]: c for c in dhr("cases", "list", "--json")}
    assert cases["Hazel/2026"]["open_tasks"] == 1 and cases["Hazel/2026"]["next_timer"] == "2026-09-23T08:00:00+00:00"
    assert [t["case"] for t in dhr("timers", "list", "--json")][0] == "Rosemary/2026"  # the soonest first
