"""A DHR case from the police notification to the first quarterly action update, driven through the
installed `dhr` command, one OS process per command, as an operator at a terminal would, on each database.

Time is the simulated clock (stored in the database, row `simulated_time`): it moves only by
`dhr clock advance`, and only when no task is open; then `dhr timers run-due` fires what fell due.
Two agencies are asked for their records and, later, for their IMRs; each time the second agency
answers first. All names are fictional; no task data is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from engine.bpmn import runtime
from engine.bpmn.forms import example_answers

from .conftest import Db
from .dhr_driver import AGENCY_HOLDERS, LANE_USERS, LONDON, PROCESSES, START, base_policy, doer

DHR = Path(sys.executable).parent / "dhr"
REFERENCE = "Rosemary/2025"
AGENCIES = [{"agency": "Police", "contact_email": "police@example.org"},
            {"agency": "NHS Trust", "contact_email": "nhs@example.org"}]
HELD = {"secure_records_and_nominate", "submit_imr"}  # answered out of order, once nothing else is open
COMMISSIONING, CONDUCTING = "Commissioning the review", "Conducting the review"
DISSEMINATION = "Dissemination and learning"


class Terminal:
    """Runs `dhr` as a new process per command, on one database, with the simulated clock."""

    def __init__(self, db: Db, cwd: Path) -> None:
        self.db, self.cwd = db, cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DHR_") or k == "DHR_RESTART_EACH_STEP"}
        self.env.update(DHR_DATABASE_URL=db.url, DHR_CLOCK="simulated")
        self.now = START  # what the simulated clock says; every command that moves it prints the new time
        self.stage: str | None = None  # as the last `dhr tasks complete` said
        self.ctx: dict[str, Any] = {}
        self.done: list[str] = []  # the bpmn ids of the tasks completed, in order
        self.seconds: dict[str, list[float]] = {}  # per command, for the summary printed at the end

    def __call__(self, *args: str) -> str:
        began = time.perf_counter()
        result = subprocess.run([str(DHR), *args], capture_output=True, text=True, env=self.env, cwd=self.cwd,
                                timeout=120)
        self.seconds.setdefault(" ".join(args[:2]), []).append(time.perf_counter() - began)
        shown = " ".join("<answers>" if i and args[i - 1] == "--data" else a for i, a in enumerate(args))
        status, stderr = result.returncode, result.stderr.strip()  # never the arguments: --data holds answers
        assert status == 0, f"`dhr {shown}` exited {status}: {stderr}"
        assert not stderr, f"`dhr {shown}` wrote to stderr: {stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))

    # -- what a user sees -------------------------------------------------------------------
    def tasks(self) -> list[dict[str, Any]]:
        return self.json("tasks", "list", "--case", REFERENCE)

    def case(self) -> dict[str, Any]:
        [case] = self.json("cases", "list")
        assert case["reference"] == REFERENCE
        return case

    def register(self) -> dict[int, dict[str, Any]]:
        return {r["number"]: r for r in self.json("register", "list", "--case", REFERENCE)}

    # -- what the test reads from the stored case (the CLI does not show a task's agency) ----
    def today(self) -> str:
        return self.now.astimezone(LONDON).date().isoformat()

    def data(self, task: Any) -> dict[str, Any]:
        with self.db.sessions() as session:
            case = runtime.get_case(session, REFERENCE)
            found = runtime.load_workflow(case, session).get_task_from_id(UUID(task.id))
            assert found is not None, f"task {task.id} is not in the stored case"
            return dict(found.data)

    def request(self, task: dict[str, Any]) -> dict[str, Any]:
        return self.data(SimpleNamespace(id=task["id"]))["chase_request"]

    # -- acting -----------------------------------------------------------------------------
    def complete(self, task: dict[str, Any], overrides: dict[str, Any] | None = None) -> None:
        bpmn_id = task["step"]
        schema = json.loads((PROCESSES / task["form"]).read_text()) if task["form"] else {"properties": {}}
        answers = example_answers(schema, self.today())
        answers.update(base_policy(self, SimpleNamespace(id=task["id"], bpmn_id=bpmn_id), self.ctx))  # type: ignore
        if bpmn_id == "draft_terms_of_reference":
            answers["imr_agencies"] = [{**AGENCIES[0], "report_type": "Individual Management Review (IMR)"},
                                       {**AGENCIES[1], "report_type": "Short report"}]
        answers.update(overrides or {})
        agency = self.request(task)["agency"] if task["lane"] == "Action Holder" else None
        out = self("tasks", "complete", task["id"], "--as", doer(task["lane"], agency), "--data", json.dumps(answers))
        assert out.startswith(f"completed; {REFERENCE} is open ("), out
        self.stage = out.rstrip().partition(" (")[2].removesuffix(")")
        self.done.append(bpmn_id)

    def next_timer(self) -> None:
        """Nothing is open: let time pass to the case's next timer and fire what fell due."""
        case = self.case()
        assert case["next_timer"], (f"the journey stalled: {REFERENCE} is {case['status']} in {case['stage']!r} "
                                    "with no open task and no timer")
        gap = int((datetime.fromisoformat(case["next_timer"]) - self.now).total_seconds())
        if gap > 0:
            days, seconds = divmod(gap, 86400)
            out = self("clock", "advance", f"P{days}D" + (f"T{seconds}S" if seconds else ""))
            self.now = datetime.fromisoformat(out.rsplit(" ", 1)[1].strip())
            assert self.now == datetime.fromisoformat(case["next_timer"])
        fired = self("timers", "run-due")
        assert f"{REFERENCE}: " in fired and fired.splitlines()[-1] != "0 timer(s) fired", fired

    def drive(self, stop: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """Answer every open task but the held ones, oldest first, and let time pass when none is
        open, until `stop` says so of the open tasks; return them."""
        for _ in range(100):
            tasks = self.tasks()
            if stop(tasks):
                return tasks
            free = [t for t in tasks if t["step"] not in HELD]
            assert free or not tasks, f"only the held tasks are open: {[t['task'] for t in tasks]}"
            for task in free:
                self.complete(task)
            if not tasks:
                self.next_timer()
        raise AssertionError("too many steps")


def _named(tasks: list[dict[str, Any]], bpmn_id: str) -> list[dict[str, Any]]:
    return [t for t in tasks if t["step"] == bpmn_id]


def _only_held(tasks: list[dict[str, Any]]) -> bool:
    return bool(tasks) and all(t["step"] in HELD for t in tasks)


def _answer_out_of_order(dhr: Terminal, bpmn_id: str, stage: str, next_step: str) -> None:
    """Both agencies' requests are open and nothing else: NHS Trust answers first, then Police; the
    case moves on only after both."""
    tasks = dhr.tasks()
    assert [t["step"] for t in tasks] == [bpmn_id, bpmn_id]
    assert {t["lane"] for t in tasks} == {"Panel"}
    by_agency = {dhr.request(t)["agency"]: t for t in tasks}
    assert sorted(by_agency) == ["NHS Trust", "Police"]

    dhr.complete(by_agency["NHS Trust"])
    [waiting] = dhr.tasks()
    assert waiting["id"] == by_agency["Police"]["id"], "the Police request should still be open, and nothing else"
    assert dhr.stage == stage, "one answer does not move the case on"

    dhr.complete(by_agency["Police"])
    after = dhr.tasks()
    assert [t["step"] for t in after] == [next_step], f"after both answers: {[t['task'] for t in after]}"


@pytest.mark.long
def test_a_review_from_notification_to_the_first_quarterly_update_through_the_dhr_command(
        db: Db, tmp_path: Path) -> None:
    dhr = Terminal(db, tmp_path)
    assert dhr("clock", "set", START.isoformat()).strip().endswith(START.isoformat())
    assert "deployed version 1" in dhr("processes", "deploy", str(PROCESSES))
    agency_of = {name: agency for agency, name in AGENCY_HOLDERS.items()}
    everyone = {name: lane for lane, name in LANE_USERS.items()}
    everyone |= dict.fromkeys(AGENCY_HOLDERS.values(), "Action Holder")
    for name, lane in everyone.items():
        agency = ["--agency", agency_of[name]] if name in agency_of else []
        assert dhr("users", "add", name, "--role", lane, *agency) == f"added {name} ({lane})\n"
    assert dhr("cases", "start", "--process", "dhr_review", "--pseudonym", "Rosemary", "--year", "2025") == (
        f"started {REFERENCE} on version 1\n")
    for name in ("ichair", "panel", "flo", *AGENCY_HOLDERS.values()):  # they work only on the cases they are members of
        assert dhr("cases", "add-member", REFERENCE, name).endswith(f"is now a member of {REFERENCE}\n")

    # Commissioning: notification, screening (two agencies), the chair's decision (a DHR), the Home
    # Office told; both agencies asked to secure their records and nominate a panel member.
    dhr.drive(_only_held)
    assert {"record_notification", "screen_case", "decide_on_review", "notify_home_office_of_decision"} <= set(
        dhr.done)
    _answer_out_of_order(dhr, "secure_records_and_nominate", COMMISSIONING, "draft_terms_of_reference")
    assert dhr.case()["stage"] == CONDUCTING

    # Conducting: terms of reference ask both agencies for an IMR; the panel meets on them.
    dhr.drive(_only_held)
    _answer_out_of_order(dhr, "submit_imr", CONDUCTING, "hold_imr_panel_meeting")

    # Overview report, action plan (two recommendations), sign-off, Home Office QA, publication.
    dhr.drive(lambda tasks: not tasks and dhr.stage == DISSEMINATION)
    case = dhr.case()
    assert (case["status"], case["stage"], case["open_tasks"]) == ("open", DISSEMINATION, 0)
    plan = dhr.register()
    assert sorted(plan) == [1, 2]
    assert [(r["lead_agency"], r["status"], r["awaiting_since"]) for r in plan.values()] == [
        ("Police", "awaiting_feedback", None), ("GP practice", "awaiting_feedback", None)]

    # A quarter after publication both action holders are asked for their update.
    updates = dhr.drive(lambda tasks: bool(_named(tasks, "give_action_update")))
    assert sorted(t["step"] for t in updates) == ["give_action_update"] * 2
    # published on 31 August 2025 (the clock stands still while nothing waits on a timer): the first of
    # the Steering Group's quarter days (1 January, April, July, October) 28 days or more after it
    assert dhr.today() == "2025-10-01", "the first quarter day 28 days or more after publication"
    asked = dhr.register()
    assert all(r["status"] == "awaiting_feedback" and r["awaiting_since"] for r in asked.values())

    by_number = {dhr.request(t)["reference"] + 1: t for t in updates}
    dhr.complete(by_number[2])  # base_policy: R2 is in progress after its first update, R1 completed
    dhr.complete(by_number[1])
    assert not _named(dhr.tasks(), "give_action_update")
    final = dhr.register()
    assert {n: r["status"] for n, r in final.items()} == {1: "completed", 2: "in_progress"}
    assert dhr.case()["stage"] == DISSEMINATION
    print(f"\n{db.backend}: " + ", ".join(f"{name} {len(times)}x {sum(times) / len(times):.2f}s"
                                         for name, times in dhr.seconds.items()))
