"""Due timers: found in the `timer` table and fired one unit of work each, oldest first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .clock import Clock
from .db import unit_of_work
from .errors import DhrError
from .models import Timer
from .runtime import fire_timer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FiredTimer:
    timer_id: str
    case_id: int
    title: str
    due_at: datetime
    error: str | None = None


def due_timers(session: Session, now: datetime, limit: int = 100) -> list[Timer]:
    """Return waiting timers due at or before `now`, oldest first."""
    return list(
        session.scalars(
            select(Timer)
            .where(Timer.status == "waiting", Timer.due_at <= now)
            .order_by(Timer.due_at, Timer.id)
            .limit(limit)
        )
    )


def run_due(sessions: sessionmaker[Session], clock: Clock, actor: str = "scheduler") -> list[FiredTimer]:
    """Fire every timer due at or before now, oldest first, each in its own unit of work.

    Timers that firing makes due (a chase step that is already overdue) fire in the same run.
    A timer whose firing fails is marked `failed` with the error and is not tried again here.
    """
    now = clock.now()
    results: list[FiredTimer] = []
    while True:
        with sessions() as session:
            batch = [(t.id, t.case_id, t.title, t.due_at) for t in due_timers(session, now)]
        if not batch:
            return results
        for timer_id, case_id, title, due_at in batch:
            try:
                with unit_of_work(sessions) as session:
                    fired = fire_timer(session, timer_id, clock=clock, actor=actor)
            except DhrError as exc:
                log.warning("timer %s of case %s failed: %s", timer_id, case_id, exc)
                _mark_failed(sessions, timer_id, str(exc))
                results.append(FiredTimer(timer_id, case_id, title, due_at, error=str(exc)))
                continue
            if fired:
                results.append(FiredTimer(timer_id, case_id, title, due_at))


def _mark_failed(sessions: sessionmaker[Session], timer_id: str, error: str) -> None:
    with unit_of_work(sessions) as session:
        timer = session.get(Timer, timer_id)
        if timer is not None:
            timer.status, timer.attempts, timer.last_error = "failed", timer.attempts + 1, error
