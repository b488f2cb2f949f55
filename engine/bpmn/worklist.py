"""The work the cases wait on, as lists: open tasks (the inbox, `dhr tasks list`) and waiting timers
(`dhr timers list`, a case's page).

Read from the projections the runtime writes in each unit of work (`open_task`, `timer`), never
from a deserialized instance. It sits with the BPMN runtime because nothing in it is about DHRs:
lanes are roles (`runtime.work_refusal`) and tasks and timers are the runtime's. Every function
takes the viewer and shows only the cases they may see (`access.visible_case_ids`), so no door can
forget to filter; the viewer None is the operator at the command line, who sees every case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..platform import deadlines, events
from ..platform.access import visible_case_ids
from ..platform.deadlines import Due
from ..platform.models import Case, OpenTask, Timer, User

WEEK = 7  # "due in the next 7 days": today and the six days after it, overdue ones too


@dataclass(frozen=True)
class TaskRow:
    """An open user task as lists show it."""

    id: str
    case_id: int
    case_reference: str
    case_stage: str | None
    bpmn_id: str
    title: str
    lane: str | None
    stage: str | None  # the process (stage) the task belongs to
    form: str | None
    created_at: datetime
    claimed_by: str | None
    due: Due | None

    @property
    def due_at(self) -> datetime | None:
        return self.due.at if self.due else None

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due.overdue


@dataclass(frozen=True)
class TimerRow:
    """A timer a case waits on, as lists show it."""

    id: str
    case_id: int
    case_reference: str
    bpmn_id: str
    title: str
    attached_to: str | None  # the open task it is a boundary timer of
    status: str  # waiting | stuck
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    due: Due

    @property
    def due_at(self) -> datetime:
        assert self.due.at is not None
        return self.due.at


@dataclass(frozen=True)
class CaseChoice:
    id: int
    reference: str


@dataclass(frozen=True)
class Inbox:
    rows: list[TaskRow]  # soonest due first, those without a due date last
    cases: list[CaseChoice]  # the cases the user has tasks on (before any filter), for the filter


def _keep(rows: list[TaskRow], case_id: int | None, due: str) -> list[TaskRow]:
    """The rows of one case (if given) and with the due date asked for; soonest due first, undated
    ones last (oldest first)."""
    if case_id is not None:
        rows = [r for r in rows if r.case_id == case_id]
    if due == "overdue":
        rows = [r for r in rows if r.overdue]
    elif due == "week":
        rows = [r for r in rows if r.due is not None and r.due.days < WEEK]
    return sorted(rows, key=lambda r: (r.due_at is None, r.due_at or r.created_at, r.created_at, r.case_reference,
                                       r.id))


def open_tasks(session: Session, viewer: User | None, now: datetime, *, case_id: int | None = None,
               lane: str | None = None, due: str = "") -> list[TaskRow]:
    """The open tasks on the cases `viewer` may see, soonest due first.

    `lane` keeps one lane's (any capitalisation); `due` "overdue" keeps the overdue ones, "week"
    those due within seven London days (overdue ones too).
    """
    query = select(OpenTask, Case.reference, Case.stage).join(Case, Case.id == OpenTask.case_id)
    visible = visible_case_ids(session, viewer)
    if visible is not None:
        query = query.where(OpenTask.case_id.in_(visible))
    if case_id is not None:
        query = query.where(OpenTask.case_id == case_id)
    if lane is not None:
        query = query.where(func.lower(OpenTask.lane) == lane.lower())
    rows = [TaskRow(id=t.id, case_id=t.case_id, case_reference=reference, case_stage=stage, bpmn_id=t.bpmn_id,
                    title=t.title, lane=t.lane, stage=t.process_name, form=t.form, created_at=t.created_at,
                    claimed_by=t.claimed_by, due=deadlines.of_task(t, now))
            for t, reference, stage in session.execute(query)]
    return _keep(rows, None, due)


def inbox(session: Session, user: User, now: datetime, *, case_id: int | None = None, due: str = "") -> Inbox:
    """The tasks in `user`'s role (lanes are roles) on the cases they may see, filtered by case and
    due date; with the cases they have tasks on, for the filter."""
    # a feature's rule may keep a task of the lane from this user (another agency's update, say)
    everything = [row for row in open_tasks(session, user, now, lane=user.role)
                  if events.work_refusal(session, user, session.get(OpenTask, row.id)) is None]  # type: ignore[arg-type]
    cases = sorted({r.case_id: CaseChoice(r.case_id, r.case_reference) for r in everything}.values(),
                   key=lambda c: c.reference)
    return Inbox(_keep(everything, case_id, due), cases)


def waiting_timers(session: Session, viewer: User | None, now: datetime, *,
                   case_id: int | None = None) -> list[TimerRow]:
    """The timers the cases `viewer` may see wait on (stuck ones too), the soonest first."""
    query = select(Timer, Case.reference).join(Case, Case.id == Timer.case_id).order_by(Timer.due_at, Timer.id)
    visible = visible_case_ids(session, viewer)
    if visible is not None:
        query = query.where(Timer.case_id.in_(visible))
    if case_id is not None:
        query = query.where(Timer.case_id == case_id)
    return [TimerRow(id=t.id, case_id=t.case_id, case_reference=reference, bpmn_id=t.bpmn_id, title=t.title,
                     attached_to=t.attached_to, status=t.status, attempts=t.attempts,
                     next_attempt_at=t.next_attempt_at, last_error=t.last_error,
                     due=deadlines.of_timer(t, now))
            for t, reference in session.execute(query)]


def current_steps(session: Session, case_id: int) -> list[str]:
    """The diagram ids of the steps a case is at now: its open tasks and waiting timers."""
    tasks = session.scalars(select(OpenTask.bpmn_id).where(OpenTask.case_id == case_id))
    timers = session.scalars(select(Timer.bpmn_id).where(Timer.case_id == case_id))
    return [*tasks, *timers]
