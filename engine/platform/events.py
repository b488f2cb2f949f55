"""What the BPMN runtime reports, and the features that listen.

The runtime (engine/bpmn) knows nothing of reviews, registers or letters. After each unit of work it
reports what happened here, and the features (engine/review, and the platform's notifications)
act on it in the same transaction: a listener that raises rolls the whole unit of work back.

Features are found through the entry point group `dhr.features` (pyproject.toml): each names a
function that subscribes its listeners, run once per process before the first report. A new feature
adds one line there; the runtime does not change.

Features can also ask the runtime for two things it would not know to do on its own:
- `project`: case variables to copy into `case_instance.facts` (for reports and pages that must not
  load the instance);
- `add_work_rule`: a rule that may refuse a user work on a task (on top of the lane, the case
  membership and the claim, which the runtime checks itself), with the same rule as a SQL condition
  on `open_task` for lists such as the inbox, which must not ask it task by task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from .errors import DhrError
from .models import AuditEvent, Case, OpenTask, User

FEATURE_GROUP = "dhr.features"


@dataclass(frozen=True)
class TaskCompleted:
    """A user task was completed: `task` is the engine's task, its data the answers given."""

    session: Session
    case: Case
    task: Any
    actor: str
    now: datetime


@dataclass(frozen=True)
class StageMove:
    """A case left a stage (None: it had none) for another (None: it has none now, e.g. completed)."""

    left: str | None
    entered: str | None


@dataclass(frozen=True)
class CaseSaved:
    """A unit of work was written: the case's state and projections, `created`, the engine ids of
    the tasks it opened, and `moved`, the case's move between stages if it moved."""

    session: Session
    case: Case
    workflow: Any
    actor: str
    now: datetime
    created: list[str] = field(default_factory=list)
    moved: StageMove | None = None


@dataclass(frozen=True)
class EventsRecorded:
    """The audit events a unit of work appended (tasks created and cancelled, timers set and fired,
    stages, a stall, and what the listeners of `CaseSaved` recorded), reported last. They are chained
    when the unit of work commits: until then they have no id."""

    session: Session
    case: Case
    events: list[AuditEvent]
    now: datetime


Event = TaskCompleted | CaseSaved | EventsRecorded
E = TypeVar("E", TaskCompleted, CaseSaved, EventsRecorded)
WorkRule = Callable[[Session, User, OpenTask], "str | None"]
# the same rule for lists: a condition on `open_task` that keeps the tasks it does not refuse (None: all)
WorkFilter = Callable[[Session, User], "ColumnElement[bool] | None"]

_listeners: dict[type, list[Callable[[Any], object]]] = {}
_projected: list[str] = []
_work_rules: list[WorkRule] = []
_work_filters: list[WorkFilter] = []
_loaded = False
_lock = threading.Lock()


def subscribe(kind: type[E], listener: Callable[[E], object]) -> None:
    """Call `listener` with every event of `kind`, in the unit of work that produced it."""
    if listener not in _listeners.setdefault(kind, []):
        _listeners[kind].append(listener)


def project(*names: str) -> None:
    """Ask the runtime to copy these case variables into the case's facts when they have a value."""
    _projected.extend(name for name in names if name not in _projected)


def add_work_rule(rule: WorkRule, as_filter: WorkFilter) -> None:
    """Add a rule that returns why a user may not work on an open task, or None; `as_filter` is the
    same rule as a condition on `open_task` keeping the tasks the user is not refused (for lists)."""
    if rule not in _work_rules:
        _work_rules.append(rule)
        _work_filters.append(as_filter)


def work_filters(session: Session, user: User) -> list[ColumnElement[bool]]:
    """The features' work rules as conditions on `open_task`: a list keeps a task only if all hold."""
    _load_features()
    return [clause for make in _work_filters if (clause := make(session, user)) is not None]


def _load_features() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            found = sorted(entry_points(group=FEATURE_GROUP), key=lambda e: e.name)
            if not found:  # an install older than the entry points: letters, register, e-mail would be lost
                raise DhrError(f"no features are installed (entry points '{FEATURE_GROUP}'); "
                               "run 'make setup' (pip install -e .) again")
            for entry in found:
                entry.load()()
            _loaded = True


def publish(event: Event) -> None:
    """Hand `event` to its listeners, in the order they subscribed."""
    _load_features()
    for listener in _listeners.get(type(event), []):
        listener(event)


def projected() -> tuple[str, ...]:
    """The case variables features asked to have in the case's facts."""
    _load_features()
    return tuple(_projected)


def work_refusal(session: Session, user: User, task: OpenTask) -> str | None:
    """The first reason a feature's rule gives for refusing `user` work on `task`, if any."""
    _load_features()
    for rule in _work_rules:
        reason = rule(session, user, task)
        if reason is not None:
            return reason
    return None
