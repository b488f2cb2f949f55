"""The scheduler: on time, exactly once, after restarts and crashes, with two processes at once."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select

from engine.bpmn import runtime, timers
from engine.bpmn.scheduler import TimerScheduler
from engine.platform.audit import events_for_case, verify
from engine.platform.db import make_engine, session_factory, unit_of_work
from engine.platform.models import AuditEvent, SimulatedTime, Timer

from .conftest import Db, World

TIMER_DIAGRAMS = Path(__file__).parent / "timers"
DIE_MID_FIRE = TIMER_DIAGRAMS / "die_mid_fire.py"


@pytest.fixture
def running(world: World):
    """An in-process scheduler on the test's clock, reporting what it fires."""
    fired: queue.Queue[timers.FiredTimer] = queue.Queue()
    started: list[TimerScheduler] = []

    def start() -> queue.Queue[timers.FiredTimer]:
        scheduler = TimerScheduler(world.db.sessions, world.clock, on_fired=fired.put)
        scheduler.start()
        started.append(scheduler)
        return fired

    yield start
    for scheduler in started:
        scheduler.shutdown()


def wait_for(fired: queue.Queue, count: int, timeout: float = 10.0) -> list[timers.FiredTimer]:
    return [fired.get(timeout=timeout) for _ in range(count)]


def test_a_timer_fires_within_a_second_of_falling_due(world: World, running) -> None:
    world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    fired = running()
    reminder = world.timers()[0]
    world.clock.set(reminder.due_at - timedelta(seconds=1))
    with pytest.raises(queue.Empty):
        fired.get(timeout=0.3)  # not yet due: nothing fires
    moved = time.monotonic()
    world.clock.set(reminder.due_at)
    [item] = wait_for(fired, 1)
    assert time.monotonic() - moved < 1.0
    assert item.timer_id == reminder.id and item.error is None
    assert world.open_names() == ["decide", "send_reminder"]


def test_timers_due_while_stopped_fire_once_each_oldest_first_at_start_up(world: World, running) -> None:
    for name in ("Iris", "Rosemary"):
        world.start(name)
        world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", f"{name}/2026")
    world.clock.advance(timedelta(days=60))
    fired = running()
    items = wait_for(fired, 4)
    assert [i.title for i in items] == ["Decision reminder"] * 2 + ["Decision overdue"] * 2
    with pytest.raises(queue.Empty):
        fired.get(timeout=0.3)
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.event_type == "TIMER_FIRED")) == 4


def test_a_new_timer_is_picked_up_without_a_restart(world: World, running) -> None:
    world.start()
    fired = running()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    world.complete("decide", {"outcome": "DHR"}, "chair")  # a new timer: the IMR is late in 14 days
    [imr_late] = world.timers()
    world.clock.set(imr_late.due_at)
    [item] = wait_for(fired, 1)
    assert item.title == "IMR late"


def test_a_failing_timer_backs_off_then_is_stuck_until_retried(world: World) -> None:
    world.deploy(TIMER_DIAGRAMS)
    due = world.clock.now() + timedelta(hours=1)
    with world.uow() as s:
        reference = runtime.start_case(s, process_id="waiting", pseudonym="Broken", year=2026,
                                       data={"due": due.isoformat(), "divisor": 0}, actor="test",
                                       clock=world.clock).reference
    world.clock.set(due)
    waits = []
    for attempt in range(1, timers.MAX_ATTEMPTS + 1):
        [result] = timers.run_due(world.db.sessions, world.clock)
        assert result.error and "division by zero" in result.error and "Check the answer" in result.error
        [timer] = world.timers(reference)
        assert timer.attempts == attempt
        if attempt < timers.MAX_ATTEMPTS:
            assert timers.run_due(world.db.sessions, world.clock) == []  # backing off
            waits.append(timer.next_attempt_at - world.clock.now())
            world.clock.set(timer.next_attempt_at)
    assert waits == [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=8), timedelta(minutes=32)]
    assert timer.status == "stuck"
    world.clock.advance(timedelta(days=1))
    assert timers.run_due(world.db.sessions, world.clock) == []
    with world.uow() as s:
        timers.retry(s, timer.id, actor="admin", clock=world.clock)
    with world.db.sessions() as s:
        kinds = [e.event_type for e in events_for_case(s, world.case(reference).id)]
    assert kinds.count("TIMER_FAILED") == 4 and kinds.count("TIMER_STUCK") == 1 and kinds[-1] == "TIMER_RETRIED"
    assert world.timers(reference)[0].status == "waiting"


# ------------------------------------------------------------------------------ real processes


def many_waiting_cases(db: Db, world: World, count: int) -> datetime:
    """`count` cases each waiting on one timer, due one second apart; returns when the last is due."""
    world.deploy(TIMER_DIAGRAMS)
    start = world.clock.now()
    with unit_of_work(db.sessions) as s:
        for n in range(count):
            runtime.start_case(s, process_id="waiting", pseudonym=f"W{n}", year=2026,
                               data={"due": (start + timedelta(seconds=n + 1)).isoformat(), "divisor": 1},
                               actor="test", clock=world.clock)
    last = start + timedelta(seconds=count)
    with unit_of_work(db.sessions) as s:  # the schedulers run on the simulated clock, past every due time
        s.add(SimulatedTime(id=1, now=last + timedelta(minutes=1)))
    return last


