"""The DHR process to the letter (issue 13, "The process"): every chasing task has a due date, the
clocks start when the law says, dates agreed in the process are enforced, a paused review is resumed
by the Community Safety Team, and publication follows seed 003. Real diagrams, real engine and
database, an injected clock; each step runs as a new process would run it (the suite's default)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from lxml import etree

from engine.bpmn import runtime
from engine.bpmn.timers import run_due
from engine.platform.calendar import add_working_days, end_of_day, is_anniversary, next_quarter_day
from engine.platform.errors import FormDataInvalid
from engine.platform.models import OpenTask

from .conftest import World
from .dhr_driver import LONDON, PROCESSES, Dhr, base_policy

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


def due_day(task: OpenTask | None) -> date | None:
    """The London day a task is due on (None: no due date)."""
    assert task is not None
    return task.due_at.astimezone(LONDON).date() if task.due_at else None


def today(case: Dhr) -> date:
    return date.fromisoformat(case.today())


def submit_exactly(case: Dhr, task: OpenTask | None, data: dict) -> None:
    """Submit exactly `data` (no example answers added), as the task's lane would."""
    assert task is not None
    user = {"Community Safety Team": "cst", "CSP Chair": "chair"}[task.lane or ""]
    with case.world.uow() as s:
        runtime.complete_task(s, task.id, data, user=case.world.users[user], clock=case.world.clock)


# -- the calendar rules publication and the Steering Group's quarter rely on ----------------------

def test_a_29_february_anniversary_falls_on_28_february_and_1_march_in_other_years() -> None:
    leapling = date(1984, 2, 29)
    assert is_anniversary(date(2027, 2, 28), leapling) and is_anniversary(date(2027, 3, 1), leapling)
    assert is_anniversary(date(2028, 2, 29), leapling)
    assert not is_anniversary(date(2028, 2, 28), leapling) and not is_anniversary(date(2028, 3, 1), leapling)
    assert is_anniversary(date(2027, 3, 4), date(1980, 3, 4)) and not is_anniversary(date(2027, 3, 1), date(1980, 3, 4))


def test_the_next_quarter_day_is_the_steering_groups_calendar_quarter() -> None:
    quarters = (1, 4, 7, 10)
    assert next_quarter_day(date(2026, 5, 20), quarters, 1) == date(2026, 7, 1)
    assert next_quarter_day(date(2026, 7, 1), quarters, 1) == date(2026, 10, 1)  # strictly after
    assert next_quarter_day(date(2026, 11, 2), quarters, 1) == date(2027, 1, 1)
    assert next_quarter_day(date(2027, 1, 5), (3, 6, 9, 12), 31) == date(2027, 3, 31)
    assert next_quarter_day(date(2027, 3, 31), (3, 6, 9, 12), 31) == date(2027, 6, 30)  # a shorter month
    with pytest.raises(ValueError):
        next_quarter_day(date(2027, 1, 1), (), 1)


# -- 1. every task that chases someone has a due date ------------------------------------------------

def _first_user_tasks(doc: etree._ElementTree, start: etree._Element) -> list[etree._Element]:
    """The user tasks a token reaches first from `start`, through gateways and events."""
    found, seen, todo = [], set(), [start.get("id")]
    by_id = {e.get("id"): e for e in doc.iter() if e.get("id")}
    while todo:
        node = todo.pop()
        for flow in doc.iterfind(f".//bpmn:sequenceFlow[@sourceRef='{node}']", NS):
            target = by_id[flow.get("targetRef")]
            if target.get("id") in seen:
                continue
            seen.add(target.get("id"))
            kind = etree.QName(target).localname
            if kind == "userTask":
                found.append(target)
            elif kind.endswith("Gateway") or kind.endswith("Event"):
                todo.append(target.get("id"))
    return found


