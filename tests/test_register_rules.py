"""The register's rules at their edges: since when a recommendation is awaited, one lead agency however
it is typed, a revised action plan, and a report that counts only the reviews completed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.bpmn import runtime
from engine.platform import access
from engine.platform.models import AuditEvent
from engine.review import reporting
from engine.review.register import (
    AWAITING,
    COMPLETED,
    IN_PROGRESS,
    WITHDRAWN,
    Filters,
    Recommendation,
    find,
    lead_agencies,
)

from . import seed_001
from .conftest import World

PLAN_AGREED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
APPROVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the update requests go out with the approval
ANSWERED = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
READ_ON = date(2026, 12, 31)  # the reports are read after every period they cover
LABELS = {COMPLETED: "Completed", IN_PROGRESS: "Part completed / in progress"}


@pytest.fixture
def fixture_world(world: World) -> World:
    world.user("holder", "Action Holder")
    seed_001.deploy(world)
    return world


def _item(agency: str, text: str = "", theme: str = "Risk Assessment") -> dict[str, Any]:
    item = seed_001.item(seed_001.Planned(agency, theme, AWAITING), 1)
    item["recommendation"] = text or f"A recommendation for {agency}"
    return item


def _plan(world: World, reference: str, items: list[dict[str, Any]], task: str = "agree_action_plan") -> None:
    world.complete(task, {"recommendations": items, "action_plan_agreed_on": "2026-01-05"}, "carol", reference)


def _recs(world: World, reference: str | None = None, **filters: Any) -> list[Recommendation]:
    with world.db.sessions() as s:
        return find(s, Filters(case=reference or "", **filters), today=date(2026, 4, 1))


def _answer(world: World, reference: str, bpmn_id: str, statuses: dict[int, str]) -> None:
    """Answer the open update requests of `reference`: recommendation number -> status key."""
    for task in world.tasks(reference):
        if task.bpmn_id != bpmn_id:
            continue
        with world.db.sessions() as s:
            case = runtime.get_case(s, reference)
            workflow = runtime.load_workflow(case, s)
            request = workflow.get_task_from_id(runtime.UUID(task.id)).data["chase_request"]
        number = request["reference"] + 1
        if number not in statuses:
            continue
        holder = seed_001.agency_holder(world, "holder", request["agency"])  # only the lead agency answers
        world.join(holder, reference)
        with world.uow() as s:
            runtime.complete_task(s, task.id, {"action_status": LABELS[statuses[number]], "progress_update": "Done",
                                               "update_date": "2026-04-01"}, user=world.users[holder],
                                  clock=world.clock)


def _review(world: World, pseudonym: str, items: list[dict[str, Any]]) -> str:
    """A DHR decided on 1 May 2025 whose plan is agreed on PLAN_AGREED (not yet approved)."""
    world.clock.set(PLAN_AGREED - timedelta(days=1))
    reference = world.start(pseudonym, 2025, process="review_fixture")
    world.complete("decide", {"review_type": "DHR", "decision_date": "2025-05-01"}, "carol", reference)
    world.clock.set(PLAN_AGREED)
    _plan(world, reference, items)
    return reference


def test_awaited_since_the_first_request_not_since_the_plan(fixture_world: World) -> None:
    world = fixture_world
    reference = _review(world, "Ash", [_item("Kent Police"), _item("Medway Council")])
    first, second = _recs(world, reference)
    assert (first.status, first.awaiting_since) == (AWAITING, None)  # owed, not asked yet

    world.clock.set(APPROVED)
    world.complete("approve", {"report_approved_on": "2026-03-02"}, "carol", reference)
    assert [r.awaiting_since for r in _recs(world, reference)] == [APPROVED, APPROVED]

    world.clock.set(ANSWERED)
    _answer(world, reference, "give_action_update", {1: IN_PROGRESS})
    first, second = _recs(world, reference)
    assert (first.status, first.awaiting_since) == (IN_PROGRESS, None)
    assert (second.status, second.awaiting_since) == (AWAITING, APPROVED)  # still unanswered since then
    with world.db.sessions() as s:
        report = reporting.steering_report(s, date(2026, 1, 1), date(2026, 4, 30), today=READ_ON)
    assert [(a.number, a.since) for a in report.awaiting] == [(2, date(2026, 3, 2))]


def test_the_report_counts_the_recommendations_of_completed_reviews_only(fixture_world: World) -> None:
    world = fixture_world
    reference = _review(world, "Birch", [_item("Kent Police"), _item("Home Office") | {
        "scope": "National", "national_body": "Home Office"}])
    with world.db.sessions() as s:
        drafted = reporting.steering_report(s, date(2025, 4, 1), date(2026, 3, 31), today=READ_ON)
    assert (drafted.considered, drafted.completed, drafted.recommendations, drafted.national) == (1, 0, 0, [])
    assert len(_recs(world)) == 2  # the register lists them from the day the plan is agreed

    world.clock.set(APPROVED)
    world.complete("approve", {"report_approved_on": "2026-03-02"}, "carol", reference)
    with world.db.sessions() as s:
        before = reporting.steering_report(s, date(2025, 4, 1), date(2026, 3, 1), today=READ_ON)
        after = reporting.steering_report(s, date(2025, 4, 1), date(2026, 3, 2), today=READ_ON)
    assert (before.completed, before.recommendations) == (0, 0)
    assert (after.completed, after.recommendations, len(after.national)) == (1, 2, 1)


def test_one_lead_agency_however_it_is_typed(fixture_world: World) -> None:
    world = fixture_world
    with world.uow() as s:
        access.add_agency(s, "Kent Police", actor="admin", at=world.clock.now())
    first = _review(world, "Cedar", [_item("kent  police"), _item("Medway Council "), _item("KENT POLICE")])
    second = _review(world, "Elm", [_item("medway   council"), _item("Kent Police")])
    for reference in (first, second):
        world.clock.set(APPROVED)
        world.complete("approve", {"report_approved_on": "2026-03-02"}, "carol", reference)

    assert [r.lead_agency for r in _recs(world)] == [
        "Kent Police", "Medway Council", "Kent Police", "Medway Council", "Kent Police"]
    assert len(_recs(world, agency="Kent Police")) == 3
    with world.db.sessions() as s:
        assert lead_agencies(s) == ["Kent Police", "Medway Council"]
        assert lead_agencies(s, {runtime.get_case(s, second).id}) == ["Kent Police", "Medway Council"]
        assert lead_agencies(s, set()) == []
        report = reporting.steering_report(s, date(2025, 4, 1), date(2026, 3, 31), today=READ_ON)
    assert [(f.label, f.count, f.percent) for f in report.by_agency] == [
        ("Kent Police", 3, "60%"), ("Medway Council", 2, "40%")]


def test_a_case_is_found_however_its_reference_is_typed(fixture_world: World) -> None:
    reference = _review(fixture_world, "Hazel", [_item("Kent Police")])
    assert [r.case.reference for r in _recs(fixture_world, " hazel/2025 ")] == [reference]


def test_a_revised_plan_revises_by_number_withdraws_and_reinstates(fixture_world: World) -> None:
    world = fixture_world
    world.clock.set(PLAN_AGREED)
    reference = world.start("Rowan", 2025, process="plan_revision")
    three = [_item("Kent Police", "Train call handlers"), _item("Medway Council", "Share referrals"),
             _item("NHS Kent", "Ask about abuse")]
    _plan(world, reference, three, task="revise_agree_plan")
    world.complete("revise_approve", {"report_approved_on": "2026-03-02"}, "carol", reference)
    world.clock.set(ANSWERED)
    _answer(world, reference, "revise_give_update", {1: IN_PROGRESS, 2: COMPLETED, 3: IN_PROGRESS})
    world.complete("revise_check", {"revise_plan": True}, "carol", reference)

    revised_at = ANSWERED + timedelta(days=7)
    world.clock.set(revised_at)
    _plan(world, reference, [_item("Kent Police", "Train call handlers and their supervisors"), three[1]],
          task="revise_agree_plan")
    listed = _recs(world, reference)
    assert [(r.number, r.text, r.status) for r in listed] == [
        (1, "Train call handlers and their supervisors", IN_PROGRESS), (2, "Share referrals", COMPLETED)]
    (withdrawn,) = _recs(world, reference, status=WITHDRAWN)
    with world.db.sessions() as s:
        assert lead_agencies(s) == ["Kent Police", "Medway Council"]  # not NHS Kent's withdrawn one
    assert (withdrawn.number, withdrawn.lead_agency, withdrawn.status_label) == (3, "NHS Kent", "Withdrawn")
    assert [e.kind for e in withdrawn.events] == ["created", "requested", "update", "withdrawn"]
    assert [e.kind for e in listed[1].events] == ["created", "requested", "update"]  # unchanged: no event
    assert listed[0].events[-1].changes == {"text": ["Train call handlers",
                                                     "Train call handlers and their supervisors"]}
    with world.db.sessions() as s:
        now = reporting.steering_report(s, date(2025, 4, 1), revised_at.date(), today=READ_ON)
        then = reporting.steering_report(s, date(2025, 4, 1), ANSWERED.date(), today=READ_ON)
        audited = Counter(s.scalars(select(AuditEvent.event_type).where(
            AuditEvent.event_type.in_(["RECOMMENDATION_REVISED", "RECOMMENDATION_WITHDRAWN"]))))
    assert [f.count for f in now.by_status] == [1, 1, 0]  # R3 is counted nowhere now...
    assert [f.count for f in then.by_status] == [1, 2, 0]  # ...but a report of April reads as it did
    assert audited == {"RECOMMENDATION_REVISED": 1, "RECOMMENDATION_WITHDRAWN": 1}

    # the next round asks about the two the plan lists (the completed one is not asked again)
    world.complete("revise_approve", {"report_approved_on": "2026-03-02"}, "carol", reference)
    assert [(r.number, r.status, r.awaiting_since) for r in _recs(world, reference)] == [
        (1, AWAITING, revised_at), (2, COMPLETED, None)]
    _answer(world, reference, "revise_give_update", {1: IN_PROGRESS, 2: COMPLETED})
    world.complete("revise_check", {"revise_plan": True}, "carol", reference)
    _plan(world, reference, three, task="revise_agree_plan")  # NHS Kent's is listed again
    (reinstated,) = [r for r in _recs(world, reference) if r.number == 3]
    assert (reinstated.status, reinstated.awaiting_since, reinstated.text) == (AWAITING, None, "Ask about abuse")
    assert reinstated.events[-1].changes == {"status": [WITHDRAWN, AWAITING]}
