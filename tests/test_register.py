"""The recommendation register and the Steering Group's report, computed from cases run by the engine
(the `seed_001` fixture: tests/seed_001.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.bpmn import runtime
from engine.platform.audit import AuditType
from engine.platform.models import AuditEvent, CaseStage, OpenTask
from engine.review import chasing, reporting
from engine.review.register import AWAITING, COMPLETED, Filters, Recommendation, find

from . import seed_001
from .conftest import World
from .dhr_driver import Dhr, base_policy


def test_the_steering_group_report_reproduces_seed_001(seeded: World) -> None:
    with seeded.db.sessions() as s:
        report = reporting.steering_report(s, *seed_001.PERIOD, today=seed_001.PERIOD[1])
    assert (report.considered, report.commissioned, report.completed) == (13, 12, 9)
    # approval 5 and 6 calendar months after the decision are within 6 months; 12 is within 12
    assert (report.completed_within_6_months, report.completed_within_12_months) == (2, 7)
    assert report.recommendations == 84
    assert [(f.label, f.count, f.percent) for f in report.by_status] == [
        ("Completed", 47, "56%"), ("Part completed / in progress", 13, "15%"), ("Awaiting feedback", 24, "29%")]
    themes = {f.label: (f.count, f.percent) for f in report.by_theme}
    assert themes["Information Sharing and Multi-Agency Working"] == (19, "23%")  # seed 001: 23%
    assert themes["Agency Specific Policies/Issues"] == (13, "15%")  # 15%
    assert themes["Complex Needs (Alcohol, Drugs, Mental Health)"] == (12, "14%")  # 14%
    assert themes["Awareness Raising and Communication"] == (11, "13%")  # 13%
    assert sum(count for count, _ in themes.values()) == 84 and len(themes) == 8
    agencies = {f.label: (f.count, f.percent) for f in report.by_agency}
    assert agencies["Kent Police"] == (20, "24%")  # seed 001: 20 recommendations, 24%
    assert agencies["Kent and Medway CCGs"] == (9, "11%")  # 9, 11%
    assert report.by_agency[0].label == "Kent Police"
    top = [(f.label, f.count) for f in report.top_agencies()]
    assert top[-1] == ("All other agencies", 84 - 20 - 9 - 8 - 8 - 8) and len(top) == 6
    awaiting = {f.label: (f.count, f.percent) for f in report.awaiting_by_agency}
    assert awaiting["Kent Police"] == (8, "33%") and awaiting["KCC Specialist Children's Services"] == (8, "33%")
    assert sum(count for count, _ in awaiting.values()) == 24
    assert len(report.national) == 12
    assert {n.national_body for n in report.national} == seed_001.NATIONAL
    assert all(a.since == date(2026, 1, 5) for a in report.awaiting)  # awaited since the plan was agreed


def test_a_past_period_reads_the_status_as_it_was_then(seeded: World) -> None:
    with seeded.db.sessions() as s:
        before_updates = reporting.steering_report(s, date(2024, 4, 1), date(2026, 1, 31), today=seed_001.PERIOD[1])
        before_plans = reporting.steering_report(s, date(2024, 4, 1), date(2026, 1, 4), today=seed_001.PERIOD[1])
    assert [f.count for f in before_updates.by_status] == [0, 0, 84]
    assert before_plans.recommendations == 0


def test_the_register_filters(seeded: World) -> None:
    today = date(2026, 11, 24)
    with seeded.db.sessions() as s:
        everything = find(s, Filters(), today=today)
        police = find(s, Filters(agency="Kent Police"), today=today)
        awaiting = find(s, Filters(status=AWAITING), today=today)
        national = find(s, Filters(national=True), today=today)
        theme = find(s, Filters(theme="Risk Assessment"), today=today)
        one_case = find(s, Filters(case="Case00/2024"), today=today)
        overdue = find(s, Filters(overdue=True), today=today)  # target 2026-06-30, not completed
        not_yet = find(s, Filters(overdue=True), today=date(2026, 6, 30))
        mixed = find(s, Filters(agency="Kent Police", status=AWAITING), today=today)
    assert (len(everything), len(police), len(awaiting), len(national), len(theme)) == (84, 20, 24, 12, 8)
    assert [r.number for r in one_case] == list(range(1, 11))
    assert len(overdue) == 37 and not_yet == []
    assert len(mixed) == 8


def test_status_changes_only_through_audited_updates(seeded: World) -> None:
    with seeded.db.sessions() as s:
        recs = list(s.scalars(select(Recommendation)))
        kinds = Counter(e.kind for r in recs for e in r.events)
        audited = Counter(s.scalars(select(AuditEvent.event_type).where(
            AuditEvent.event_type.like("RECOMMENDATION_%"))))
        answered = next(r for r in recs if r.status == COMPLETED)
        waiting = next(r for r in recs if r.status == AWAITING)
    assert kinds == {"created": 84, "requested": 84, "update": 60}
    assert audited == {"RECOMMENDATION_ADDED": 84, "RECOMMENDATION_REQUESTED": 84, "RECOMMENDATION_UPDATED": 60}
    assert [e.kind for e in answered.events] == ["created", "requested", "update"]
    assert answered.events[-1].actor == seed_001.agency_holder(seeded, "holder", answered.lead_agency)
    assert answered.events[-1].at == seed_001.UPDATES_GIVEN
    assert answered.events[-1].progress == "Done so far" and answered.awaiting_since is None
    assert waiting.awaiting_since == seed_001.PLANS_AGREED


def test_a_national_recommendation_needs_its_national_body(world: World) -> None:
    from engine.platform.errors import FormDataInvalid

    seed_001.deploy(world)
    reference = world.start("Case", 2024, process="review_fixture")
    world.complete("decide", {"review_type": "DHR", "decision_date": "2024-05-01"}, "carol", reference)
    item = seed_001.item(seed_001.Planned("Home Office", "Risk Assessment", AWAITING), 1)
    del item["national_body"]
    with pytest.raises(FormDataInvalid) as raised:
        world.complete("agree_action_plan", {"recommendations": [item], "action_plan_agreed_on": "2026-01-05"},
                       "carol", reference)
    assert "recommendations.0.national_body" in raised.value.errors
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Recommendation)) == 0


def test_the_dhr_process_feeds_the_register_and_the_steering_group_can_ask_at_once(dhr: World) -> None:
    case = Dhr(dhr)
    ctx: dict[str, Any] = {}
    case.drive(base_policy, ctx, step=None, until=lambda d: "quarterly_update_due" in d.timers())
    with dhr.db.sessions() as s:
        recs = list(s.scalars(select(Recommendation).order_by(Recommendation.number)))
        assert [(r.number, r.lead_agency, r.status) for r in recs] == [(1, "Police", AWAITING),
                                                                      (2, "GP practice", AWAITING)]
        stages = [row.stage for row in s.scalars(select(CaseStage).order_by(CaseStage.id))]
        facts = runtime.get_case(s, case.reference).facts
    assert stages == ["Commissioning the review", "Conducting the review", "Overview report and action plan",
                      "Completion and sign-off", "Dissemination and learning"], stages
    assert facts["review_type"] == "DHR" and facts["decision_date"] and facts["report_approved_on"]
    quarter = case.timers()["quarterly_update_due"]

    outcome = chasing.request_updates(dhr.db.sessions, dhr.clock, actor="steering")
    assert outcome.asked == [case.reference] and not outcome.failed
    asked = case.all("give_action_update")
    assert len(asked) == 2 and "quarterly_update_due" not in case.timers()  # asked now, not next quarter
    again = chasing.request_updates(dhr.db.sessions, dhr.clock, actor="steering")
    assert again.already_asked == [case.reference] and again.asked == []

    case.complete(asked[0], {"action_status": "Completed"})
    with dhr.db.sessions() as s:
        recs = list(s.scalars(select(Recommendation).order_by(Recommendation.number)))
        assert {r.status for r in recs} == {COMPLETED, AWAITING}
        requested = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event_type == AuditType.UPDATES_REQUESTED.value))
        assert requested == 2
    assert quarter  # the quarter's timer was waiting before the request replaced it


def test_nothing_to_ask_before_an_action_plan_is_monitored(dhr: World) -> None:
    case = Dhr(dhr)
    case.drive(base_policy, {}, step=None, until=lambda d: d.find("panel_sign_off") is not None)
    with dhr.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Recommendation)) == 2
    outcome = chasing.request_updates(dhr.db.sessions, dhr.clock, actor="steering")
    assert outcome.not_waiting == [case.reference] and outcome.asked == []
    with dhr.db.sessions() as s:
        assert not s.scalars(select(OpenTask).where(OpenTask.bpmn_id == "give_action_update")).first()
