"""Benchmark: other people's pages while a looping script is being stopped.

Starts the web app on a real port (a threaded werkzeug server), on SQLite and on PostgreSQL. One
user completes a task whose script is `while True: i = i + 1`; the budget (DHR_SCRIPT_SECONDS,
default 2 s) stops it and the request answers with a plain error. While that request runs, another
user asks for /readyz (it reads the database) and for another case's task page, one after another. Prints, for
each, the median and the worst latency with the loop running and without it (and their ratios),
and the same with the reads in write-locking transactions as before (`--no-before` leaves that out:
on SQLite those reads queue behind the loop's write lock). Target: worst < 1 s with the loop.

Usage: python bench/script_budget.py [--postgres URL] [--rounds N] [--no-before]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging  # noqa: E402

from engine.bpmn import runtime  # noqa: E402
from engine.bpmn.library import read_folder  # noqa: E402
from engine.platform.clock import SettableClock  # noqa: E402
from engine.platform.db import make_engine, session_factory, unit_of_work, upgrade  # noqa: E402
from engine.platform.models import OpenTask  # noqa: E402
from engine.platform.settings import Settings, script_seconds  # noqa: E402
from engine.platform.users import add_user  # noqa: E402
from webforms import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOOPING = ROOT / "tests" / "budget"  # looping_script.bpmn: 'Compute deadline' loops for ever
ORDINARY = ROOT / "tests" / "diagrams"  # review_demo.bpmn: an ordinary task page
PASSWORD = "bench-password-long"
POSTGRES = os.environ.get("DHR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Browser:
    """One signed-in person: cookies and the CSRF token, over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, float]:
        data = urllib.parse.urlencode({"csrf_token": self.csrf, **form}).encode() if form is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=data, timeout=120) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
        return status, body, time.perf_counter() - started

    def sign_in(self, username: str) -> None:
        page = self.request("/sign-in")[1]
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, "no CSRF token on the sign-in page"
        self.csrf = match.group(1)
        status = self.request("/sign-in", {"username": username, "password": PASSWORD})[0]
        assert status == 200, f"could not sign in as {username}: {status}"
        match = re.search(r'name="csrf-token" content="([^"]+)"', self.request("/inbox")[1])
        assert match
        self.csrf = match.group(1)


def prepare(url: str) -> tuple[Any, str, str]:
    """A fresh database with both diagrams, a user, a looping case and another case."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = SettableClock(datetime.now(UTC))
    with unit_of_work(sessions) as s:
        runtime.deploy(s, read_folder(ORDINARY), actor="bench", clock=clock)
        runtime.deploy(s, read_folder(LOOPING), actor="bench", clock=clock)
        for name in ("looper", "reader"):
            add_user(s, name, role="Community Safety Team", agency=None, password=PASSWORD, actor="bench",
                     clock=clock)
    with unit_of_work(sessions) as s:
        looping = runtime.start_case(s, process_id="looping_script", pseudonym="Loopy", year=2026, data={},
                                     actor="bench", clock=clock).id
        other = runtime.start_case(s, process_id="review_demo", pseudonym="Other", year=2026, data={},
                                   actor="bench", clock=clock).id
    with sessions() as s:
        looping_task = s.scalars(select(OpenTask.id).where(OpenTask.case_id == looping)).one()
        other_task = s.scalars(select(OpenTask.id).where(OpenTask.case_id == other)).one()
    return sessions, looping_task, other_task


def reads(reader: Browser, other_task: str, until: threading.Event | None, count: int) -> dict[str, list[float]]:
    """/readyz and the other case's task page, alternately: `count` of each, or until `until` is set."""
    times: dict[str, list[float]] = {"readyz": [], "task page": []}
    while (until is None and len(times["readyz"]) < count) or (until is not None and not until.is_set()):
        for label, path in (("readyz", "/readyz"), ("task page", f"/tasks/{other_task}")):
            during = until is None or not until.is_set()
            status, body, seconds = reader.request(path)
            assert status == 200, f"{path} answered {status}: {body[:200]}"
            if during:  # asked while the loop ran (it may have been answered after)
                times[label].append(seconds)
    return times


def with_the_loop(looper: Browser, reader: Browser, looping_task: str, other_task: str) -> tuple[dict, float, str]:
    """Read while the looper's request runs the looping script; reads asked before it answered count."""
    answered = threading.Event()
    result: dict[str, Any] = {}

    def loop() -> None:
        result["status"], result["body"], result["seconds"] = looper.request(f"/tasks/{looping_task}", {})
        answered.set()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    times = reads(reader, other_task, answered, 0)
    thread.join()
    message = re.search(r"The script of [^.]*?stopped", result["body"].replace("&#39;", "'"))
    assert result["status"] == 400 and message, f"the looping request answered {result['status']}"
    return times, result["seconds"], message.group(0)


def run(label: str, url: str, rounds: int, before: bool) -> None:
    sessions, looping_task, other_task = prepare(url)
    app = create_app({"SETTINGS": Settings(database_url=url, env="development", secret_key="b" * 32),
                      "SESSIONS": sessions})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        looper, reader = Browser(base), Browser(base)
        looper.sign_in("looper")
        reader.sign_in("reader")
        reads(reader, other_task, None, 5)  # warm up: diagrams parsed, templates compiled
        quiet = reads(reader, other_task, None, 30 * rounds)
        modes = [("now", None)]
        if before:
            modes.append(("before (reads take the write lock)", app.extensions["dhr"].sessions))
        for mode, readers in modes:
            if readers is not None:
                app.extensions["dhr"].readers = readers
            busy: dict[str, list[float]] = {"readyz": [], "task page": []}
            loop_seconds = []
            for _ in range(rounds):
                times, seconds, message = with_the_loop(looper, reader, looping_task, other_task)
                loop_seconds.append(seconds)
                for key, values in times.items():
                    busy[key].extend(values)
            print(f"{label} [{mode}]: looping request answered in {statistics.median(loop_seconds):.2f} s "
                  f"(median of {rounds}): \"{message}\"")
            for key in ("readyz", "task page"):
                q, b = quiet[key], busy[key]
                if not b:
                    print(f"  {key:>9}: no request finished while the loop ran")
                    continue
                print(f"  {key:>9}: with the loop median {statistics.median(b) * 1000:7.1f} ms, "
                      f"worst {max(b) * 1000:7.1f} ms ({len(b)} requests) | without it median "
                      f"{statistics.median(q) * 1000:6.1f} ms, worst {max(q) * 1000:6.1f} ms | ratio median "
                      f"x{statistics.median(b) / statistics.median(q):.1f}, worst x{max(b) / max(q):.1f}")
    finally:
        server.shutdown()
        sessions.kw["bind"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL ('' to skip)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-before", dest="before", action="store_false")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    print(f"script budget: {script_seconds():g} s (DHR_SCRIPT_SECONDS)")
    run("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3", args.rounds, args.before)
    if not args.postgres:
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the reason is printed
        print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
        return
    try:
        run("PostgreSQL", f"{args.postgres}?options=-csearch_path%3D{schema}", args.rounds, args.before)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
