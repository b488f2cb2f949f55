"""The DHR process (processes/) run by the real engine and database, with the clock moved."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dateutil.relativedelta import relativedelta

from engine.bpmn.library import load_bundle, read_folder

from .conftest import POSTGRES_IN_SECOND_STEP, World
from .dhr_driver import LONDON, PROCESSES, Dhr, base_policy

# the DHR process's steps through the ORM: its saves, locks and timers' queries run on PostgreSQL in test_register,
# test_units_of_work, test_scheduler and test_cli
pytestmark = POSTGRES_IN_SECOND_STEP


def test_the_process_folder_validates() -> None:
    bundle = load_bundle(read_folder(PROCESSES))
    assert "dhr_review" in bundle.process_ids and len(bundle.forms) >= 50


def test_happy_path_from_notification_to_closure(dhr: World) -> None:
    case = Dhr(dhr)
    ctx: dict = {}
    assert [(t.bpmn_id, t.lane) for t in case.open()] == [("record_notification", "Community Safety Team")]
    case.drive(base_policy, ctx, until=lambda d: d.find("decide_on_review") is not None, step=None)
    decide = case.find("decide_on_review")
    assert decide is not None and decide.lane == "CSP Chair"
    timers = case.timers()
    assert timers["decision_reminder_due"] == [datetime(2025, 9, 23, 8, 0, tzinfo=UTC)]  # 09:00 BST
    assert timers["decision_overdue"] == [datetime(2025, 10, 1, 8, 0, tzinfo=UTC)]
    case.drive(base_policy, ctx, step=None, until=lambda d: d.find("draft_terms_of_reference") is not None)
    # six calendar months after the chair's decision on 31 August: 28 February; breach the next morning
    assert case.timers()["deadline_passed"] == [datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    case.drive(base_policy, ctx, step=None, until=lambda d: "quarterly_update_due" in d.timers())
    [first_quarter] = case.timers()["quarterly_update_due"]
    published = dhr.clock.now().astimezone(LONDON).date()
    # the Steering Group's calendar quarter: the first 1 January, April, July or October 28 days or more on
    first = first_quarter.astimezone(LONDON).date()
    assert first.day == 1 and first.month in (1, 4, 7, 10)
    assert published + relativedelta(days=28) <= first <= published + relativedelta(days=28, months=3)
    case.drive(base_policy, ctx)
    assert case.status() == "completed"
    for name in ("notify_home_office_of_decision", "publish_report", "review_action_plan_progress"):
        assert case.count(name) >= 1, name
    # two actions: one complete after its first quarterly update, the other after its second
    assert case.count("give_action_update") == 3
    assert {lane for name, lane, _ in case.done if name == "give_action_update"} == {"Action Holder"}
    assert case.count("tell_home_office_of_delay") == 0


def test_no_review_is_notified_to_the_home_office(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {"review_type": "No review"})
    assert case.status() == "completed"
    assert case.count("notify_home_office_of_decision") == 1
    assert case.count("record_home_office_response") == 1
    assert case.count("advertise_for_chair") == 0
    assert case.timers() == {}


def test_loops_panel_changes_cspb_disagrees_twice_home_office_asks_for_changes(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {"panel_rejections": 1, "cspb_rejections": 2, "ho_rejections": 1, "suicide": True},
               step=None)
    assert case.status() == "completed"
    assert case.count("revise_for_panel") == 1 and case.count("panel_sign_off") == 2
    assert case.count("revise_for_cspb") == 2 and case.count("cspb_sign_off") == 3
    lanes = {name: lane for name, lane, _ in case.done}
    assert lanes["revise_for_cspb"] == "Independent Chair" and lanes["cspb_sign_off"] == "CSP Chair"
    assert case.count("amend_for_home_office") == 1 and case.count("submit_to_home_office") == 2
    # a suspected suicide: the Community Safety Team contacts the family directly, not the police FLO
    assert case.count("contact_family_directly") == 1 and case.count("notify_family_via_flo") == 0


def test_an_agency_that_never_answers_is_chased_while_the_other_answers(dhr: World) -> None:
    case = Dhr(dhr)

    def nhs(task) -> bool:
        return task.bpmn_id == "secure_records_and_nominate" and case.agency(task) == "NHS Trust"

    case.drive(base_policy, {}, step=None, hold=nhs,
               until=lambda d: d.find("secure_records_and_nominate") is not None)
    requests = case.all("secure_records_and_nominate")
    assert sorted(case.agency(t) for t in requests) == ["NHS Trust", "Police"]
    assert {t.lane for t in requests} == {"Panel"}
    police = next(t for t in requests if case.agency(t) == "Police")
    case.complete(police)
    assert case.timers()["reminder_due"] == [datetime(2025, 9, 14, 8, 0, tzinfo=UTC)]  # 14 days, 09:00 BST
    busy = ("advertise_for_chair", "select_chair", "contract_chair", "notify_family_via_flo", "remind_csp_chair",
            "escalate_overdue_decision")
    while (other := next((t for t in case.open() if t.bpmn_id in busy), None)) is not None:
        case.complete(other)

    case.next_timer()  # day 14: a reminder task for the Community Safety Team
    [reminder] = case.all("send_reminder")
    assert reminder.lane == "Community Safety Team"
    case.complete(reminder)
    assert case.timers()["escalation_due"] == [datetime(2025, 9, 28, 8, 0, tzinfo=UTC)]
    case.next_timer()  # day 28: escalation to the Steering Group chair
    [escalation] = case.all("escalate_non_response")
    assert escalation.lane == "Steering Group"
    case.complete(escalation)
    assert case.timers()["letter_due"] == [datetime(2025, 10, 12, 8, 0, tzinfo=UTC)]
    case.next_timer()  # day 42: the CSP chair writes to the agency's chief executive
    [letter] = case.all("write_to_chief_executive")
    assert letter.lane == "CSP Chair" and case.agency(letter) == "NHS Trust"
    case.complete(letter)
    case.next_timer()  # chasing goes on: a second escalation
    assert len(case.all("escalate_non_response")) == 1
    assert case.find("draft_terms_of_reference") is None  # the review cannot go on without the answer

    [answer] = case.all("secure_records_and_nominate")
    case.complete(answer, {"panel_member_name": "Example Member"})
    assert not case.all("escalate_non_response") and not case.all("write_to_chief_executive")
    assert not {"reminder_due", "escalation_due", "letter_due"} & set(case.timers())


@pytest.mark.long
def test_deadline_paused_breached_extended_and_on_hold(dhr: World) -> None:
    case = Dhr(dhr)
    ctx = {"new_timescale": "2026-04-30", "extensions": ["2026-07-31", None]}
    case.drive(base_policy, ctx, step=None, until=lambda d: d.find("hold_first_panel_meeting") is not None)
    assert case.timers()["deadline_passed"] == [datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    assert case.timers()["deadline_month_away"] == [datetime(2026, 1, 28, 9, 0, tzinfo=UTC)]
    assert dhr.case(case.reference).deadline_on == date(2026, 2, 28)  # what the case pages show

    # criminal proceedings: a new timescale is agreed, which moves the deadline
    case.drive(base_policy, ctx, step=None, until=lambda d: d.find("record_new_timescale") is not None)
    case.complete(case.find("record_new_timescale"), {"new_completion_date": "2026-04-30",
                                                      "timescale_agreed_on": case.today()})
    assert case.timers()["deadline_passed"] == [datetime(2026, 5, 1, 8, 0, tzinfo=UTC)]  # 09:00 BST

    def holding(task) -> bool:
        return task.bpmn_id == "panel_sign_off"

    case.drive(base_policy, ctx, step=None, hold=holding,
               until=lambda d: d.find("tell_home_office_of_delay") is not None)
    assert dhr.clock.now() == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    for name in ("tell_home_office_of_delay", "tell_cspb_of_delay", "record_agreed_extension"):
        task = case.find(name)
        assert task is not None and task.lane == "Community Safety Team", name
        case.complete(task, base_policy(case, task, ctx))
    assert case.timers()["deadline_passed"] == [datetime(2026, 8, 1, 8, 0, tzinfo=UTC)]  # the extension
    assert dhr.case(case.reference).deadline_on == date(2026, 7, 31)

    case.drive(base_policy, ctx, step=None, hold=holding,
               until=lambda d: d.find("record_agreed_extension") is not None)
    task = case.find("record_agreed_extension")
    case.complete(task, base_policy(case, task, ctx))  # on hold: the deadline clock is paused
    assert "deadline_passed" not in case.timers()
    assert dhr.case(case.reference).deadline_on is None  # on hold
    case.send("deadline_changed", {"completion_due_date": "2026-10-31", "agreed_on": case.today(),
                                   "agreed_by": "CSPB", "reason": "Trial concluded"})
    assert case.timers()["deadline_passed"] == [datetime(2026, 11, 1, 9, 0, tzinfo=UTC)]
    case.drive(base_policy, ctx, step=None)
    assert case.status() == "completed"


def test_a_publication_date_on_the_anniversary_or_birthday_is_rejected(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("agree_publication_date") is not None)
    messages = []
    for day in ("2026-08-20", "2027-03-04"):  # the anniversary of the death; the victim's birthday
        case.complete(case.find("agree_publication_date"), {"publication_date": day})
        again = case.find("agree_publication_date")
        assert again is not None and again.lane == "Independent Chair"
        messages.append(case.data(again)["publication_date_error"])
    assert messages == [
        "The date 2026-08-20 falls on the anniversary of the death. Please agree another date with the family.",
        "The date 2027-03-04 falls on the victim's birthday. Please agree another date with the family.",
    ]
    case.complete(case.find("agree_publication_date"), {"publication_date": "2026-09-15"})
    assert case.find("agree_publication_date") is None
    assert case.find("prepare_media_plan") is not None


@pytest.mark.long
def test_a_family_complaint_mid_review_goes_to_the_csp_chair_without_disturbing_the_review(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("hold_first_panel_meeting") is not None)
    before = {t.bpmn_id for t in case.open()}
    case.send("family_complaint", {"complaint_received_on": case.today(), "complainant_relationship": "Sister",
                                   "complaint_summary": "We were not told about the panel meeting."})
    complaint = case.find("investigate_complaint")
    assert complaint is not None and complaint.lane == "CSP Chair"
    assert before <= {t.bpmn_id for t in case.open()}
    case.drive(base_policy, {}, step=None)
    assert case.status() == "completed" and case.count("record_complaint_outcome") == 1
