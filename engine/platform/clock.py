"""The injected clock: system time in production, settable time in tests and demos.

SpiffWorkflow reads `datetime.now(timezone.utc)` inside its timer event definitions. So that its
timer checks see the same clock as the rest of the engine, that module's `datetime` name is
replaced by a subclass whose `now()` asks the clock in force (`use_clock`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol

from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from sqlalchemy import Engine, select

from .errors import DhrError
from .models import SimulatedTime


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SettableClock:
    """A clock that stands still until it is set or advanced."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)
        for listener in list(self._listeners):
            listener()

    def advance(self, delta: timedelta | relativedelta) -> None:
        self.set(self._now + delta)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the time is set or advanced (a scheduler re-plans)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)


class SimulatedClock:
    """A clock whose time is stored in the database and moved with `dhr clock`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def now(self) -> datetime:
        # A plain read outside any transaction, so it never waits for a writer's lock.
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            value = conn.execute(select(SimulatedTime.now).where(SimulatedTime.id == 1)).scalar()
        if value is None:
            return datetime.now(UTC)
        return as_utc(value)


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> relativedelta:
    """Parse an ISO 8601 duration such as P14D, P1M or PT2H into calendar arithmetic.

    Raises:
        DhrError: the text is not such a duration.
    """
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise DhrError(f"'{text}' is not an ISO 8601 duration such as P14D, P1M or PT2H")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return relativedelta(**parts)  # type: ignore[arg-type]


_current: ContextVar[Clock | None] = ContextVar("dhr_clock", default=None)


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[None]:
    """Make SpiffWorkflow's timer checks read `clock` inside this block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ANN206 - matches datetime.now
        clock = _current.get()
        if clock is None:
            return datetime.now(tz)
        now = clock.now()
        return now.astimezone(tz) if tz is not None else now.astimezone().replace(tzinfo=None)


spiff_timer.datetime = _ClockedDatetime
