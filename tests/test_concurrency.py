"""Two writers, one case: exactly one wins; a killed writer leaves the case as it was; writers on
different cases do not wait for each other's audit events until they commit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text

from engine.bpmn import runtime, serialization
from engine.platform import audit
from engine.platform.db import unit_of_work
from engine.platform.errors import TaskAlreadyCompleted
from engine.platform.models import AuditEvent, Case, OpenTask, Timer

from .conftest import World


def test_two_connections_complete_the_same_task_at_once_and_exactly_one_wins(world: World) -> None:
    world.user("colin", "Community Safety Team")
    references = [world.start(f"Case{i}") for i in range(4)]
    for reference in references:
        task = world.task("record_notification", reference)
        barrier = threading.Barrier(2)
        outcomes: dict[str, Any] = {}

        def attempt(name: str, task_id: str, barrier: threading.Barrier, outcomes: dict[str, Any]) -> None:
            barrier.wait()
            try:
                with unit_of_work(world.db.sessions) as s:
                    runtime.complete_task(s, task_id, {"notified_on": "2026-08-31"}, user=world.users[name],
                                          clock=world.clock)
                outcomes[name] = "won"
            except TaskAlreadyCompleted as exc:
                outcomes[name] = exc

        threads = [threading.Thread(target=attempt, args=(n, task.id, barrier, outcomes)) for n in ("carol", "colin")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        winners = [n for n, o in outcomes.items() if o == "won"]
        assert len(winners) == 1, outcomes
        loser = next(o for o in outcomes.values() if o != "won")
        assert loser.by == winners[0]
        with world.db.sessions() as s:
            completions = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.task_id == task.id, AuditEvent.event_type == "TASK_COMPLETED"))
        assert completions == 1
        assert world.case(reference).revision == 2


CRASHING_WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime
    from engine.bpmn import runtime, serialization
    from engine.platform.clock import SettableClock
    from engine.platform.db import make_engine, session_factory, unit_of_work
    from engine.platform.users import find_user

    url, task_id, when = sys.argv[1:4]
    sessions = session_factory(make_engine(url))
    with unit_of_work(sessions) as s:
        user = find_user(s, "carol")
        runtime.complete_task(s, task_id, {"notified_on": "2026-08-31"}, user=user,
                              clock=SettableClock(datetime.fromisoformat(when)))
        print("flushed", flush=True)
        sys.stdin.readline()  # the parent kills us here, in the middle of the unit of work
""")


def snapshot(world: World) -> dict[str, Any]:
    with world.db.sessions() as s:
        case = s.scalars(select(Case)).one()
        return {
            "state": case.state, "revision": case.revision,
            "tasks": sorted(t.id for t in s.scalars(select(OpenTask))),
            "timers": sorted(t.id for t in s.scalars(select(Timer))),
            "audit": [(e.id, e.hash) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))],
        }


def test_a_writer_killed_mid_unit_of_work_leaves_the_case_exactly_as_before(world: World) -> None:
    world.start()
    task = world.task("record_notification")
    before = snapshot(world)
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, world.db.url, task.id, world.clock.now().isoformat()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "flushed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert snapshot(world) == before
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    assert world.open_names() == ["decide"]
    assert json.loads(world.case().state)["serializer_version"] == serialization.VERSION


def test_a_unit_of_work_with_audit_events_not_yet_committed_does_not_hold_up_another(world: World) -> None:
    """The chain's head is locked only as a unit of work commits: one that has recorded (and flushed)
    its events but not committed does not make another wait to record and commit its own, and the
    chain's order is the order of commit."""
    if world.db.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: the second unit waits for the database's write lock there")
    first, second = world.start("Case1"), world.start("Case2")
    slow_task, quick_task = world.task("record_notification", first), world.task("record_notification", second)
    with unit_of_work(world.db.sessions) as slow:  # e.g. a web submission still rendering its answer
        runtime.complete_task(slow, slow_task.id, {"notified_on": "2026-08-31"}, user=world.users["carol"],
                              clock=world.clock)
        slow.flush()
        with unit_of_work(world.db.sessions) as quick:  # e.g. a timer firing meanwhile
            quick.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting for the chain would fail, not hang
            runtime.complete_task(quick, quick_task.id, {"notified_on": "2026-08-31"}, user=world.users["carol"],
                                  clock=world.clock)
    with world.db.sessions() as s:
        count, problems = audit.verify(s)
        completed = {e.task_id: e.id for e in s.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "TASK_COMPLETED"))}
    assert problems == []
    assert completed[quick_task.id] < completed[slow_task.id]  # committed first, chained first


def test_an_event_recorded_in_a_savepoint_rolled_back_is_not_written(world: World) -> None:
    world.start()
    with world.db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
    with unit_of_work(world.db.sessions) as s:
        audit.record(s, audit.AuditType.CLOCK_CHANGED, actor="test", at=world.clock.now(), details={"n": 1})
        savepoint = s.begin_nested()
        audit.record(s, audit.AuditType.CLOCK_CHANGED, actor="test", at=world.clock.now(), details={"n": 2})
        savepoint.rollback()
        with s.begin_nested():
            audit.record(s, audit.AuditType.CLOCK_CHANGED, actor="test", at=world.clock.now(), details={"n": 3})
        assert [e.details["n"] for e in audit.take_new(s)] == [1, 3]
    with world.db.sessions() as s:
        count, problems = audit.verify(s)
        written = [e.details["n"] for e in s.scalars(select(AuditEvent).where(
            AuditEvent.event_type == "CLOCK_CHANGED").order_by(AuditEvent.id))]
    assert problems == []
    assert (count, written) == (before + 2, [1, 3])
