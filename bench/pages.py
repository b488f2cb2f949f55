"""Benchmark: the long pages (dashboard, inbox, case list, case page, history, register) at 10,000 cases.

Builds an installation on PostgreSQL (by default; a schema of its own, dropped afterwards):
1. the demo (`dhr demo`: users, the DHR process and its five cases at five stages) through the
   engine's own functions; those five cases are the baseline;
2. copies of those five cases up to `--cases`, written in bulk: each copy gets the rows the engine
   wrote for its model (the case and its state, open tasks, timers, stages, the register's
   recommendations and their events, letters, costs, drafts), its engine task ids renewed in its
   state and every row alike, and its audit events appended to the keyed chain (`audit.chain_hash`,
   so `dhr audit verify` passes); then `CASE_VIEWED` events (what a case-wide role's reading writes)
   until the trail holds `--events` events. The case-specific people (panel, action holders) sit on
   one copy in a hundred. The stages' counts the unit of work keeps (`stage_summary`) are counted
   afresh over the copied stays.

Then, for the baseline and for the full installation, a fresh web worker (the Flask app in a child
process, requests through its WSGI stack) signs in and asks each page `--rounds` times. Prints per
page p50 and p95 (ms), SQL statements per request (the median: a request that also refreshes the
sign-in session writes one more) and the page's size, the ratio of the full
installation's p95 to the baseline's, and the worker's resident memory after the run.

Usage: python bench/pages.py [--database URL] [--cases N] [--events N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, create_engine, event, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.platform import audit  # noqa: E402
from engine.platform.db import make_engine, session_factory, upgrade  # noqa: E402
from engine.platform.models import AuditEvent, AuditHead, Base, Case  # noqa: E402
from engine.platform.settings import Settings  # noqa: E402
from engine.review import stage_summary  # noqa: E402

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# the tables a case's rows live in (recommendation_event hangs off recommendation); documents and
# the e-mail outbox are left out
CASE_TABLES = ("case_stage", "open_task", "timer", "recommendation", "letter", "case_cost", "task_draft")
BATCH = 250  # copies written per round trip
PASSWORD = "demo-password-123"
PAGES = [  # (user, url); CASE stands for a case, a different copy each round
    ("cst.officer", "/dashboard"),
    ("cst.officer", "/inbox"),
    ("csp.chair", "/inbox"),
    ("cst.officer", "/cases"),
    ("cst.officer", "/cases?status=all&page=LAST"),
    ("cst.officer", "/cases?overdue=1"),
    ("cst.officer", "/cases/CASE"),
    ("cst.officer", "/cases/CASE/history"),
    ("cst.officer", "/cases/CASE/history?page=2"),
    ("cst.officer", "/register"),
    ("cst.officer", "/register?overdue=1"),
    ("panel.police", "/inbox"),
    ("panel.police", "/cases"),
]


def table(name: str) -> Table:
    return Base.metadata.tables[name]


# ---------------------------------------------------------------------------------------------
# Building


def build_demo(url: str) -> None:
    """The demo data through the engine: `dhr demo`."""
    from engine.review import demo

    engine = make_engine(url)
    for _ in demo.seed(session_factory(engine), Settings(database_url=url, clock="system")):
        pass
    engine.dispose()


class Copier:
    """Copies of the model cases, each row as the engine wrote it for its model, new ids throughout."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.models = [dict(r) for r in conn.execute(select(table("case_instance")).order_by(Case.id)).mappings()]
        self.rows: dict[str, dict[int, list[dict[str, Any]]]] = {}
        for name in (*CASE_TABLES, "case_member", "audit_event"):
            by_case: dict[int, list[dict[str, Any]]] = defaultdict(list)
            t = table(name)
            order = t.c.id if "id" in t.c else t.c.case_id
            for row in conn.execute(select(t).order_by(order)).mappings():
                by_case[row["case_id"]].append(dict(row))
            self.rows[name] = by_case
        self.rec_events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(select(table("recommendation_event")).order_by(table("recommendation_event").c.id)
                                ).mappings():
            self.rec_events[row["recommendation_id"]].append(dict(row))
        self.next_id = {name: (conn.scalar(select(func.max(table(name).c.id))) or 0) + 1
                        for name in ("case_instance", "case_stage", "recommendation", "recommendation_event",
                                     "letter", "case_cost", "case_member")}
        head = conn.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).one()
        self.last_id, self.last_hash = head.last_id, head.last_hash
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # each model's state cut at its engine ids, so a copy's state is joined rather than searched
        self.states = {m["id"]: UUID_TEXT.split(m["state"]) for m in self.models}
        self.state_ids = {m["id"]: UUID_TEXT.findall(m["state"]) for m in self.models}

    def new_id(self, name: str) -> int:
        self.next_id[name] += 1
        return self.next_id[name] - 1

    def copy(self, n: int, *, members: bool, views: int) -> None:
        """Copy number `n` (of model n % 5), with `views` CASE_VIEWED events after its own."""
        model = self.models[n % len(self.models)]
        suffix = f"{n:012x}"  # a copy's engine ids: its model's, their last twelve digits the copy's number

        def renew(value: Any) -> Any:
            if isinstance(value, str):
                return UUID_TEXT.sub(lambda m: m.group(0)[:24] + suffix, value)
            return value

        case_id = self.new_id("case_instance")
        pseudonym = f"Copy{n:05d}"
        pieces, found = self.states[model["id"]], self.state_ids[model["id"]]
        state = "".join(p + (found[i][:24] + suffix if i < len(found) else "") for i, p in enumerate(pieces))
        self.pending["case_instance"].append({**model, "id": case_id, "pseudonym": pseudonym,
                                              "reference": f"{pseudonym}/{model['year']}", "state": state})
        for name in CASE_TABLES:
            for row in self.rows[name][model["id"]]:
                new = {key: renew(value) if key in ("id", "task_id", "attached_to") else value
                       for key, value in row.items()}
                new["case_id"] = case_id
                if isinstance(row.get("id"), int):
                    new["id"] = self.new_id(name)
                self.pending[name].append(new)
                if name == "recommendation":
                    for rec_event in self.rec_events[row["id"]]:
                        self.pending["recommendation_event"].append(
                            {**rec_event, "id": self.new_id("recommendation_event"), "recommendation_id": new["id"],
                             "task_id": renew(rec_event["task_id"])})
        if members:
            for row in self.rows["case_member"][model["id"]]:
                self.pending["case_member"].append({**row, "id": self.new_id("case_member"), "case_id": case_id})
        for row in self.rows["audit_event"][model["id"]]:
            self.append_event({**row, "case_id": case_id, "task_id": renew(row["task_id"])})
        last_at = self.pending["audit_event"][-1]["at"]
        for _ in range(views):
            self.append_event({"at": last_at, "actor": "cst.officer", "event_type": "CASE_VIEWED", "case_id": case_id,
                               "task_id": None, "task_name": None,
                               "details": {"page": "cases.show", "role": "Community Safety Team"}})

    def append_event(self, row: dict[str, Any]) -> None:
        """Append an event to the chain as `audit.record` does: the next id, sealed over the one before."""
        self.last_id += 1
        row = {**row, "id": self.last_id, "prev_hash": self.last_hash}
        row["hash"] = audit.chain_hash(self.last_hash, audit.content(SimpleNamespace(**row)))  # type: ignore[arg-type]
        self.last_hash = row["hash"]
        self.pending["audit_event"].append(row)

    def write(self) -> None:
        for name in ("case_instance", *CASE_TABLES, "recommendation_event", "case_member", "audit_event"):
            if self.pending[name]:
                write_rows(self.conn, table(name), self.pending[name])
        self.conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=self.last_id,
                                                                            last_hash=self.last_hash))
        self.pending.clear()


