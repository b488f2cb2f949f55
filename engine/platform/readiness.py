"""Whether this installation can serve: the database answers, its schema is the code's, a scheduler runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .db import MIGRATIONS
from .heartbeat import last_beat

T = TypeVar("T")
SCHEDULER = "scheduler"  # the kind of process whose heartbeat /readyz looks for


@dataclass(frozen=True)
class Readiness:
    database: str  # ok, unreachable
    migrations: str  # current, behind (run `dhr db upgrade`), ahead (old code on a newer schema), unknown
    scheduler: str  # running, silent (no heartbeat for too long), none (never seen), unknown
    scheduler_seconds_ago: float | None = None

    @property
    def ready(self) -> bool:
        return (self.database, self.migrations, self.scheduler) == ("ok", "current", "running")

    def as_dict(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not ready", **asdict(self)}


def check(session: Session, now: datetime, silent_after: timedelta) -> Readiness:
    """Look at the database, its migrations and the schedulers' heartbeats (`now`: the real time)."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return Readiness("unreachable", "unknown", "unknown")
    stored: frozenset[str] = _read(session, _stored_revisions, frozenset())  # no table yet: never migrated
    heads, known = code_revisions()
    migrations = "current" if stored == heads else "behind" if stored <= known else "ahead"
    beat = _read(session, lambda s: last_beat(s, SCHEDULER), None)
    if beat is None:
        return Readiness("ok", migrations, "none")
    age = (now - beat).total_seconds()
    return Readiness("ok", migrations, "running" if age <= silent_after.total_seconds() else "silent", round(age, 1))


def _read(session: Session, read: Callable[[Session], T], otherwise: T) -> T:
    """What `read` finds, or `otherwise` if its table is missing (a schema behind the code)."""
    try:
        return read(session)
    except SQLAlchemyError:
        session.rollback()  # nothing was written; PostgreSQL refuses the rest of a failed transaction
        return otherwise


def _stored_revisions(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(text("SELECT version_num FROM alembic_version")))


@functools.cache
def code_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """The newest migration(s) this code ships, and every one it knows: read once per process."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())
