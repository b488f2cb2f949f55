"""Two writers, one case: exactly one wins; a killed writer leaves the case as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Any

from sqlalchemy import func, select

from engine.bpmn import runtime, serialization
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