def test_every_task_a_timer_sets_off_names_its_due_date_in_the_diagram() -> None:
    """A reminder, an escalation, a letter, a breach task, the chair's report: each has `taskDueDate`."""
    chasing = []
    for path in sorted(PROCESSES.glob("*.bpmn")):
        doc = etree.parse(str(path))
        timers = [e for e in doc.iter() if etree.QName(e).localname in ("intermediateCatchEvent", "boundaryEvent")
                  and e.find("bpmn:timerEventDefinition", NS) is not None]
        for timer in timers:
            for task in _first_user_tasks(doc, timer):
                names = {p.get("name") for p in task.iterfind(".//spiff:property", NS)}
                chasing.append(task.get("id"))
                assert "taskDueDate" in names, f"{path.name}: {task.get('id')} has no due date"
    for name in ("send_reminder", "escalate_non_response", "write_to_chief_executive", "remind_csp_chair",
                 "escalate_overdue_decision", "tell_home_office_of_delay", "remind_chair_of_resubmission"):
        assert name in chasing, name


def test_an_agency_that_never_answers_is_chased_with_a_due_date_at_every_step(dhr: World) -> None:
    case = Dhr(dhr)

    def nhs(task: OpenTask) -> bool:
        return task.bpmn_id == "secure_records_and_nominate" and case.agency(task) == "NHS Trust"

    case.drive(base_policy, {}, step=None, hold=nhs, until=lambda d: d.find("secure_records_and_nominate") is not None)
    asked_on = today(case)
    for name, days in (("send_reminder", 14), ("escalate_non_response", 28), ("write_to_chief_executive", 42)):
        while case.find(name) is None:
            assert case.next_timer(), name
        task = case.find(name)
        # five working days (weekends and bank holidays skipped) after the step fell due
        assert due_day(task) == add_working_days(asked_on + timedelta(days=days), 5), name
        assert task is not None and task.due_at is not None


# -- 2. the clocks start when the law says ------------------------------------------------------

def test_the_decision_clock_runs_from_the_notification_and_the_deadline_shows_from_the_decision(dhr: World) -> None:
    case = Dhr(dhr)  # notified on 31 August 2025 (the fixture's clock)
    case.complete(case.find("record_notification"), base_policy(case, case.find("record_notification"), {}))
    # screening has not started, yet the CSP chair's clock runs: reminder 23 September, overdue 1 October
    assert [t.bpmn_id for t in case.open()] == ["screen_case"]
    assert case.timers()["decision_reminder_due"] == [datetime(2025, 9, 23, 8, 0, tzinfo=UTC)]
    assert case.timers()["decision_overdue"] == [datetime(2025, 10, 1, 8, 0, tzinfo=UTC)]
    assert dhr.case(case.reference).deadline_on is None  # nothing decided yet

    dhr.clock.set(datetime(2025, 9, 23, 8, 0, tzinfo=UTC))  # slow screening: the reminder falls on its day
    run_due(dhr.db.sessions, dhr.clock)
    reminder = case.find("remind_csp_chair")
    assert reminder is not None and case.find("screen_case") is not None
    assert due_day(reminder) == date(2025, 9, 25)  # two working days
    case.complete(case.find("screen_case"), base_policy(case, case.find("screen_case"), {}))
    assert len(case.all("remind_csp_chair")) == 1  # screening done: no second reminder fires at once
    decide = case.find("decide_on_review")
    assert due_day(decide) == date(2025, 9, 30)  # one month after the notification

    dhr.clock.set(datetime(2025, 9, 26, 9, 0, tzinfo=UTC))
    case.complete(decide, base_policy(case, decide, {}))  # the DHR is decided on 26 September
    assert "decision_overdue" not in case.timers()  # the decision stops its clock
    stored = dhr.case(case.reference)
    assert stored.stage == "Commissioning the review"  # still commissioning, yet the six-month deadline runs
    assert stored.deadline_on == date(2026, 3, 26)
    assert case.timers()["deadline_passed"] == [datetime(2026, 3, 27, 9, 0, tzinfo=UTC)]


