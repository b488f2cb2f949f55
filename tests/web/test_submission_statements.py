"""A task submitted over HTTP stays a lean unit of work: the SQL statements it takes are counted.

What one submission reads and writes (a case of bench/diagrams' loop, an action holder who is a member
of it, a server's caches warm from showing the form): the session and its user; the case, locked, and
the task under the lock; membership; the versions' hashes; the register's rule; the projections it
rewrites (stage, open tasks with whether they have drafts, timers); the audit head, locked once, the
new events in one statement and the head written once; the case; the new and closed task and timer;
who to e-mail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from engine.bpmn import confidential, runtime
from engine.platform.db import unit_of_work
from tests.web.conftest import Web

LOOP = Path(__file__).resolve().parents[2] / "bench" / "diagrams"
STATEMENTS = 18  # was 34 before the unit of work read each row once; a regression above it fails


@pytest.fixture
def server_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a server does, keeping parsed diagrams and loaded cases (the suite restarts each step)."""
    monkeypatch.setenv("DHR_RESTART_EACH_STEP", "0")


def test_a_submission_takes_at_most_its_budget_of_sql_statements(web: Web, server_caches: None) -> None:
    web.deploy(LOOP)
    with unit_of_work(web.db.sessions) as s:
        case = runtime.start_case(s, process_id="bench_loop", pseudonym="Lean", year=2026, data={"updates": 0},
                                  actor="test", clock=web.clock)
        case_id = case.id
        confidential.deployed(s)  # a server has read the versions' confidential fields before
    web.add_member(case_id, "holder")
    holder = web.as_user("holder")
    task = web.task(case_id, "update")
    assert holder.get(f"/tasks/{task.id}").status_code == 200  # as a person does: the form, then the answers
    token = holder.token()

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            statements.append(" ".join(statement.split())[:120])

    event.listen(web.db.engine, "before_cursor_execute", count)
    try:
        response = holder.client.post(f"/tasks/{task.id}", data={
            "csrf_token": token, "status": "In progress", "progress": "Training delivered to two more teams."})
    finally:
        event.remove(web.db.engine, "before_cursor_execute", count)
    assert response.status_code == 302
    assert web.task(case_id, "update").id != task.id  # done: the loop opened the next update
    assert len(statements) <= STATEMENTS, "\n".join(statements)
