"""The timer scheduler: APScheduler wakes the engine up; the `timer` table says what is due.

Jobs (APScheduler, in memory: losing them loses nothing, the table is the truth):
- `fire`: a date job at the next due time (or end of a backoff), which fires every due timer;
- `watch`: every second, one indexed query for the next due time, so timers created or moved by
  other processes (a task completed early, an extension agreed) are picked up without a restart;
- `sweep`: a slow safety net that fires whatever is due.
At start-up everything that fell due while the scheduler was stopped fires at once, oldest first.
Several schedulers may share one database: each due timer is claimed, with its case, by the unit of
work that fires it (`timers.claim_next`), so each fires once, and one that dies mid-fire leaves it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from ..platform.audit import seal_all_views
from ..platform.clock import Clock, SettableClock
from ..platform.notifications import send_due
from ..platform.settings import Settings
from .timers import FiredTimer, next_wake, run_due

log = logging.getLogger(__name__)
RECHECK = timedelta(milliseconds=250)


class TimerScheduler:
    """Fires due timers in a background thread until `shutdown`."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        watch_seconds: float = 1.0,
        sweep_seconds: float = 60.0,
        actor: str = "scheduler",
        on_fired: Callable[[FiredTimer], None] | None = None,
        settings: Settings | None = None,
        outbox_seconds: float = 5.0,
    ) -> None:
        self._sessions, self._clock, self._actor, self._on_fired = sessions, clock, actor, on_fired
        self._watch, self._sweep = watch_seconds, sweep_seconds
        self._settings, self._outbox = settings, outbox_seconds
        self._aps = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1}
        )
        self._firing = threading.Lock()
        self._stopping = threading.Event()  # set by `shutdown`: a backlog being fired stops at the next timer
        # Held while a job is looked up or added, and by `shutdown` while it sets `_stopping`: APScheduler's
        # shutdown holds its job stores' lock while it waits for the running jobs, so a running job that
        # then added one (the next run, planned at the end of a run) waited for it for ever.
        self._adding = threading.Lock()
        self._pending = False
        self._progressed = True
        self._planned: datetime | None = None
        if isinstance(clock, SettableClock):  # tests and demos move time by hand: re-plan when they do
            clock.subscribe(self.wake)

    def start(self) -> None:
        """Start the jobs; timers that fell due while stopped fire now, oldest first."""
        self._aps.start()
        self._aps.add_job(self._plan, "interval", seconds=self._watch, id="watch")
        self._aps.add_job(self._fire, "interval", seconds=self._sweep, id="sweep")
        self._aps.add_job(self._seal, "interval", seconds=self._sweep, id="seal")
        if self._settings is not None:  # also send the e-mails that units of work queued, those queued
            # while it was stopped at once
            self._aps.add_job(self._send, "interval", seconds=self._outbox, id="outbox",
                              next_run_time=datetime.now(UTC))
        self.wake()

    def wake(self) -> None:
        """Look at the timer table now (something may have fallen due)."""
        self._pending = True
        with self._adding:
            if self._aps.running and not self._stopping.is_set():
                self._aps.add_job(self._fire)  # a job of its own: never skipped as "already running"

    def shutdown(self) -> None:
        """Stop: the run in hand ends at its next timer and no job is added after this begins."""
        with self._adding:
            self._stopping.set()
        if isinstance(self._clock, SettableClock):
            self._clock.unsubscribe(self.wake)
        if self._aps.running:
            self._aps.shutdown(wait=True)

    def _send(self) -> None:
        assert self._settings is not None
        try:
            send_due(self._sessions, self._clock, self._settings)
        except Exception:  # never let the job die: it runs again shortly
            log.exception("sending e-mails failed")

    def _seal(self) -> None:
        """Seal the case views logged since the last seal into the audit chain."""
        try:
            seal_all_views(self._sessions, at=self._clock.now(), actor=self._actor)
        except Exception:  # never let the job die: it runs again at the next sweep
            log.exception("sealing case views failed")

    def _fire(self) -> None:
        self._pending = True
        while self._pending:
            if not self._firing.acquire(blocking=False):
                return  # the thread that holds it sees _pending and goes round again
            try:
                while self._pending:
                    self._pending = False
                    self._progressed = bool(run_due(self._sessions, self._clock, self._actor, self._on_fired,
                                                       self._stopping.is_set))
            except Exception:  # never let the job die: the watch job will try again
                log.exception("firing due timers failed")
            finally:
                self._firing.release()
        self._plan()

    def _plan(self) -> None:
        """Schedule the `fire` job for the next due time."""
        try:
            with self._sessions() as session:
                wake_at = next_wake(session)
        except Exception:
            log.exception("could not read the next due timer")
            return
        with self._adding:
            if wake_at is None or not self._aps.running or self._stopping.is_set():
                self._planned = None
                return
            delay = wake_at - self._clock.now()
            if delay <= timedelta(0):
                # Due now. If the last run fired nothing, what is due is held by another writer (a user
                # or a second scheduler): look again shortly rather than spin.
                delay = timedelta(0) if self._progressed else RECHECK
            elif wake_at == self._planned and self._aps.get_job("fire") is not None:
                return  # already planned, and the job is still there to run
            self._planned = wake_at
            # max_instances > 1: a run planned from inside a running `_fire` must not be skipped as
            # "already running" (the lock in `_fire` keeps firing one at a time).
            self._aps.add_job(self._fire, "date", run_date=datetime.now(UTC) + delay, id="fire",
                              replace_existing=True, max_instances=5)
