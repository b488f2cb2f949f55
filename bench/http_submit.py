"""Benchmark: a task submitted over HTTP against the bare SpiffWorkflow floor, SQLite and PostgreSQL
side by side in one run.

For each database, each round starts a new case of the small loop diagram (bench/diagrams) and
measures on it:
- floor: deserialize + task.run() + do_engine_steps() + serialize, SpiffWorkflow alone, stock
  serializer (bench/task_completion.py's `floor_once`);
- HTTP: the task's form POSTed as a browser sends it (signed in, with its CSRF token) to
  /tasks/ID through Flask's test client, in this process: the whole WSGI app (session check, CSRF,
  form parsing, access checks, the engine's unit of work, commit, the redirect), no socket; warm
  (the web process holds the case in memory, as after showing its form) and cold (it does not:
  another worker showed the form);
and prints the medians, HTTP/floor (target <= 10) and the SQL statements of one submission.

Usage: python bench/http_submit.py [--sqlite URL] [--postgresql URL] [--rounds N] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, text

os.environ.setdefault("DHR_RESTART_EACH_STEP", "0")  # a server keeps its parsed diagrams and cases
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from task_completion import ANSWER, DIAGRAMS, floor_once  # noqa: E402

from engine.bpmn import runtime, serialization  # noqa: E402
from engine.bpmn.library import read_folder  # noqa: E402
from engine.platform import access  # noqa: E402
from engine.platform.clock import SettableClock, use_clock  # noqa: E402
from engine.platform.db import make_engine, session_factory, unit_of_work, upgrade  # noqa: E402
from engine.platform.models import OpenTask, User  # noqa: E402
from engine.platform.settings import Settings, WebSettings  # noqa: E402
from engine.platform.users import add_user  # noqa: E402
from webforms import create_app  # noqa: E402

PASSWORD = "bench-password-123"
DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Figures:
    floor: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)


class Installation:
    """A migrated database with the loop diagram, an action holder signed in to the web app."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.sessions = session_factory(self.engine)
        self.clock = SettableClock(datetime(2026, 9, 1, 9, tzinfo=UTC))
        self.counting = False
        self.statements: list[str] = []
        event.listen(self.engine, "before_cursor_execute", self._count)
        with unit_of_work(self.sessions) as s:
            runtime.deploy(s, read_folder(DIAGRAMS), actor="bench", clock=self.clock)
            self.user_id = add_user(s, "holder", role="Action Holder", agency=None, password=PASSWORD,
                                    actor="bench", clock=self.clock).id
        app = create_app({
            "SETTINGS": Settings(database_url=url, env="development", secret_key="b" * 32),
            "WEB_SETTINGS": WebSettings(secure_cookies=False, require_2fa=False),
            "SESSIONS": self.sessions,
            "CLOCK": self.clock,
        })
        self.client = app.test_client()
        sign_in = self.client.post("/sign-in", data={"csrf_token": self._token("/sign-in"), "username": "holder",
                                                     "password": PASSWORD})
        assert sign_in.status_code == 302, f"sign-in answered {sign_in.status_code}"
        self.csrf = self._token("/inbox")

    def _token(self, path: str) -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.counting and not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            self.statements.append(statement)

    def new_task(self, name: str) -> tuple[str, str]:
        """Start a case the action holder is a member of; return its open task and its stock state."""
        with unit_of_work(self.sessions) as s:
            case = runtime.start_case(s, process_id="bench_loop", pseudonym=name, year=2026, data={"updates": 0},
                                      actor="bench", clock=self.clock)
            access.add_member(s, case, s.get_one(User, self.user_id), actor="bench", at=self.clock.now())
            task_id = s.scalars(select(OpenTask.id).where(OpenTask.case_id == case.id)).one()
            pristine = runtime.bundle_for(s, case.version_id).pristine(case.process_id)
            state = serialization.STOCK.serialize_json(serialization.loads(case.state, pristine))
        return task_id, state

    def submit(self, task_id: str, *, cold: bool) -> tuple[float, int]:
        """POST the task's form; return the milliseconds and the SQL statements it took."""
        if cold:
            runtime.WORKFLOWS.clear()
        self.statements.clear()
        self.counting = True
        started = time.perf_counter()
        response = self.client.post(f"/tasks/{task_id}", data={"csrf_token": self.csrf, **ANSWER})
        elapsed = (time.perf_counter() - started) * 1000
        self.counting = False
        assert response.status_code == 302, f"the submission answered {response.status_code}"
        return elapsed, len(self.statements)


def measure(url: str, rounds: int) -> tuple[str, Figures, list[str]]:
    site = Installation(url)
    figures = Figures()
    try:
        for number in range(-3, rounds):  # three rounds to warm up, not counted
            task_id, state = site.new_task(f"Warm{number + 3}")
            cold_task, _ = site.new_task(f"Cold{number + 3}")
            with use_clock(site.clock):
                floor = floor_once(state, ANSWER)[0]
            warm, statements = site.submit(task_id, cold=False)
            cold, _ = site.submit(cold_task, cold=True)
            if number >= 0:
                figures.floor.append(floor)
                figures.warm.append(warm)
                figures.cold.append(cold)
                figures.statements.append(statements)
        return site.engine.url.get_backend_name(), figures, list(site.statements)
    finally:
        site.engine.dispose()


def own_schema(url: str) -> tuple[str, str]:
    """A PostgreSQL schema of its own for this run (dropped afterwards); return its URL and name."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return f"{url}?options=-csearch_path%3D{schema}", schema


def drop_schema(url: str, schema: str) -> None:
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def report(backend: str, f: Figures) -> None:
    floor, warm, cold = (statistics.median(v) for v in (f.floor, f.warm, f.cold))
    print(f"{backend:>10}: floor {floor:6.2f} ms | HTTP warm {warm:6.2f} ms (x{warm / floor:.1f}) | "
          f"HTTP cold {cold:6.2f} ms (x{cold / floor:.1f}) | {max(f.statements)} SQL statements a submission")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="SQLite URL (default: a new file)")
    parser.add_argument("--postgresql", default=DEFAULT_POSTGRESQL, help="PostgreSQL URL (a schema of its own)")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--show-statements", action="store_true", help="print the statements of one submission")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"rounds: {args.rounds}; HTTP through Flask's test client in this process; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    if args.only != "postgresql":
        backend, figures, statements = measure(args.sqlite or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3",
                                               args.rounds)
        report(backend, figures)
        if args.show_statements:
            print("\n".join(f"    {' '.join(s.split())[:150]}" for s in statements))
    if args.only != "sqlite":
        url, schema = own_schema(args.postgresql)
        try:
            backend, figures, statements = measure(url, args.rounds)
        finally:
            drop_schema(args.postgresql, schema)
        report(backend, figures)
        if args.show_statements:
            print("\n".join(f"    {' '.join(s.split())[:150]}" for s in statements))
    print("target: HTTP submission <= 10x the floor")


if __name__ == "__main__":
    main()
