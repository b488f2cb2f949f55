"""Due timers: found in the `timer` table and fired one unit of work each, oldest first.

A firing that fails is retried with backoff (30 s, 2 min, 8 min, 32 min); after the fifth failure
the timer is `stuck`: it shows on its case with the error until an administrator retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..platform.audit import AuditType, record
from ..platform.clock import Clock
from ..platform.db import unit_of_work
from ..platform.errors import DhrError, NotAllowed, NotFound
from ..platform.models import Timer, User
from ..platform.roles import Power, may
from .runtime import fire_timer

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(seconds=30)


@dataclass(frozen=True)
class FiredTimer:
    timer_id: str
    case_id: int
    title: str
    due_at: datetime
    error: str | None = None


def _ready(now: datetime) -> tuple[Any, ...]:
    return (Timer.status == "waiting", Timer.due_at <= now,
            or_(Timer.next_attempt_at.is_(None), Timer.next_attempt_at <= now))


def due_timers(session: Session, now: datetime, limit: int = 100) -> list[Timer]:
    """Return timers ready to fire at `now` (due, not stuck, not backing off), oldest first."""
    return list(session.scalars(select(Timer).where(*_ready(now)).order_by(Timer.due_at, Timer.id).limit(limit)))


def next_wake(session: Session) -> datetime | None:
    """When the next timer can fire: its due time, or the end of its backoff."""
    due = session.scalar(select(func.min(Timer.due_at)).where(
        Timer.status == "waiting", Timer.next_attempt_at.is_(None)))
    retry = session.scalar(select(func.min(Timer.next_attempt_at)).where(
        Timer.status == "waiting", Timer.next_attempt_at.is_not(None)))
    return min((v for v in (due, retry) if v is not None), default=None)


def run_due(sessions: sessionmaker[Session], clock: Clock, actor: str = "scheduler",
            on_fired: Callable[[FiredTimer], None] | None = None) -> list[FiredTimer]:
    """Fire every timer due at or before now, oldest first, each in its own unit of work.

    Timers that firing makes due (a chase step already overdue) fire in the same run. A timer whose
    case another writer holds is left for the next run; one whose firing fails backs off.
    """
    now = clock.now()
    results: list[FiredTimer] = []
    while True:
        with sessions() as session:
            batch = [(t.id, t.case_id, t.title, t.due_at) for t in due_timers(session, now)]
        progressed = False
        for timer_id, case_id, title, due_at in batch:
            try:
                with unit_of_work(sessions) as session:
                    fired = fire_timer(session, timer_id, clock=clock, actor=actor, skip_locked=True)
            except Exception as exc:  # a broken diagram or a lost connection: back off, never give up silently
                message = str(exc) if isinstance(exc, DhrError) else f"{type(exc).__name__}: {exc}"
                log.warning("timer %s of case %s failed: %s", timer_id, case_id, message)
                _record_failure(sessions, timer_id, message, clock.now(), actor)
                failed = FiredTimer(timer_id, case_id, title, due_at, error=message)
                results.append(failed)
                progressed = True
                if on_fired is not None:
                    on_fired(failed)
                continue
            if fired:
                item = FiredTimer(timer_id, case_id, title, due_at)
                results.append(item)
                progressed = True
                if on_fired is not None:
                    on_fired(item)
        if not batch or not progressed:
            return results


def _record_failure(sessions: sessionmaker[Session], timer_id: str, error: str, now: datetime, actor: str) -> None:
    with unit_of_work(sessions) as session:
        timer = session.get(Timer, timer_id)
        if timer is None:
            return
        timer.attempts += 1
        timer.last_error = error[:4000]
        if timer.attempts >= MAX_ATTEMPTS:
            timer.status, timer.next_attempt_at = "stuck", None
            record(session, AuditType.TIMER_STUCK, actor=actor, at=now, case_id=timer.case_id, task_id=timer.id,
                   task_name=timer.title, details={"attempts": timer.attempts, "error": timer.last_error})
        else:
            timer.next_attempt_at = now + FIRST_BACKOFF * 4 ** (timer.attempts - 1)
            record(session, AuditType.TIMER_FAILED, actor=actor, at=now, case_id=timer.case_id, task_id=timer.id,
                   task_name=timer.title, details={"attempts": timer.attempts, "error": timer.last_error,
                                                   "next_attempt_at": timer.next_attempt_at.isoformat()})


def retry(session: Session, timer_id: str, *, actor: str, clock: Clock, user: User | None = None) -> Timer:
    """Let a stuck or backing-off timer fire again at the next run; `user`, when a person asks (the
    command line is the operator), must be one whose role may retry timers.

    Raises:
        NotFound: no such timer; NotAllowed: `user` may not retry timers.
    """
    if user is not None and not may(user, Power.RETRY_TIMERS):
        raise NotAllowed(f"{user.username} ({user.role}) may not retry timers")
    timer = session.get(Timer, timer_id)
    if timer is None:
        raise NotFound(f"there is no waiting timer {timer_id}")
    previous = {"status": timer.status, "attempts": timer.attempts, "error": timer.last_error}
    timer.status, timer.attempts, timer.next_attempt_at, timer.last_error = "waiting", 0, None, None
    record(session, AuditType.TIMER_RETRIED, actor=actor, at=clock.now(), case_id=timer.case_id, task_id=timer.id,
           task_name=timer.title, details={"previous": previous})
    return timer
