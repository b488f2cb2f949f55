"""One unit of work per request: a session opened on first use, committed at the boundary.

A page that only shows things (GET, HEAD) reads in a `read_mostly` session: on SQLite it does not
take the database's write lock unless it writes (an audited view), so it is answered while another
request's unit of work holds the lock, for as long as that one's scripts may run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from engine.platform.calendar import london_day
from engine.platform.clock import Clock, SimulatedClock, SystemClock
from engine.platform.db import make_engine, read_mostly, session_factory
from engine.platform.settings import Settings


@dataclass
class WebState:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    readers: sessionmaker[Session]  # the same database, for requests that only show things


def init_app(app: Flask, settings: Settings) -> None:
    sessions: sessionmaker[Session] | None = app.config.pop("SESSIONS", None)
    if sessions is None:
        sessions = session_factory(make_engine(settings.database_url))
    clock: Clock | None = app.config.pop("CLOCK", None)
    if clock is None:
        clock = SimulatedClock(sessions.kw["bind"]) if settings.clock == "simulated" else SystemClock()
    app.extensions["dhr"] = WebState(settings, sessions, clock, read_mostly(sessions))
    app.after_request(_commit)
    app.teardown_request(_close)


def state() -> WebState:
    result: WebState = current_app.extensions["dhr"]
    return result


def db() -> Session:
    """The request's session (its one transaction)."""
    if "db_session" not in g:
        web = state()
        g.db_session = web.readers() if request.method in _READS else web.sessions()
    session: Session = g.db_session
    return session


_READS = ("GET", "HEAD")


def clock() -> Clock:
    return state().clock


def today() -> date:
    """Today in London, by the app's clock."""
    return london_day(clock().now())


def sessions() -> sessionmaker[Session]:
    """For work that runs its own units of work (one per case), after `end_transaction`."""
    return state().sessions


def end_transaction() -> None:
    """Commit what this request has done so far and end its transaction (on SQLite: its write lock)."""
    if "db_session" in g:
        g.db_session.commit()


def rollback() -> None:
    """Undo what this request wrote so far (an engine call refused the change)."""
    if "db_session" in g:
        g.db_session.rollback()


def _commit(response: Response) -> Response:
    # Commit before the response leaves, so a failed commit becomes the 500 page, not a false "done".
    session: Any = g.get("db_session")
    if session is not None:
        if response.status_code >= 500:
            session.rollback()
        else:
            session.commit()
    return response


def _close(exc: BaseException | None) -> None:
    session: Any = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
