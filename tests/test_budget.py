"""Owner-written code on a budget: a looping script, condition, timer or instructions template is
stopped with a plain error naming its element, nothing of the unit of work is applied, and other
people's pages are answered while it runs."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.bpmn import scripting
from engine.bpmn.scripting import RestrictedCodeError, RestrictedEnvironment, compile_script
from engine.platform.audit import AuditType, record, verify
from engine.platform.clock import SettableClock
from engine.platform.db import read_mostly
from engine.platform.errors import BudgetExceeded, ScriptError
from engine.platform.models import AuditEvent, Case, OpenTask, Timer
from tests.conftest import Db, World
from tests.web import conftest as web_fixtures
from tests.web.conftest import Web
from webforms.instructions import render

BUDGET = Path(__file__).parent / "budget"
app, session_clock, web = web_fixtures.app, web_fixtures.session_clock, web_fixtures.web  # the web tests' fixtures


@pytest.fixture
def short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_SCRIPT_SECONDS", "0.2")


def _snapshot(world: World, reference: str) -> dict[str, Any]:
    """What a person could notice of a case: its stored state, open tasks, timers and audit trail."""
    with world.db.sessions() as s:
        case = s.scalars(select(Case).where(Case.reference == reference)).one()
        return {
            "case": (case.state, case.revision, case.status, case.stage, case.updated_at),
            "tasks": sorted(s.scalars(select(OpenTask.id).where(OpenTask.case_id == case.id))),
            "timers": sorted(s.scalars(select(Timer.id).where(Timer.case_id == case.id))),
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
        }


@pytest.mark.parametrize(("process", "task", "message"), [
    ("looping_script", "ls_record", "The script of 'Compute deadline' ran longer than 0.2 s and was stopped"),
    ("looping_condition", "lc_record", "The condition of 'Which route?' ran longer than 0.2 s and was stopped"),
    ("looping_timer", "lt_record", "The timer expression of 'Wait for the deadline' ran longer than 0.2 s"),
])
def test_looping_code_is_stopped_naming_its_element_and_nothing_is_applied(
        world: World, short: None, process: str, task: str, message: str) -> None:
    world.deploy(BUDGET)
    reference = world.start("Loopy", process=process)
    before = _snapshot(world, reference)
    tracer = sys.gettrace()
    with pytest.raises(ScriptError) as caught:
        world.complete(task, {}, "carol", reference)
    assert isinstance(caught.value, BudgetExceeded)
    assert message in str(caught.value) and "nothing was changed" in str(caught.value)
    assert _snapshot(world, reference) == before
    assert sys.gettrace() is tracer  # nothing is left tracing this thread


def test_a_loop_that_catches_errors_is_stopped_all_the_same(short: None) -> None:
    script = ("i = 0\nwhile True:\n    try:\n        while True:\n            i = i + 1\n"
              "    except Exception:\n        i = 0")
    with pytest.raises(BudgetExceeded, match="ran longer than 0.2 s"):
        RestrictedEnvironment().execute(script, {})


@pytest.mark.parametrize("script", [
    "try:\n    x = 1\nexcept:\n    x = 2",
    "while True:\n    try:\n        x = 1\n    finally:\n        continue",
])
def test_the_ways_to_swallow_the_stop_are_refused_when_a_diagram_is_deployed(script: str) -> None:
    with pytest.raises(RestrictedCodeError):
        compile_script(script)


@pytest.mark.parametrize("script", [
    "x = 'a' * 50000000", "x = [0] * 10 ** 8", "x = 10 ** 10 ** 8", "x = 1 << 10 ** 9",
    "x = 'ab'\nfor n in range(40):\n    x = x + x", "x = 'ab'\nfor n in range(40):\n    x *= 2",
])
def test_a_script_cannot_build_a_huge_value(script: str) -> None:
    context: dict[str, Any] = {}
    with pytest.raises(BudgetExceeded, match="larger than 1 MB"):
        RestrictedEnvironment().execute(script, context)
    assert "x" not in context or len(context["x"]) < 2 ** 21


def test_ordinary_arithmetic_still_works() -> None:
    context: dict[str, Any] = {"a": 3}
    script = "b = a * 2 + 2 ** 10 + (1 << 4)\nc = 'ab' * 2 + 'c'\nd = [1] + [2]\nd += [3]"
    RestrictedEnvironment().execute(script, context)
    assert (context["b"], context["c"], context["d"]) == (1046, "ababc", [1, 2, 3])


def test_instructions_that_loop_or_produce_too_much_are_replaced_by_a_plain_error(
        short: None, monkeypatch: pytest.MonkeyPatch) -> None:
    looping = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}Done."
    assert render(looping, {}, "Read it") == (
        "The instructions of 'Read it' could not be shown: they ran longer than 0.2 s and were stopped. "
        "A process owner must fix the diagram.")
    assert "would build a value larger than 1 MB" in render("{{ 'a' * 50000000 }}", {})
    monkeypatch.setenv("DHR_SCRIPT_BYTES", "1000")
    assert "produced more than 1,000 characters of text" in render("{% for a in range(2000) %}ab{% endfor %}", {})
    assert render("Decide on {{ name }}: {{ 2 * 3 }} {{ 'a' + 'b' }}.", {"name": "Ann"}) == "Decide on Ann: 6 ab."


def test_the_task_page_shows_a_plain_error_for_instructions_that_loop_or_are_huge(web: Web, short: None) -> None:
    web.deploy(BUDGET)
    case_id = web.start("Heavy", process="heavy_instructions")
    cst = web.as_user("cst")
    for bpmn_id, overrun in (("hi_loops", "ran longer than 0.2 s"), ("hi_huge", "larger than 1 MB")):
        response = cst.get(f"/tasks/{web.task(case_id, bpmn_id).id}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and len(page) < 100_000
        assert "could not be shown" in page and overrun in page and "A process owner must fix the diagram" in page
        assert "Traceback" not in page and "_Stop" not in page


def test_completing_a_task_whose_script_loops_shows_a_plain_error_and_keeps_the_case(web: Web, short: None) -> None:
    web.deploy(BUDGET)
    case_id = web.start("Loopy", process="looping_script")
    task = web.task(case_id, "ls_record")
    response = web.as_user("cst").post(f"/tasks/{task.id}", {})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The script of &#39;Compute deadline&#39; ran longer than 0.2 s and was stopped" in page
    assert "Traceback" not in page
    assert [t.bpmn_id for t in web.tasks(case_id)] == ["ls_record"]


class _HeldClock:
    """The budget's clock, held still until released: then the loop is past its deadline at once.

    `running` is set once the looping thread has been inside its loop for a while."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.calls = 0
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> float:
        if threading.current_thread().name == self.thread_name:
            self.calls += 1
            if self.calls > 10_000:
                self.running.set()
        return 1e9 if self.release.is_set() else 0.0


