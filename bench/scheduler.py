"""Benchmark: the timer scheduler with 10,000 open cases waiting on timers (PostgreSQL by default).

Prints:
- start-up: seconds from launching `dhr scheduler` to it running (imports included);
- idle CPU: the scheduler process's CPU time over a minute with nothing due, as % of one core
  (target: under 2%: no per-case polling);
- lateness (fired at - due at) of 1,000 timers falling due within one minute, created while the
  schedulers run, as p50/p95/p99/max, in three rounds of one run:
  1. baseline: one `dhr scheduler`, nothing else running;
  2. one scheduler while `--users` people submit forms without pause (each its own case, through
     the engine's `complete_task`, as the web app does), served by `--user-processes` processes
     (a web server's workers);
  3. `--schedulers` processes sharing the work under the same users (skipped when it is 1).
  Target: p99 <= 1 s under users. Each round also prints the load average, the forms submitted,
  the timers each scheduler fired and its CPU per timer.

Usage: python bench/scheduler.py [--database URL] [--cases N] [--soon N] [--schedulers N]
       [--users N] [--user-processes N] [--idle-seconds S] [--profile DIR] [--nice N] [--schema NAME]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.bpmn import runtime  # noqa: E402
from engine.bpmn.library import read_folder  # noqa: E402
from engine.platform.access import add_member  # noqa: E402
from engine.platform.clock import SystemClock, as_utc  # noqa: E402
from engine.platform.db import make_engine, session_factory, unit_of_work, upgrade  # noqa: E402
from engine.platform.models import AuditEvent, Case, OpenTask, Timer, User  # noqa: E402
from engine.platform.users import add_user  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WAITING = ROOT / "tests" / "timers"
FORMS = ROOT / "bench" / "diagrams"  # a quarterly-update loop: one form, submitted again and again
ANSWER = {"status": "In progress", "progress": "Training delivered to two more teams."}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def create_cases(sessions, clock, count: int, due, prefix: str) -> list[int]:
    """`count` cases each waiting on one timer, due at `due(n)`; returns their ids."""
    ids, batch = [], 200
    for first in range(0, count, batch):
        with unit_of_work(sessions) as s:
            for n in range(first, min(first + batch, count)):
                ids.append(runtime.start_case(s, process_id="waiting", pseudonym=f"{prefix}{n}", year=2026,
                                              data={"due": due(n).isoformat(), "divisor": 1}, actor="bench",
                                              clock=clock).id)
    return ids


def named(url: str, name: str) -> str:
    """The URL with an application name PostgreSQL shows in pg_stat_activity (for the wait profile)."""
    if not url.startswith("postgresql"):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


class WaitProfile:
    """Samples pg_stat_activity every 100 ms: what the schedulers' and users' connections are doing."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1) if url.startswith(
            "postgresql") else None
        self._stop = threading.Event()
        self.samples: dict[str, dict[str, int]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self._engine is not None:
            self._thread.start()

    def _run(self) -> None:
        assert self._engine is not None
        with self._engine.connect() as conn:
            while not self._stop.wait(0.1):
                for name, state, kind, event in conn.execute(text(
                        "SELECT application_name, state, wait_event_type, wait_event FROM pg_stat_activity "
                        "WHERE application_name LIKE 'bench-%' AND pid <> pg_backend_pid()")):
                    role = "scheduler" if name.startswith("bench-scheduler") else "users"
                    counts = self.samples.setdefault(role, {})
                    what = _doing(state, kind, event)
                    counts[what] = counts.get(what, 0) + 1

    def stop(self) -> None:
        self._stop.set()
        if self._engine is not None:
            self._thread.join()
            self._engine.dispose()

    def lines(self) -> list[str]:
        out = []
        for role, counts in sorted(self.samples.items()):
            busy = {k: v for k, v in counts.items() if k != "idle"}
            total = sum(busy.values()) or 1
            parts = ", ".join(f"{what} {n * 100 / total:.0f}%" for what, n in
                              sorted(busy.items(), key=lambda item: -item[1]))
            out.append(f"  {role} connections, while in a unit of work: {parts}")
        return out


def _doing(state: str | None, kind: str | None, event: str | None) -> str:
    if state == "idle in transaction":
        return "waiting for Python (its CPU or its turn on one)"
    if state != "active":
        return "idle"
    if kind is None:
        return "running in PostgreSQL"
    if kind == "Lock":
        return f"waiting for a row lock ({event})"
    if kind == "Client":
        return "waiting for Python (its CPU or its turn on one)"
    return f"waiting: {kind} {event}"


def percentile(ordered: list[float], p: int) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * p / 100) - 1))]


