"""Walk the test diagrams through the real engine and database, moving the clock."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.bpmn import runtime, serialization
from engine.bpmn.timers import run_due
from engine.platform.audit import events_for_case
from engine.platform.models import Case, OpenTask, Timer

from .conftest import DIAGRAMS, POSTGRES_IN_SECOND_STEP, World

# the test diagrams' paths; saving, locking and timers run on PostgreSQL in test_units_of_work and test_scheduler
pytestmark = POSTGRES_IN_SECOND_STEP


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture(params=["cached", "restarted"])
def walk(request: pytest.FixtureRequest, world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """Each scenario runs twice: once as a long-running server would (its caches kept between
    steps), once as a new process would run every step (the suite's default)."""
    monkeypatch.setenv("DHR_RESTART_EACH_STEP", "0" if request.param == "cached" else "1")
    return world


def test_review_path_with_reminder_escalation_call_activity_and_message(walk: World) -> None:
    w = walk
    ref = w.start()
    assert w.open_names(ref) == ["record_notification"]
    assert w.task("record_notification").lane == "Community Safety Team"

    w.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    decide = w.task("decide")
    assert decide.lane == "CSP Chair"
    # One calendar month after 31 August is 30 September; 09:00 in London is 08:00 UTC (BST).
    assert decide.due_at == at("2026-09-30T09:00:00+01:00")
    assert [(t.bpmn_id, t.due_at) for t in w.timers()] == [
        ("decision_reminder", at("2026-09-23T09:00:00+01:00")),
        ("decision_overdue", at("2026-09-30T09:00:00+01:00")),
    ]

    w.clock.set(at("2026-09-23T08:59:59+01:00"))
    assert run_due(w.db.sessions, w.clock) == []
    w.clock.set(at("2026-09-23T09:00:00+01:00"))  # exactly due: fires
    fired = run_due(w.db.sessions, w.clock)
    assert [f.title for f in fired] == ["Decision reminder"]
    assert w.open_names() == ["decide", "send_reminder"]  # non-interrupting: decide stays open
    assert run_due(w.db.sessions, w.clock) == []  # exactly once

    w.complete("decide", {"outcome": "DHR", "reason": "meets the criteria"}, "chair")
    assert [t.bpmn_id for t in w.timers()] == ["imr_late"]  # the decision timers were withdrawn
    imr = w.task("write_imr")
    assert imr.lane == "Panel" and imr.process_name == "Panel work"
    assert imr.due_at == at("2026-09-23T09:00:00+01:00") + timedelta(days=14)

    w.clock.advance(timedelta(days=14))
    assert [f.title for f in run_due(w.db.sessions, w.clock)] == ["IMR late"]
    assert w.open_names() == ["chase_imr", "send_reminder"]  # interrupting: write_imr is gone
    w.complete("chase_imr", {"summary": "received after a chase"}, "carol")
    w.complete("send_reminder", {}, "carol")
    assert w.case().status == "open"

    with w.uow() as s:
        runtime.send_message(s, ref, "report_received", {"pages": 40}, actor="test", clock=w.clock)
    case = w.case()
    assert case.status == "completed" and case.completed_at == w.clock.now()
    assert w.tasks(ref) == [] and w.timers() == []
    workflow = runtime.load_workflow(case)
    assert workflow.data["report"] == {"pages": 40}
    assert workflow.data["outcome"] == "DHR"


def test_overdue_decision_interrupts_and_no_review_ends_the_case(walk: World) -> None:
    w = walk
    w.start()
    w.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    w.clock.set(at("2026-10-31T12:00:00+00:00"))  # a month late: both timers are overdue
    fired = run_due(w.db.sessions, w.clock)
    assert [f.title for f in fired] == ["Decision reminder", "Decision overdue"]  # oldest first
    assert w.open_names() == ["decide_late", "send_reminder"]
    w.complete("decide_late", {"outcome": "No review"}, "chair")
    w.complete("send_reminder", {}, "carol")
    assert w.case().status == "completed"


def test_timer_rows_equal_waiting_timer_tasks_after_every_unit(walk: World) -> None:
    w = walk
    w.start()

    def check() -> None:
        case = w.case()
        workflow = runtime.load_workflow(case)
        timers = runtime._snapshot(workflow, runtime._bundles[case.version_id]).timers
        assert {t.id: t.due_at for t in w.timers()} == {k: v.due_at for k, v in timers.items()}

    check()
    w.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    check()
    w.clock.set(at("2026-09-24T00:00:00+00:00"))
    run_due(w.db.sessions, w.clock)
    check()
    w.complete("decide", {"outcome": "DHR"}, "chair")
    check()


def test_a_timer_due_while_nothing_ran_fires_once_however_late(walk: World) -> None:
    w = walk
    w.start()
    w.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    w.complete("decide", {"outcome": "DHR"}, "chair")
    w.clock.advance(timedelta(days=400))
    fired = run_due(w.db.sessions, w.clock)
    assert [f.title for f in fired] == ["IMR late"]
    assert run_due(w.db.sessions, w.clock) == []
    with w.db.sessions() as s:
        events = [e for e in events_for_case(s, w.case().id) if e.event_type == "TIMER_FIRED"]
    assert len(events) == 1 and events[0].details["late_by_seconds"] >= 386 * 86400


def test_a_case_stays_on_its_version_when_a_new_one_is_deployed(walk: World, tmp_path) -> None:
    w = walk
    first = w.start("Rosemary")
    changed = tmp_path / "diagrams"
    shutil.copytree(DIAGRAMS, changed)
    bpmn = changed / "panel_work.bpmn"
    bpmn.write_text(bpmn.read_text().replace('"P14D"', '"P21D"'))
    new_version = w.deploy(changed)
    second = w.start("Iris")
    assert w.case(first).version_id != new_version == w.case(second).version_id
    for ref in (first, second):
        w.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", ref)
        w.complete("decide", {"outcome": "DHR"}, "chair", ref)
    assert w.timers(first)[0].due_at == w.clock.now() + timedelta(days=14)
    assert w.timers(second)[0].due_at == w.clock.now() + timedelta(days=21)


def test_projection_matches_the_stored_case(world: World) -> None:
    world.start()
    with world.db.sessions() as s:
        case = s.scalars(select(Case)).one()
        assert case.revision == 1 and case.serializer_version == serialization.STATE_VERSION
        assert s.scalars(select(OpenTask)).one().bpmn_id == "record_notification"
        assert s.scalars(select(Timer)).all() == []
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    assert world.case().revision == 2