def test_other_pages_are_answered_while_a_looping_script_runs(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite the looping request holds the write lock; pages that only read do not wait for it."""
    clock = _HeldClock("looping")
    monkeypatch.setattr(scripting, "_clock", clock)
    web.deploy()
    web.deploy(BUDGET)
    other_case = web.start("Other")
    other = web.task(other_case, "record_notification")
    web.add_member(other_case, "cst")  # a member's read is not audited, so the page only reads
    looping_case = web.start("Loopy", process="looping_script")
    looping_task = web.task(looping_case, "ls_record")
    looper, reader = web.as_user("cst"), web.as_user("cst")
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def complete() -> None:
        try:
            outcome["response"] = looper.post(f"/tasks/{looping_task.id}", {})
        finally:
            finished.set()

    thread = threading.Thread(target=complete, name="looping", daemon=True)
    thread.start()
    try:
        assert clock.running.wait(60), "the script never started looping"
        health = reader.get("/readyz")  # reads the database (no scheduler runs here: 503, database ok)
        page = reader.get(f"/tasks/{other.id}")
        answered_while_looping = not finished.is_set()
    finally:
        clock.release.set()
        thread.join(60)
    assert answered_while_looping
    assert health.get_json()["database"] == "ok"
    assert page.status_code == 200 and "Record the notification" in page.get_data(as_text=True)
    response = outcome["response"]
    assert response.status_code == 400
    assert "Compute deadline" in response.get_data(as_text=True)
    assert [t.bpmn_id for t in web.tasks(looping_case)] == ["ls_record"]


def test_a_page_reads_past_a_writer_and_writes_after_it_without_forking_the_audit_chain(
        db: Db, clock: SettableClock) -> None:
    """A page's session does not wait for a writer to read; when it writes, it writes after it."""
    writer = db.sessions()
    record(writer, AuditType.CLOCK_CHANGED, actor="writer", at=clock.now())
    writer.flush()  # on SQLite this session now holds the write lock
    reader = read_mostly(db.sessions)()
    before = reader.scalar(select(func.count()).select_from(AuditEvent))  # answered at once
    writer.commit()
    record(reader, AuditType.CLOCK_CHANGED, actor="reader", at=clock.now())  # on the head as the writer left it
    reader.commit()
    writer.close()
    reader.close()
    with db.sessions() as s:
        count, problems = verify(s)
        actors = list(s.scalars(select(AuditEvent.actor).order_by(AuditEvent.id)))
    assert problems == [] and count == before + 2 and actors[-2:] == ["writer", "reader"]


def test_a_loop_of_quick_steps_that_never_waits_is_stopped_and_nothing_is_applied(world: World) -> None:
    world.deploy(BUDGET)
    reference = world.start("Loopy", process="looping_diagram")
    before = _snapshot(world, reference)
    with pytest.raises(BudgetExceeded) as caught:
        world.complete("ld_record", {}, "carol", reference)
    assert "round and round through 'Again?'" in str(caught.value) and "nothing was changed" in str(caught.value)
    assert _snapshot(world, reference) == before