# ------------------------------------------------------------------------------ users


def user_process(url: str, username: str, references: list[str], stop, results) -> None:
    """One web worker: a thread per user, each submitting its case's form again as soon as it is done."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    clock = SystemClock()
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
    times: list[float] = []

    def submit_until_stopped(reference: str) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            with unit_of_work(sessions) as s:
                case = runtime.get_case(s, reference)
                task_id = s.scalars(select(OpenTask.id).where(OpenTask.case_id == case.id)).one()
                runtime.complete_task(s, task_id, ANSWER, user=user, clock=clock)
            times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=submit_until_stopped, args=(r,)) for r in references]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(times)
    engine.dispose()


@dataclass
class Users:
    """`count` people submitting forms, served by `processes` worker processes."""

    url: str
    username: str
    references: list[str]
    processes: int
    _stop: object = None
    _results: object = None
    _workers: list = field(default_factory=list)

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop, self._results = context.Event(), context.Queue()
        shares = [self.references[n::self.processes] for n in range(self.processes)]
        self._workers = [context.Process(target=user_process, args=(named(self.url, "bench-users"), self.username,
                                                                     share, self._stop,
                                                                     self._results)) for share in shares if share]
        for worker in self._workers:
            worker.start()

    def cpu(self) -> float:
        return sum(cpu_seconds(w.pid) for w in self._workers)

    def stop(self) -> list[float]:
        self._stop.set()
        times = [t for _ in self._workers for t in self._results.get(timeout=120)]
        for worker in self._workers:
            worker.join(timeout=30)
        return sorted(times)


# ------------------------------------------------------------------------------ schedulers


class Schedulers:
    """`count` `dhr scheduler` processes on the system clock, counting what each fires."""

    def __init__(self, url: str, count: int, label: str, profile: Path | None, nice: int = 0) -> None:
        env = {**os.environ, "DHR_DATABASE_URL": url, "DHR_CLOCK": "system"}
        log = Path(os.environ.get("DHR_BENCH_LOG", os.devnull)).open("a")  # noqa: SIM115 - open while it runs
        self.fired = [0] * count
        self.processes = []
        for n in range(count):
            python = ["nice", "-n", str(nice), sys.executable] if nice else [sys.executable]
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                python += ["-m", "cProfile", "-o", str(profile / f"{label}-scheduler{n + 1}.prof")]
            env["DHR_DATABASE_URL"] = named(url, f"bench-scheduler{n + 1}")
            process = subprocess.Popen([*python, "-m", "engine", "scheduler", "--id", f"bench-{n + 1}"], env=env,
                                       text=True, stdout=subprocess.PIPE, stderr=log)
            assert process.stdout is not None
            assert process.stdout.readline().startswith("scheduler running")
            threading.Thread(target=self._count, args=(n, process), daemon=True).start()
            self.processes.append(process)

    def _count(self, number: int, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("fired"):
                self.fired[number] += 1

    def cpu(self) -> list[float]:
        return [cpu_seconds(p.pid) for p in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)


# ------------------------------------------------------------------------------ rounds


def timers_round(args, url: str, sessions, clock, label: str, schedulers: int, users: Users | None) -> list[float]:
    """1,000 timers due within a minute, fired by `schedulers` processes while `users` submit; returns
    their lateness in seconds, sorted.

    The timers are created first (with the schedulers already running, idle), the users start when
    that is done, before the first falls due, and go on until the last has fired.
    """
    running = Schedulers(url, schedulers, label.split()[0].rstrip(":"), args.profile, args.nice)
    waits = WaitProfile(url)
    try:
        settle = time.monotonic() + args.patience  # a backlog a round before left behind goes first
        while due_now(sessions, clock) and time.monotonic() < settle:
            time.sleep(1)
        lead = lead_for(sessions, clock, args)
        first_due = clock.now() + timedelta(seconds=lead)
        spread = timedelta(seconds=args.window) / args.soon
        made = time.monotonic()
        ids = create_cases(sessions, clock, args.soon, lambda n: first_due + spread * n,
                           f"{label[0].upper()}{uuid.uuid4().hex[:6]}x")
        made = time.monotonic() - made
        if users is not None:
            users.start()
        waits.start()
        cpu_before, users_before, wall = running.cpu(), users.cpu() if users else 0.0, time.monotonic()
        last_due = first_due + spread * args.soon
        give_up = last_due + timedelta(seconds=args.drain + args.patience)
        while datetime.now(UTC) < last_due + timedelta(seconds=args.drain) or (
                datetime.now(UTC) < give_up and still_waiting(sessions, ids)):
            time.sleep(1)
        wall = time.monotonic() - wall
        cpu = [after - before for after, before in zip(running.cpu(), cpu_before, strict=True)]
        users_cpu = (users.cpu() - users_before) if users else 0.0
        submits = users.stop() if users is not None else []
        load_now = load()
    finally:
        waits.stop()
        running.stop()
    with sessions() as s:
        late = sorted(e.details["late_by_seconds"] for e in s.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "TIMER_FIRED", AuditEvent.case_id.in_(ids))))
        unfired = list(s.scalars(select(Timer.due_at).where(Timer.case_id.in_(ids))))
    waiting = len(unfired)
    if unfired:  # counted as late as they are now (at least): leaving them out would flatter the figures
        late = sorted(late + [(clock.now() - as_utc(due)).total_seconds() for due in unfired])
    niced = f" (at nice {args.nice})" if args.nice else ""
    print(f"\n{label}: {schedulers} scheduler(s){niced}, {args.users if users else 0} users; {load_now}")
    print(f"  {args.soon} timers created in {made:.0f} s, the first due {lead:.0f} s after the creation began")
    if made > lead:
        print("  warning: creating them took longer than the lead: the first ones were late from the start")
    if late:
        print(f"  {args.soon - waiting} of {args.soon} fired ({waiting} still waiting, counted as late as now); "
              f"lateness p50 "
              f"{percentile(late, 50) * 1000:.0f} ms, p95 {percentile(late, 95) * 1000:.0f} ms, "
              f"p99 {percentile(late, 99) * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms")
    per = ", ".join(f"bench-{n + 1} fired {f} ({c / max(f, 1) * 1000:.1f} ms CPU each)"
                    for n, (f, c) in enumerate(zip(running.fired, cpu, strict=True)))
    print(f"  {per}")
    if submits:
        print(f"  users: {len(submits)} forms submitted ({len(submits) / wall:.1f}/s), submission p50 "
              f"{percentile(submits, 50) * 1000:.0f} ms, p95 {percentile(submits, 95) * 1000:.0f} ms; "
              f"user workers' CPU {users_cpu / wall * 100:.0f}% of one core")
    for line in waits.lines():
        print(line)
    return late


def due_now(sessions, clock) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Timer).where(Timer.due_at <= clock.now())) or 0


def still_waiting(sessions, ids: list[int]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Timer).where(Timer.case_id.in_(ids))) or 0


def lead_for(sessions, clock, args) -> float:
    """Seconds from now to the first due time: enough to create the round's timers first, at the rate
    50 more waiting cases take to create now (the machine's load varies)."""
    started = time.monotonic()
    far = clock.now() + timedelta(days=40)
    create_cases(sessions, clock, 50, lambda n: far + timedelta(seconds=n), f"Open{uuid.uuid4().hex[:6]}x")
    per_case = (time.monotonic() - started) / 50
    return max(args.lead, per_case * args.soon * 1.5 + 10)


def idle_round(url: str, seconds: float) -> None:
    launched = time.monotonic()
    running = Schedulers(url, 1, "idle", None)
    print(f"start-up: {time.monotonic() - launched:.2f} s to running (Python start and imports included)")
    try:
        before, wall = running.cpu()[0], time.monotonic()
        time.sleep(seconds)  # the measurement window itself
        idle = (running.cpu()[0] - before) / (time.monotonic() - wall) * 100
        print(f"idle CPU over {seconds:.0f} s: {idle:.2f}% of one core (target < 2%)")
    finally:
        running.stop()


def prepare(sessions, clock, args) -> tuple[str, list[str]]:
    """The diagrams, the 10,000 waiting cases, and a case with an open form for each user (kept in a
    reused schema: only what is missing is made)."""
    with unit_of_work(sessions) as s:
        runtime.deploy(s, read_folder(WAITING), actor="bench", clock=clock)
        runtime.deploy(s, read_folder(FORMS), actor="bench", clock=clock)
        user = s.scalars(select(User).where(User.username == "benchholder")).one_or_none() or add_user(
            s, "benchholder", role="Action Holder", agency=None, password=None, actor="bench", clock=clock)
        username = user.username
        have = s.scalar(select(func.count()).select_from(Case).where(Case.pseudonym.like("Open%")))
    far = clock.now() + timedelta(days=30)
    create_cases(sessions, clock, args.cases - have, lambda n: far + timedelta(seconds=n), f"Open{have}x")
    references = []
    for _ in range(args.users):
        with unit_of_work(sessions) as s:
            case = runtime.start_case(s, process_id="bench_loop", pseudonym=f"User{uuid.uuid4().hex[:8]}",
                                      year=2026, data={"updates": 0}, actor="bench", clock=clock)
            add_member(s, case, s.get(User, user.id), actor="bench", at=clock.now())
            references.append(case.reference)
    return username, references


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--cases", type=int, default=10_000, help="open cases waiting on far timers")
    parser.add_argument("--soon", type=int, default=1_000, help="timers falling due in each round")
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which they fall due")
    parser.add_argument("--lead", type=float, default=30.0,
                        help="least seconds from creating them to the first due (more if creating is slow)")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds after the last due before counting")
    parser.add_argument("--patience", type=float, default=300.0,
                        help="seconds more to wait for timers still waiting after the drain")
    parser.add_argument("--schedulers", type=int, default=2, help="scheduler processes in the last round")
    parser.add_argument("--users", type=int, default=10, help="people submitting forms without pause")
    parser.add_argument("--user-processes", type=int, default=2, help="worker processes serving the users")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="0: skip the idle measurement")
    parser.add_argument("--profile", type=Path, help="write each scheduler's cProfile here")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the schedulers at this nice value (below 0 needs root), as a unit's Nice= would")
    parser.add_argument("--schema", help="PostgreSQL: keep the installation in this schema and reuse it next time")
    args = parser.parse_args()

    url, schema = args.database, None
    if url.startswith("postgresql"):  # a schema of its own, dropped afterwards unless named
        schema = args.schema or f"bench_{uuid.uuid4().hex[:8]}"
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        url = f"{url}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    try:
        started = time.monotonic()
        username, references = prepare(sessions, clock, args)
        print(f"database: {engine.url.get_backend_name()}; {args.cases} open cases waiting on timers "
              f"(set up in {time.monotonic() - started:.0f} s); {load()}")
        if args.idle_seconds > 0:
            idle_round(url, args.idle_seconds)
        users = Users(url, username, references, min(args.user_processes, args.users)) if args.users else None
        rounds = [("baseline", 1, None), ("users", 1, users)]
        if args.schedulers > 1:
            rounds.append((f"shared: {args.schedulers} schedulers", args.schedulers, users))
        p99 = {label: percentile(late, 99) for label, n, who in rounds
               if (late := timers_round(args, url, sessions, clock, label, n, who))}
        base = p99.get("baseline")
        if base:
            print("\np99 against the baseline: " + ", ".join(
                f"{label} {value * 1000:.0f} ms (x{value / base:.1f})" for label, value in p99.items())
                + " (target: p99 <= 1 s under users)")
    finally:
        engine.dispose()
        if schema and not args.schema:
            with create_engine(args.database, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