# -- 3. dates agreed in the process are enforced ------------------------------------------------

@pytest.mark.long
def test_the_chairs_progress_report_is_chased_and_never_blocks_the_next_quarter(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("advertise_for_chair") is not None)
    decided = today(case)  # 31 August 2025: reports due 30 November, 28 February ...
    while not case.all("send_progress_report"):
        assert case.next_timer()
    [report] = case.all("send_progress_report")
    assert report.lane == "Independent Chair"
    assert due_day(report) == date(2025, 11, 30) + timedelta(days=14)  # answered within the chase's 14 days
    assert today(case) == date(2025, 11, 30) and decided == date(2025, 8, 31)

    def reminded() -> bool:
        asked = [case.data(t)["chase_request"]["request_type"] for t in case.all("send_reminder")]
        return "progress_report" in asked

    while not reminded():
        assert case.next_timer()
    while len(case.all("send_progress_report")) < 2:  # the first is still unanswered
        assert case.next_timer()
    subjects = sorted(case.data(t)["chase_request"]["subject"] for t in case.all("send_progress_report"))
    assert subjects == ["Quarterly progress report 1 to the CSPB", "Quarterly progress report 2 to the CSPB"]
    assert today(case) == date(2026, 2, 28)


@pytest.mark.long
def test_the_cspbs_resubmission_date_is_the_chairs_due_date_with_a_reminder(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {"cspb_rejections": 1}, step=None, until=lambda d: d.find("revise_for_cspb") is not None)
    revise = case.find("revise_for_cspb")
    resubmit_by = date.fromisoformat(case.data(revise)["cspb_resubmit_by"])
    assert revise is not None and revise.due_at == end_of_day(resubmit_by)
    assert case.timers()["cspb_resubmission_reminder_due"][0].astimezone(LONDON).date() == resubmit_by - timedelta(7)
    dhr.clock.set(case.timers()["cspb_resubmission_reminder_due"][0])
    run_due(dhr.db.sessions, dhr.clock)
    reminder = case.find("remind_chair_of_resubmission")
    assert reminder is not None and reminder.lane == "Community Safety Team" and due_day(reminder) is not None
    assert case.find("revise_for_cspb") is not None  # the chair still has to resubmit

    # the CSPB cannot disagree without agreeing a date
    case.complete(case.find("revise_for_cspb"))
    sign_off = case.find("cspb_sign_off")
    with pytest.raises(FormDataInvalid) as refused:
        submit_exactly(case, sign_off, {"cspb_decision": "Disagrees: clarification or changes needed",
                                        "cspb_meeting_date": case.today()})
    assert "cspb_resubmit_by" in str(refused.value)


@pytest.mark.long
def test_a_new_timescale_is_told_to_the_cspb_and_the_home_office(dhr: World) -> None:
    case = Dhr(dhr)
    ctx = {"new_timescale": "2026-04-30"}
    case.drive(base_policy, ctx, step=None, until=lambda d: d.find("record_new_timescale") is not None)
    form = case._schema(case.find("record_new_timescale"))
    assert "home_office_told_of_timescale" not in form["properties"]  # "false" can no longer be recorded
    case.complete(case.find("record_new_timescale"), {"new_completion_date": "2026-04-30",
                                                      "timescale_agreed_on": case.today()})
    assert dhr.case(case.reference).deadline_on == date(2026, 4, 30)
    notice = case.find("tell_cspb_and_home_office_of_timescale")
    assert notice is not None and notice.lane == "Community Safety Team"
    assert due_day(notice) == add_working_days(today(case), 5)
    assert case.find("update_family_on_timescale") is None  # the family is updated after both are told
    with pytest.raises(FormDataInvalid) as refused:
        submit_exactly(case, notice, {"home_office_told_on": case.today()})
    assert set(refused.value.errors) == {"cspb_told_on"}
    case.complete(notice)
    assert case.find("update_family_on_timescale") is not None


# -- 4. a paused review ----------------------------------------------------------------------------

