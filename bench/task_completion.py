"""Benchmark: one task completion through the engine against the bare SpiffWorkflow floor.

Prints medians (ms) of:
- floor: deserialize + task.run() + do_engine_steps() + serialize, SpiffWorkflow alone;
- engine: dhr's complete_task unit of work (look up, lock, validate the form, complete, engine
  steps, save the instance, rewrite projections, audit, commit) on a real database,
  with its workflow cache warm (a server) and cold (each completion deserializes, as a CLI does);
for a fresh case and for a case that has 500 completed user tasks, and the ratios. Targets:
engine/floor <= 2.0, and the 500-task completion <= 2x the fresh one.

Usage: python bench/task_completion.py [--database URL] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.bpmn import runtime, serialization  # noqa: E402
from engine.bpmn.library import (
    load_bundle,  # noqa: E402
    read_folder,  # noqa: E402
)
from engine.platform.clock import SettableClock, use_clock  # noqa: E402
from engine.platform.db import make_engine, session_factory, unit_of_work, upgrade  # noqa: E402
from engine.platform.models import AuditEvent, Case, OpenTask  # noqa: E402
from engine.platform.users import add_user  # noqa: E402

DIAGRAMS = Path(__file__).resolve().parent / "diagrams"
DHR_DIAGRAMS = Path(__file__).resolve().parent.parent / "processes"
ANSWER = {"status": "In progress", "progress": "Training delivered to two more teams."}
NOTIFICATION = {  # fictional
    "victim_name": "Alex Example",
    "victim_date_of_birth": "1980-02-03", "date_of_death": "2026-08-20", "victim_age": 46,
    "notification_date": "2026-08-31", "notifying_officer": "DS Example", "relationship": "Former intimate partner",
    "same_household": False, "suspected_suicide": False, "parallel_processes": [],
    "circumstances": "Fictional circumstances for a benchmark.",
}


def completions(sessions, reference: str) -> int:
    """User tasks completed in the case so far, from its audit trail."""
    with sessions() as s:
        case = runtime.get_case(s, reference)
        return s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.event_type == "TASK_COMPLETED"))


def uncompacted_floor(clock, rounds: int) -> tuple[float, int]:
    """The floor for an instance that kept all its history, at 500 completed SpiffWorkflow tasks.

    (Without compaction SpiffWorkflow cannot go much further: at about 1,000 tasks deep its
    recursive tree walks exceed Python's recursion limit.)
    """
    bundle = load_bundle(read_folder(DIAGRAMS))
    spec, subprocess_specs = bundle.specs("bench_loop")
    with use_clock(clock):
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=serialization.SCRIPT_ENGINE)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update({"updates": 0})
        workflow.do_engine_steps()
        state = serialization.STOCK.serialize_json(workflow)
        while len(serialization.STOCK.deserialize_json(state).get_tasks(state=TaskState.COMPLETED)) < 500:
            state = floor_once(state)[1]
        times = [floor_once(state)[0] for _ in range(rounds)]
    return statistics.median(times), len(serialization.STOCK.deserialize_json(state).tasks)


def floor_once(state: str, answer: dict = ANSWER) -> tuple[float, str]:
    """Bare SpiffWorkflow: the least any engine must do to complete one task durably."""
    started = time.perf_counter()
    workflow = serialization.STOCK.deserialize_json(state)
    workflow.script_engine = serialization.SCRIPT_ENGINE
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update(answer)
    task.run()
    workflow.do_engine_steps()
    new_state = serialization.STOCK.serialize_json(workflow)
    return (time.perf_counter() - started) * 1000, new_state


def engine_once(sessions, clock, user, reference: str, cold: bool, answer: dict = ANSWER) -> float:
    if cold:
        runtime.WORKFLOWS.clear()
    started = time.perf_counter()
    with unit_of_work(sessions) as s:
        case = runtime.get_case(s, reference)
        task_id = s.scalars(select(OpenTask.id).where(OpenTask.case_id == case.id)).one()
        runtime.complete_task(s, task_id, answer, user=user, clock=clock)
    return (time.perf_counter() - started) * 1000


def start(sessions, clock, name: str, process_id: str = "bench_loop") -> str:
    with unit_of_work(sessions) as s:
        return runtime.start_case(s, process_id=process_id, pseudonym=name, year=2026, data={"updates": 0},
                                  actor="bench", clock=clock).reference


def measure(sessions, clock, user, case_for_round, rounds: int, answer: dict = ANSWER) -> dict[str, float]:
    """Median floor and engine times, each round on the same stored state for all three."""
    floor, warm, cold = [], [], []
    for number in range(rounds):
        reference = case_for_round(number)
        cold_reference = case_for_round(-number - 1) if answer is not ANSWER else reference
        with sessions() as s:  # the same instance as SpiffWorkflow alone would store it, specs included
            case = runtime.get_case(s, reference)
            pristine = runtime.bundle_for(s, case.version_id).pristine(case.process_id)
            state = serialization.STOCK.serialize_json(serialization.loads(case.state, pristine))
        with use_clock(clock):
            floor.append(floor_once(state, answer)[0])
        warm.append(engine_once(sessions, clock, user, reference, cold=False, answer=answer))
        cold.append(engine_once(sessions, clock, user, cold_reference, cold=True, answer=answer))
    return {"floor": statistics.median(floor), "warm": statistics.median(warm), "cold": statistics.median(cold)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="database URL (default: a new SQLite file)")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = SettableClock(datetime(2026, 9, 1, 9, tzinfo=UTC))
    suffix = datetime.now().strftime("%H%M%S%f")
    with unit_of_work(sessions) as s:
        runtime.deploy(s, read_folder(DIAGRAMS), actor="bench", clock=clock)
        runtime.deploy(s, read_folder(DHR_DIAGRAMS), actor="bench", clock=clock)
        user = add_user(s, f"holder{suffix}", role="Action Holder", agency=None, password=None, actor="bench",
                        clock=clock)
        officer = add_user(s, f"officer{suffix}", role="Community Safety Team", agency=None, password=None,
                           actor="bench", clock=clock)
    grown = start(sessions, clock, f"Grown{suffix}")
    while completions(sessions, grown) < 500:
        engine_once(sessions, clock, user, grown, cold=False)

    print(f"database: {engine.url.get_backend_name()}   rounds: {args.rounds}   SpiffWorkflow serializer "
          f"{serialization.STOCK.VERSION}")
    results = {}
    rounds = {
        # a new case every round, so it stays fresh; the grown case gains a few tasks a round
        "fresh case": lambda n: start(sessions, clock, f"Fresh{suffix}x{n}"),
        "500 completed tasks": lambda n: grown,
    }
    for label, case_for_round in rounds.items():
        with sessions() as s:
            size = len(runtime.get_case(s, case_for_round(args.rounds)).state)
        results[label] = figures = measure(sessions, clock, user, case_for_round, args.rounds)
        print(f"{label:>20}: floor {figures['floor']:7.2f} ms | engine warm {figures['warm']:7.2f} ms "
              f"(x{figures['warm'] / figures['floor']:.2f}) | engine cold {figures['cold']:7.2f} ms "
              f"(x{figures['cold'] / figures['floor']:.2f}) | state {size / 1024:.0f} KB")
    dhr = measure(sessions, clock, officer, lambda n: start(sessions, clock, f"Dhr{suffix}x{n}".replace("-", "m"),
                                                            "dhr_review"), args.rounds, answer=NOTIFICATION)
    print(f"{'DHR review, 1st task':>20}: floor {dhr['floor']:7.2f} ms | engine warm {dhr['warm']:7.2f} ms "
          f"(x{dhr['warm'] / dhr['floor']:.2f}) | engine cold {dhr['cold']:7.2f} ms (x{dhr['cold'] / dhr['floor']:.2f})"
          " | the stock floor carries the 7 diagrams' specs in the state")
    fresh_f, grown_f = results["fresh case"], results["500 completed tasks"]
    floor_full, tasks_full = uncompacted_floor(clock, args.rounds)
    print(f"without history compaction, SpiffWorkflow alone at 500 completed tasks: {floor_full:.2f} ms "
          f"({tasks_full} tasks in the tree; x{floor_full / fresh_f['floor']:.1f} the fresh floor)")
    print(f"500-task / fresh: engine warm x{grown_f['warm'] / fresh_f['warm']:.2f}, engine cold "
          f"x{grown_f['cold'] / fresh_f['cold']:.2f}, floor x{grown_f['floor'] / fresh_f['floor']:.2f} "
          "(targets: engine/floor <= 2.0; 500-task/fresh <= 2.0)")
    with sessions() as s:
        assert s.scalars(select(Case)).first() is not None


if __name__ == "__main__":
    main()
