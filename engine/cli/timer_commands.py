"""`dhr timers`."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from ..bpmn import timers, worklist
from ..platform.clock import Clock, SimulatedClock, SystemClock
from ..platform.db import unit_of_work
from ..platform.models import Case
from .app import CLI_ACTOR, App, _json_out, _table, _when, cli, pass_app


@cli.group("timers")
def timers_group() -> None:
    """Timers the cases are waiting on."""


@timers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def timers_list(app: App, as_json: bool) -> None:
    """List waiting timers, the soonest first."""
    with app.sessions() as session:
        rows = [
            {"id": t.id, "case": t.case_reference, "timer": t.title, "due_at": t.due_at, "status": t.status,
             "attempts": t.attempts, "next_attempt_at": t.next_attempt_at, "last_error": t.last_error}
            for t in worklist.waiting_timers(session, None, app.clock.now())
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["id", "case", "timer", "due_at", "status"])


@timers_group.command("run-due")
@pass_app
def timers_run_due(app: App) -> None:
    """Fire every timer that is due now, oldest first."""
    fired = timers.run_due(app.sessions, app.clock)
    with app.sessions() as session:
        names = dict(session.execute(select(Case.id, Case.reference)).all())
    for item in fired:
        outcome = f"failed: {item.error}" if item.error else "fired"
        click.echo(f"{names.get(item.case_id, item.case_id)}: {item.title} (due {_when(item.due_at)}) {outcome}")
    click.echo(f"{sum(1 for f in fired if not f.error)} timer(s) fired")
    if any(f.error for f in fired):
        sys.exit(1)


@timers_group.command("retry")
@click.argument("timer_id")
@pass_app
def timers_retry(app: App, timer_id: str) -> None:
    """Let a stuck timer fire again at the scheduler's next run."""
    with unit_of_work(app.sessions) as session:
        timer = timers.retry(session, timer_id, actor=CLI_ACTOR, clock=app.clock)
        click.echo(f"timer '{timer.title}' will be tried again")


@cli.command("scheduler")
@click.option("--watch", "watch_seconds", default=1.0, show_default=True,
              help="Seconds between looks at the next due time.")
@click.option("--sweep", "sweep_seconds", default=60.0, show_default=True,
              help="Seconds between safety sweeps.")
@click.option("--id", "scheduler_id", default=None,
              help="This scheduler's name in logs (default: host:pid); several may run against one database.")
@pass_app
def scheduler_command(app: App, watch_seconds: float, sweep_seconds: float, scheduler_id: str | None) -> None:
    """Run the timer scheduler until stopped (SIGTERM or Ctrl-C).

    Several may run at once, on one machine or several: they share the due timers, each fired once.
    """
    import logging
    import os
    import signal
    import socket
    import threading
    import time

    from ..bpmn.scheduler import TimerScheduler
    from ..platform import logs, readiness
    from ..platform.heartbeat import Heartbeat

    live: Clock = SimulatedClock(app.engine) if app.settings.clock == "simulated" else SystemClock()
    stop = threading.Event()
    name = scheduler_id or f"{socket.gethostname()}:{os.getpid()}"

    def report(item: timers.FiredTimer) -> None:
        outcome = f"failed: {item.error}" if item.error else "fired"
        click.echo(f"{outcome} timer {item.timer_id} of case {item.case_id} (due {item.due_at.isoformat()})")
        sys.stdout.flush()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    scheduler = TimerScheduler(app.sessions, live, watch_seconds=watch_seconds, sweep_seconds=sweep_seconds,
                               on_fired=report, settings=app.settings)
    logs.configure(app.settings.log_format)
    heartbeat = Heartbeat(app.sessions, readiness.SCHEDULER)  # for /readyz: this scheduler is alive
    heartbeat.start()
    scheduler.start()
    click.echo(f"scheduler running ({app.settings.clock} clock) as {name}")
    sys.stdout.flush()
    stop.wait()
    # each phase of stopping is logged with its time, so a stop slower than its unit allows says where
    log = logging.getLogger("engine.scheduler")
    began = time.monotonic()
    log.info("scheduler %s stopping: waiting for the jobs running now", name)
    scheduler.shutdown()
    log.info("scheduler %s: jobs ended after %.1f s; removing its heartbeat", name, time.monotonic() - began)
    heartbeat.stop()
    log.info("scheduler %s: stopped after %.1f s", name, time.monotonic() - began)
    click.echo(f"scheduler {name} stopped")
