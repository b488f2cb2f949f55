"""Due timers: found in the `timer` table and fired one unit of work each, oldest first.

Each firing claims its timer first: the oldest ready timer's row and its case's row are locked in
the unit of work that fires it (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several schedulers share
the work, each passing over what another scheduler or a user's submission holds; SQLite: the unit of
work holds the database's write lock). A claim ends with its transaction: a scheduler that dies
mid-fire leaves the timer, unfired, to the next claim.

A firing that fails is retried with backoff (30 s, 2 min, 8 min, 32 min); after the fifth failure
the timer is `stuck`: it shows on its case with the error until an administrator retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..platform.audit import AuditType, record
from ..platform.clock import Clock
from ..platform.db import unit_of_work
from ..platform.errors import DhrError, NotAllowed, NotFound
from ..platform.models import Case, Timer, User
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


def next_wake(session: Session) -> datetime | None:
    """When the next timer can fire: its due time, or the end of its backoff."""
    due = session.scalar(select(func.min(Timer.due_at)).where(
        Timer.status == "waiting", Timer.next_attempt_at.is_(None)))
    retry = session.scalar(select(func.min(Timer.next_attempt_at)).where(
        Timer.status == "waiting", Timer.next_attempt_at.is_not(None)))
    return min((v for v in (due, retry) if v is not None), default=None)


def claim_next(session: Session, now: datetime, passed: Collection[str] = ()) -> Timer | None:
    """Lock the oldest timer ready at `now` and its case for this unit of work; None if every ready
    timer (but those `passed`) is held by another writer or there is none.

    PostgreSQL skips rows other transactions hold; SQLite has no row locks, but `FOR UPDATE` makes
    the engine's SQLite transaction a writer before this read, so the read sees the latest commit
    and nobody can fire the timer until this unit of work ends.
    """
    query = (select(Timer).join(Case, Case.id == Timer.case_id).where(*_ready(now))
             .order_by(Timer.due_at, Timer.id).limit(1).with_for_update(skip_locked=True))
    if passed:
        query = query.where(Timer.id.not_in(list(passed)))
    return session.scalars(query).first()


def run_due(sessions: sessionmaker[Session], clock: Clock, actor: str = "scheduler",
            on_fired: Callable[[FiredTimer], None] | None = None,
            stopping: Callable[[], bool] | None = None) -> list[FiredTimer]:
    """Fire every timer due by now, oldest first, each claimed and fired in its own unit of work,
    until none is left or `stopping()` says so (checked between timers).

    Timers that fall due while it runs, or that firing makes due (a chase step already overdue),
    fire in the same run. A timer another writer holds is left to them or the next run; one whose
    firing fails backs off.
    """
    results: list[FiredTimer] = []
    passed: set[str] = set()  # claimed but not fired (a stale projection, a failure): not again this run
    while stopping is None or not stopping():
        claimed: FiredTimer | None = None
        try:
            with unit_of_work(sessions) as session:
                timer = claim_next(session, clock.now(), passed)
                if timer is None:
                    return results
                claimed = FiredTimer(timer.id, timer.case_id, timer.title, timer.due_at)
                fired = fire_timer(session, timer.id, clock=clock, actor=actor, skip_locked=True)
        except Exception as exc:  # a broken diagram or a lost connection: back off, never give up silently
            if claimed is None:
                raise  # the claim itself failed: nothing to record against a timer
            message = str(exc) if isinstance(exc, DhrError) else f"{type(exc).__name__}: {exc}"
            log.warning("timer %s of case %s failed: %s", claimed.timer_id, claimed.case_id, message)
            _record_failure(sessions, claimed.timer_id, message, clock.now(), actor)
            passed.add(claimed.timer_id)
            _report(results, replace(claimed, error=message), on_fired)
            continue
        if fired:
            _report(results, claimed, on_fired)
        else:
            passed.add(claimed.timer_id)
    return results


def _report(results: list[FiredTimer], item: FiredTimer, on_fired: Callable[[FiredTimer], None] | None) -> None:
    results.append(item)
    if on_fired is not None:
        on_fired(item)


def _record_failure(sessions: sessionmaker[Session], timer_id: str, error: str, now: datetime, actor: str) -> None:
    with unit_of_work(sessions) as session:
        timer = session.get(Timer, timer_id, with_for_update=True)
        if timer is None or timer.status != "waiting" or (
                timer.next_attempt_at is not None and timer.next_attempt_at > now):
            return  # gone, or another scheduler recorded this failure already
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
