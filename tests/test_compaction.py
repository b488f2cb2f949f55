"""History compaction keeps long-running cases small without changing what they do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn import runtime

from .conftest import SQLITE_ONLY, World

# Compaction works on the state, which is stored as text on both databases: backend-blind.
pytestmark = SQLITE_ONLY

LOOPS = Path(__file__).parent / "loops"


@pytest.fixture
def loops(world: World) -> World:
    world.deploy(LOOPS)
    world.user("holder", "Action Holder")
    return world


def tree_size(w: World, reference: str) -> int:
    workflow = runtime.load_workflow(w.case(reference))
    return len(workflow.tasks) + sum(len(sp.tasks) for sp in workflow.subprocesses.values())


def test_a_long_loop_stays_small_and_keeps_its_data(loops: World) -> None:
    w = loops
    with w.uow() as s:
        reference = runtime.start_case(s, process_id="updates_loop", pseudonym="Loop", year=2026,
                                       data={"updates": 0}, actor="test", clock=w.clock).reference
    sizes = []
    for _ in range(120):
        w.complete("update", {"status": "In progress", "progress": "more done"}, "holder", reference)
        sizes.append(tree_size(w, reference))
    assert max(sizes) <= sizes[0] + 2, sizes[:5] + sizes[-5:]
    assert len(w.case(reference).state) < 20_000
    assert [t.bpmn_id for t in w.timers(reference)] == ["update_late"]  # one reminder, the current round's
    w.complete("update", {"status": "Completed", "progress": "all done"}, "holder", reference)
    case = w.case(reference)
    assert case.status == "completed"
    assert runtime.load_workflow(case).data["updates"] == 121


def test_a_join_waiting_for_one_branch_survives_compaction(loops: World) -> None:
    w = loops
    w.user("panel", "Panel")
    reference = w.start("Rounds", process="parallel_loop")
    for round_number in range(30):
        first, second = ("police", "health") if round_number % 2 else ("health", "police")
        w.complete(first, {}, "panel", reference)
        assert w.open_names(reference) == [second]  # the join waits for the other branch
        w.complete(second, {}, "panel", reference)
        assert w.open_names(reference) == ["review"]
        w.complete("review", {"again": round_number < 29}, "panel", reference)
    assert w.case(reference).status == "completed"
    assert tree_size(w, reference) < 40
