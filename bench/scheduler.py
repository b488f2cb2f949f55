"""Benchmark: the timer scheduler with 10,000 open cases waiting on timers (PostgreSQL by default).

Prints:
- start-up: seconds from launching `dhr scheduler` to it running (imports included);
- idle CPU: the scheduler process's CPU time over a minute with nothing due, as % of one core
  (target: under 2%: no per-case polling);
- lateness of 1,000 timers falling due within one minute (created while it runs): median and
  p99 of (fired at - due at) (target: p99 <= 1 s).

Usage: python bench/scheduler.py [--database URL] [--cases N] [--idle-seconds S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import runtime  # noqa: E402
from engine.bpmn.library import read_folder  # noqa: E402
from engine.platform.clock import SystemClock  # noqa: E402
from engine.platform.db import make_engine, session_factory, unit_of_work, upgrade  # noqa: E402
from engine.platform.models import AuditEvent, Timer  # noqa: E402

WAITING = Path(__file__).resolve().parent.parent / "tests" / "timers"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def create_cases(sessions, clock, count: int, due, prefix: str) -> None:
    batch = 200
    for first in range(0, count, batch):
        with unit_of_work(sessions) as s:
            for n in range(first, min(first + batch, count)):
                runtime.start_case(s, process_id="waiting", pseudonym=f"{prefix}{n}", year=2026,
                                   data={"due": due(n).isoformat(), "divisor": 1}, actor="bench", clock=clock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--soon", type=int, default=1_000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()

    url, schema = args.database, None
    if url.startswith("postgresql"):  # a schema of its own, dropped afterwards
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{url}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    try:
        with unit_of_work(sessions) as s:
            runtime.deploy(s, read_folder(WAITING), actor="bench", clock=clock)
        started = time.monotonic()
        far = clock.now() + timedelta(days=30)
        create_cases(sessions, clock, args.cases, lambda n: far + timedelta(seconds=n), "Open")
        print(f"database: {engine.url.get_backend_name()}; {args.cases} open cases waiting on timers "
              f"(set up in {time.monotonic() - started:.0f} s)")

        launched = time.monotonic()
        env = {**os.environ, "DHR_DATABASE_URL": url, "DHR_CLOCK": "system"}
        log = Path(os.environ.get("DHR_BENCH_LOG", os.devnull)).open("w")  # noqa: SIM115 - open while it runs
        scheduler = subprocess.Popen([sys.executable, "-m", "engine", "scheduler"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=log)
        assert scheduler.stdout is not None
        assert scheduler.stdout.readline().startswith("scheduler running")
        threading.Thread(target=scheduler.stdout.read, daemon=True).start()  # drain what it prints
        print(f"start-up: {time.monotonic() - launched:.2f} s to running (Python start and imports included)")
        try:
            before, wall = cpu_seconds(scheduler.pid), time.monotonic()
            time.sleep(args.idle_seconds)  # the measurement window itself
            idle = (cpu_seconds(scheduler.pid) - before) / (time.monotonic() - wall) * 100
            print(f"idle CPU over {args.idle_seconds:.0f} s: {idle:.2f}% of one core (target < 2%)")

            lead = timedelta(seconds=30)
            first_due = clock.now() + lead
            spread = timedelta(seconds=60) / args.soon
            create_cases(sessions, clock, args.soon, lambda n: first_due + spread * n, "Soon")
            last_due = first_due + spread * args.soon
            while datetime.now(UTC) < last_due + timedelta(seconds=10):
                time.sleep(1)
            with sessions() as s:
                late = [e.details["late_by_seconds"] for e in s.scalars(
                    select(AuditEvent).where(AuditEvent.event_type == "TIMER_FIRED"))]
                waiting = s.scalar(select(func.count()).select_from(Timer).where(Timer.due_at <= last_due))
            late.sort()
            p99 = late[max(0, int(len(late) * 0.99) - 1)] if late else float("nan")
            print(f"{len(late)} of {args.soon} timers fired ({waiting} still waiting); lateness median "
                  f"{statistics.median(late) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms "
                  "(target p99 <= 1 s)")
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=30)
    finally:
        engine.dispose()
        if schema:
            with create_engine(args.database, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