@pytest.mark.long
@pytest.mark.parametrize("choice", ["Add the paused days back", "A new completion date was agreed"])
def test_a_review_on_hold_for_the_trial_stops_the_clock_and_the_team_resumes_it(dhr: World, choice: str) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {"pause": True}, step=None,
               until=lambda d: d.find("record_criminal_proceedings") is not None)
    assert dhr.case(case.reference).deadline_on == date(2026, 2, 28)
    task = case.find("record_criminal_proceedings")
    case.complete(task, base_policy(case, task, {"pause": True}))
    paused_on = today(case)
    assert dhr.case(case.reference).deadline_on is None  # on hold: no deadline runs
    assert not {"deadline_passed", "deadline_month_away"} & set(case.timers())
    assert case.find("tell_cspb_and_home_office_of_timescale") is not None
    resume = case.find("resume_review")
    assert resume is not None and resume.lane == "Community Safety Team"

    dhr.clock.advance(timedelta(days=45))  # the trial ends 45 days later
    answers = {"resume_choice": choice, "resumed_on": case.today(), "resume_reason": "The trial has ended"}
    if choice == "A new completion date was agreed":
        answers["resume_completion_date"] = "2026-06-30"
    case.complete(resume, answers)
    expected = date(2026, 2, 28) + timedelta(days=45) if choice.startswith("Add") else date(2026, 6, 30)
    assert dhr.case(case.reference).deadline_on == expected
    assert case.timers()["deadline_passed"][0].astimezone(LONDON).date() == expected + timedelta(days=1)
    assert case.find("resume_review") is None
    assert (today(case) - paused_on).days == 45


# -- 5. publication, to the letter of seed 003 ------------------------------------------------------

@pytest.mark.long
def test_publication_avoids_a_29_february_birthday_and_the_date_published_is_checked(dhr: World) -> None:
    case = Dhr(dhr)
    notification = base_policy(case, case.find("record_notification"), {})
    case.complete(case.find("record_notification"), dict(notification, victim_date_of_birth="1984-02-29"))
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("agree_publication_date") is not None)
    year = today(case).year + 1  # 2027: no 29 February
    for day in (f"{year}-02-28", f"{year}-03-01"):
        case.complete(case.find("agree_publication_date"), {"publication_date": day})
        again = case.find("agree_publication_date")
        assert again is not None
        assert case.data(again)["publication_date_error"] == (
            f"The date {day} falls on the victim's birthday. Please agree another date with the family.")
    case.complete(case.find("agree_publication_date"), {"publication_date": f"{year}-03-02"})
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("publish_report") is not None)

    future = (today(case) + timedelta(days=1)).isoformat()
    last_28_february = f"{today(case).year - (1 if today(case) < date(today(case).year, 2, 28) else 0)}-02-28"
    with pytest.raises(FormDataInvalid, match="Date published must be today or in the past"):  # by the form
        case.complete(case.find("publish_report"), {"published_on": future})
    refusals = [({"published_on": last_28_february}, "the victim's birthday"),  # by the diagram
                ({"anonymisation_checked": False}, "checked for anonymity")]
    for answers, words in refusals:
        case.complete(case.find("publish_report"), answers)
        again = case.find("publish_report")
        assert again is not None and words in case.data(again)["published_on_error"], words
        assert case.find("circulate_one_page_summary") is None
    case.complete(case.find("publish_report"), {"published_on": case.today()})
    assert case.find("circulate_one_page_summary") is not None

    # the quarterly updates fall on the Steering Group's quarter days (1 January, April, July, October)
    published = today(case)
    case.drive(base_policy, {}, step=None, until=lambda d: "quarterly_update_due" in d.timers())
    [first] = case.timers()["quarterly_update_due"]
    expected = next_quarter_day(published + timedelta(days=27), (1, 4, 7, 10), 1)
    assert first.astimezone(LONDON).date() == expected and expected.day == 1 and expected.month in (1, 4, 7, 10)
