"""`dhr clock`."""

from __future__ import annotations

from datetime import datetime

import click

from ..platform import audit
from ..platform.clock import Clock, as_utc, parse_duration
from ..platform.db import unit_of_work
from ..platform.errors import DhrError
from ..platform.models import SimulatedTime
from .app import CLI_ACTOR, App, cli, pass_app


@cli.group()
def clock() -> None:
    """The simulated clock (DHR_CLOCK=simulated), for demos and training."""


def _simulated(app: App) -> Clock:
    if app.settings.clock != "simulated":
        raise DhrError("the clock can only be shown or moved when DHR_CLOCK=simulated")
    return app.clock


def _set_clock(app: App, when: datetime) -> None:
    current = _simulated(app).now()
    with unit_of_work(app.sessions) as session:
        row = session.get(SimulatedTime, 1)
        if row is not None and when < row.now:
            raise DhrError(f"the simulated clock cannot go back (it is {current.isoformat()})")
        if row is None:
            session.add(SimulatedTime(id=1, now=when))
        else:
            row.now = when
        audit.record(session, audit.AuditType.CLOCK_CHANGED, actor=CLI_ACTOR, at=when,
                     details={"from": current.isoformat(), "to": when.isoformat()})
    click.echo(f"the simulated clock is now {when.isoformat()}")


@clock.command("show")
@pass_app
def clock_show(app: App) -> None:
    """Print the simulated time."""
    click.echo(_simulated(app).now().isoformat())


@clock.command("set")
@click.argument("when")
@pass_app
def clock_set(app: App, when: str) -> None:
    """Set the simulated time (ISO 8601, e.g. 2026-09-01T09:00:00+01:00; no offset means UTC)."""
    try:
        moment = as_utc(datetime.fromisoformat(when))
    except ValueError as exc:
        raise DhrError(f"'{when}' is not an ISO 8601 date and time") from exc
    _set_clock(app, moment)


@clock.command("advance")
@click.argument("duration")
@pass_app
def clock_advance(app: App, duration: str) -> None:
    """Move the simulated time on by an ISO 8601 duration (P14D, P1M, PT2H)."""
    _set_clock(app, as_utc(_simulated(app).now() + parse_duration(duration)))
