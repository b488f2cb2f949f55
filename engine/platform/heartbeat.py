"""Heartbeats: each running scheduler process says, every few seconds, that it is alive.

A row per process (`host:pid`) with the real time of its last beat, so `/readyz` can tell a
scheduler that stopped (or hangs) from one that runs, across machines. Beats follow the real clock,
never the simulated one: they say whether a process is alive now. A process that stops cleanly
removes its row; rows of processes that died are removed by the next beat a day later.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from .db import unit_of_work
from .models import Base

log = logging.getLogger(__name__)
BEAT_SECONDS = 5.0
FORGET_AFTER = timedelta(days=1)


class ProcessHeartbeat(Base):
    """The last beat of one running process of a kind (`scheduler`)."""

    __tablename__ = "process_heartbeat"

    process: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    kind: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def beat(sessions: sessionmaker[Session], process: str, kind: str, now: datetime) -> None:
    """Record that `process` is alive at `now` (and forget processes silent for a day)."""
    with unit_of_work(sessions) as session:
        updated = session.execute(update(ProcessHeartbeat).where(ProcessHeartbeat.process == process)
                                  .values(beat_at=now))
        if not cast("CursorResult[Any]", updated).rowcount:
            session.add(ProcessHeartbeat(process=process, kind=kind, started_at=now, beat_at=now))
        session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.beat_at < now - FORGET_AFTER))


def last_beat(session: Session, kind: str) -> datetime | None:
    """The newest beat of any process of `kind`, or None if none is running."""
    return session.scalar(select(func.max(ProcessHeartbeat.beat_at)).where(ProcessHeartbeat.kind == kind))


def forget(sessions: sessionmaker[Session], process: str) -> None:
    with unit_of_work(sessions) as session:
        session.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.process == process))


class Heartbeat:
    """Beats for this process in a daemon thread, every `seconds`, until `stop`."""

    def __init__(self, sessions: sessionmaker[Session], kind: str, seconds: float = BEAT_SECONDS) -> None:
        self._sessions, self._kind, self._seconds = sessions, kind, seconds
        self._process = this_process()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{kind}-heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()  # at once: a process that cannot write its beat says so before it says it runs
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(self._seconds + 5)
        try:
            forget(self._sessions, self._process)
        except Exception:
            log.exception("could not remove the heartbeat of %s", self._process)

    def _run(self) -> None:
        while not self._stopped.wait(self._seconds):
            try:
                self._beat()
            except Exception:  # the database may be back at the next beat; /readyz shows the gap
                log.exception("could not record the heartbeat of %s", self._process)

    def _beat(self) -> None:
        beat(self._sessions, self._process, self._kind, datetime.now(UTC))