ERRORS: dict[int, IO[bytes]] = {}  # each scheduler process's stderr, read when one does not stop


@pytest.fixture(autouse=True)
def _close_scheduler_logs() -> Iterator[None]:
    yield
    while ERRORS:
        ERRORS.popitem()[1].close()


def scheduler_process(db: Db, name: str = "test") -> subprocess.Popen[str]:
    errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed after the test, by _close_scheduler_logs)
    env = {**os.environ, "DHR_DATABASE_URL": db.url, "DHR_CLOCK": "simulated"}
    process = subprocess.Popen([sys.executable, "-m", "engine", "scheduler", "--sweep", "5", "--id", name],
                               env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    ERRORS[process.pid] = errors
    assert process.stdout is not None
    assert process.stdout.readline().strip() == f"scheduler running (simulated clock) as {name}"
    return process


@pytest.fixture
def second_scheduler(db: Db):
    """The sessions of a second scheduler: an engine of its own, so connections and locks of its own."""
    engine = make_engine(db.url)
    yield session_factory(engine)
    engine.dispose()


def _logged(process: subprocess.Popen[str]) -> str:
    """What a process `scheduler_process` started wrote to its stderr."""
    errors = ERRORS[process.pid]
    errors.seek(0)
    return errors.read().decode(errors="replace")


def stop(*processes: subprocess.Popen[str], timeout: float = 60,
         logged: Callable[[subprocess.Popen[str]], str] = _logged) -> list[int]:
    """SIGTERM scheduler processes and return their exit codes; one that does not stop within the
    minute its systemd unit allows (TimeoutStopSec) fails the test with what the processes logged,
    and every one still running is killed, so none holds its database into the next test (on
    PostgreSQL a worker's tests share one schema: it would fire the next tests' timers)."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    try:
        return [process.wait(timeout=timeout) for process in processes]
    except subprocess.TimeoutExpired:
        logs = [f"pid {process.pid} ({'running' if process.poll() is None else 'stopped'}):\n"
                + logged(process)[-20_000:] for process in processes]
        raise AssertionError("a scheduler did not stop; what they logged:\n" + "\n".join(logs)) from None
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


class FiredLines:
    """Reads what scheduler processes print; `wait` blocks on their output, never on the clock."""

    def __init__(self, *processes: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[tuple[int, str]] = queue.Queue()
        self.by_process: dict[int, int] = {}
        for number, process in enumerate(processes):
            threading.Thread(target=self._read, args=(number, process), daemon=True).start()

    def _read(self, number: int, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("fired"):
                self.lines.put((number, line.split()[2]))

    def wait(self, count: int, timeout: float = 240) -> list[str]:
        deadline = time.monotonic() + timeout
        ids = []
        while len(ids) < count:
            number, timer_id = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            self.by_process[number] = self.by_process.get(number, 0) + 1
            ids.append(timer_id)
        return ids


def fired_counts(db: Db) -> dict[str, int]:
    with db.sessions() as s:
        rows = s.execute(select(AuditEvent.task_id, func.count()).where(
            AuditEvent.event_type == "TIMER_FIRED").group_by(AuditEvent.task_id)).all()
    return {task_id: n for task_id, n in rows}


def waiting_ids(db: Db) -> set[str]:
    with db.sessions() as s:
        return set(s.scalars(select(Timer.id)))


def test_a_scheduler_passes_over_the_timer_another_has_claimed_and_each_fires_once(
        db: Db, world: World, second_scheduler) -> None:
    world.clock.set(many_waiting_cases(db, world, 6) + timedelta(minutes=1))
    expected = waiting_ids(db)
    found: list[list[timers.FiredTimer]] = []
    other = threading.Thread(target=lambda: found.append(timers.run_due(second_scheduler, world.clock)))
    with db.sessions() as first:
        held = timers.claim_next(first, world.clock.now())  # the first scheduler's claim, not yet fired
        assert held is not None
        other.start()
        if db.backend == "postgresql":  # SKIP LOCKED: the second gets on with the rest meanwhile
            other.join(timeout=60)
            assert not other.is_alive(), "the second scheduler waited for the first one's claim"
        # (on SQLite the second waits for the database's write lock, which the claim holds)
        assert runtime.fire_timer(first, held.id, clock=world.clock, skip_locked=True)
        first.commit()
    other.join(timeout=60)
    [by_second] = found
    assert sorted(i.timer_id for i in by_second) == sorted(expected - {held.id})
    assert all(i.error is None for i in by_second)
    assert timers.run_due(second_scheduler, world.clock) == []
    assert fired_counts(db) == {timer_id: 1 for timer_id in expected}


def test_a_scheduler_that_dies_mid_fire_leaves_the_timer_to_the_other(db: Db, world: World, second_scheduler) -> None:
    world.clock.set(many_waiting_cases(db, world, 4) + timedelta(minutes=1))  # the time the processes read
    expected = waiting_ids(db)
    dying = subprocess.Popen([sys.executable, str(DIE_MID_FIRE), db.url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert dying.stdout is not None
    try:
        held = dying.stdout.readline().strip()  # fired and audited in its unit of work, not committed
        assert held in expected
    finally:
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=30)
    fired = timers.run_due(second_scheduler, world.clock)
    assert sorted(i.timer_id for i in fired) == sorted(expected) and all(i.error is None for i in fired)
    assert fired_counts(db) == {timer_id: 1 for timer_id in expected}
    assert waiting_ids(db) == set()
    with db.sessions() as s:
        assert verify(s)[1] == []  # the dead unit of work left nothing in the audit chain


# Long: the 1,000-timer test below proves the same of two scheduler processes at scale; `make test`
# keeps two schedulers sharing due timers (`..._passes_over_the_timer_another_has_claimed_...`) and a
# scheduler process handing its timer over (`..._dies_mid_fire_leaves_the_timer_to_the_other`).
@pytest.mark.long
def test_two_scheduler_processes_fire_each_due_timer_exactly_once(db: Db, world: World) -> None:
    many_waiting_cases(db, world, 60)
    expected = waiting_ids(db)
    first, second = scheduler_process(db, "one"), scheduler_process(db, "two")
    try:
        FiredLines(first, second).wait(len(expected))
    finally:
        assert stop(first, second) == [0, 0]
    assert fired_counts(db) == {timer_id: 1 for timer_id in expected}
    assert waiting_ids(db) == set()


@pytest.mark.long
def test_two_scheduler_processes_fire_each_of_1000_timers_exactly_once(db: Db, world: World) -> None:
    many_waiting_cases(db, world, 1000)
    with db.sessions() as s:
        expected = set(s.scalars(select(Timer.id)))
    first, second = scheduler_process(db), scheduler_process(db)
    lines = FiredLines(first, second)
    try:
        lines.wait(len(expected))
    finally:
        assert stop(first, second) == [0, 0]
    counts = fired_counts(db)
    assert set(counts) == expected  # zero misses
    assert set(counts.values()) == {1}  # zero doubles
    if db.backend == "postgresql":  # SKIP LOCKED lets both work at once (SQLite queues them on its write lock)
        assert lines.by_process.get(0) and lines.by_process.get(1), "both schedulers should have fired some"


@pytest.mark.long
def test_a_scheduler_killed_mid_fire_loses_nothing(db: Db, world: World) -> None:
    many_waiting_cases(db, world, 200)
    with db.sessions() as s:
        expected = set(s.scalars(select(Timer.id)))
    first = scheduler_process(db)
    FiredLines(first).wait(40)
    first.send_signal(signal.SIGKILL)  # in the middle of firing the next one
    first.wait(timeout=30)
    already = sum(fired_counts(db).values())  # read before the second starts: it fires at once
    second = scheduler_process(db)
    try:
        FiredLines(second).wait(len(expected) - already)
    finally:
        assert stop(second) == [0]
    counts = fired_counts(db)
    assert set(counts) == expected and set(counts.values()) == {1}
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Timer)) == 0


def test_a_scheduler_stopped_in_the_middle_of_a_run_stops_and_adds_no_job(db: Db, world: World) -> None:
    """Stopping while a run is firing: the run ends at its next timer and plans nothing. APScheduler's
    shutdown holds its job stores' lock while it waits for that run, so a run that went on to plan its
    next one waited for the lock for ever (the process never exited on SIGTERM)."""
    world.clock.set(many_waiting_cases(db, world, 6) + timedelta(minutes=1))
    stopper: list[threading.Thread] = []
    stopping = threading.Event()
    scheduler: TimerScheduler

    def stop_at_the_first(_: timers.FiredTimer) -> None:
        if not stopper:
            stopper.append(threading.Thread(target=scheduler.shutdown))
            stopper[0].start()
            scheduler._stopping.wait()  # shutdown has begun: the run goes on from here
            stopping.set()

    scheduler = TimerScheduler(db.sessions, world.clock, on_fired=stop_at_the_first)
    scheduler.start()
    assert stopping.wait(timeout=60), "no timer fired"  # the first fires at start
    stopper[0].join(timeout=60)
    assert not stopper[0].is_alive(), "shutdown hung"
    assert not scheduler._aps.running
    assert (len(fired_counts(db)), len(waiting_ids(db))) == (1, 5)  # the rest wait for the next start


def test_a_stopped_scheduler_leaves_the_rest_of_a_backlog_waiting(db: Db, world: World) -> None:
    many_waiting_cases(db, world, 60)
    process = scheduler_process(db)
    FiredLines(process).wait(1)
    assert stop(process) == [0]  # it stops after the timer in hand, not after the backlog
    fired = fired_counts(db)
    assert set(fired.values()) == {1} and len(waiting_ids(db)) == 60 - len(fired) > 30