def write_rows(conn: Any, into: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` in bulk: PostgreSQL's COPY (timestamps as the naive UTC `UTCDateTime` stores, JSON
    as text), or an executemany elsewhere."""
    if conn.dialect.name != "postgresql":
        conn.execute(insert(into), rows)
        return
    columns = [c.name for c in into.columns]

    def cell(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value

    cursor = conn.connection.driver_connection.cursor()
    quoted = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{into.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([cell(row.get(c)) for c in columns])


def copy_cases(url: str, cases: int, events: int) -> None:
    """Copies of the demo's cases up to `cases` in all, and CASE_VIEWED events up to `events`."""
    engine = make_engine(url)
    with engine.begin() as conn:
        copier = Copier(conn)
        copies = cases - len(copier.models)
        own = sum(len(copier.rows["audit_event"][m["id"]]) for m in copier.models) / len(copier.models)
        existing = conn.scalar(select(func.count()).select_from(AuditEvent)) or 0
        views_each = max(0, int((events - existing) / max(copies, 1) - own))
    for first in range(0, copies, BATCH):
        with engine.begin() as conn:
            copier.conn = conn
            for n in range(first, min(first + BATCH, copies)):
                copier.copy(n, members=n % 100 == 0, views=views_each)
            copier.write()
    with session_factory(engine).begin() as session:  # the counts the unit of work keeps, for the rows copied
        stage_summary.fill(session)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
            for name in copier.next_id:  # the sequences past the ids written here
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT max(id) FROM {name}))"))
    engine.dispose()


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {name: conn.scalar(select(func.count()).select_from(table(name))) or 0
                 for name in ("case_instance", "open_task", "timer", "case_stage", "recommendation", "audit_event")}
        found["tasks ever"] = conn.scalar(select(func.count()).select_from(AuditEvent)
                                          .where(AuditEvent.event_type == "TASK_CREATED")) or 0
    engine.dispose()
    return found


# ---------------------------------------------------------------------------------------------
# Measuring (in a child process: a fresh web worker)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(url: str, rounds: int) -> dict[str, Any]:
    from webforms import create_app

    engine = make_engine(url)
    app = create_app({"SETTINGS": Settings(database_url=url, clock="system"), "SESSIONS": session_factory(engine)})
    sent: list[int] = [0]
    event.listen(engine, "before_cursor_execute", lambda *args: sent.__setitem__(0, sent[0] + 1))
    with engine.connect() as conn:
        case_ids = list(conn.scalars(select(Case.id)))
    clients = {}
    for username in {user for user, _ in PAGES}:
        client = app.test_client()
        page = client.get("/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert token
        answer = client.post("/sign-in", data={"username": username, "password": PASSWORD,
                                                "csrf_token": token.group(1)})
        assert answer.status_code == 302, (username, answer.status_code)
        clients[username] = client
    started_mb = rss_mb()
    results = {}
    pick = random.Random(15)
    for username, pattern in PAGES:
        times, statements, size = [], [], 0
        for n in range(rounds + 3):
            url_ = pattern.replace("CASE", str(pick.choice(case_ids))).replace("LAST", str(len(case_ids) // 50 + 1))
            sent[0] = 0
            began = time.perf_counter()
            answer = clients[username].get(url_)
            body = answer.get_data()
            elapsed = (time.perf_counter() - began) * 1000
            assert answer.status_code == 200, (url_, answer.status_code)
            if n >= 3:  # the first requests parse diagrams and compile templates
                times.append(elapsed)
                statements.append(sent[0])
                size = len(body)
        times.sort()
        results[f"{username} {pattern}"] = {
            "p50": statistics.median(times), "p95": times[min(len(times) - 1, int(len(times) * 0.95))],
            "statements": int(statistics.median(statements)), "kb": size / 1024}
    return {"pages": results, "rss_start_mb": started_mb, "rss_end_mb": rss_mb()}


def run_worker(url: str, rounds: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--measure", url, "--rounds", str(rounds)],
                         check=True, capture_output=True, text=True, env={**os.environ, "DHR_ENV": "development"})
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the schema (PostgreSQL) and print its URL")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.rounds)))
        return

    url, schema = args.database, None
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{url}?options=-csearch_path%3D{schema}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        began = time.monotonic()
        build_demo(url)
        print(f"database: {url.split(':')[0]}; load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
              f"demo built in {time.monotonic() - began:.0f} s: {counts(url)}")
        baseline = run_worker(url, args.rounds)
        began = time.monotonic()
        copy_cases(url, args.cases, args.events)
        print(f"copied to {args.cases} cases in {time.monotonic() - began:.0f} s: {counts(url)}")
        full = run_worker(url, args.rounds)
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
        print(f"{'page':52} {'p50 ms':>8} {'p95 ms':>8} {'stmts':>6} {'KB':>6}   {'5 cases p95':>11} {'stmts':>6} "
              f"{'p95 ratio':>9}")
        for page, got in full["pages"].items():
            base = baseline["pages"][page]
            print(f"{page:52} {got['p50']:8.1f} {got['p95']:8.1f} {got['statements']:6d} {got['kb']:6.0f}   "
                  f"{base['p95']:11.1f} {base['statements']:6d} {got['p95'] / base['p95']:9.2f}")
        print(f"web worker resident memory: 5 cases {baseline['rss_start_mb']:.0f} -> {baseline['rss_end_mb']:.0f} MB; "
              f"{args.cases} cases {full['rss_start_mb']:.0f} -> {full['rss_end_mb']:.0f} MB (target < 200 MB)")
        if args.keep:
            print(f"kept: {url}")
    finally:
        if schema and not args.keep:
            with create_engine(args.database, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
