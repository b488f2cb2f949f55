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

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..platform import deadlines, events
from ..platform.access import visible_case_ids
from ..platform.deadlines import Due
from ..platform.models import Case, OpenTask, Timer, User
from ..platform.paging import Page, Paging, fetch

WEEK = 7  # "due in the next 7 days": today and the six days after it, overdue ones too
CASE_CHOICES = 50  # the inbox offers its cases as a list up to this many; beyond, a case is typed


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
    rows: Page[TaskRow]  # soonest due first, those without a due date last
    # the cases the user has tasks on (before any filter), for the filter; None: more than CASE_CHOICES
    cases: list[CaseChoice] | None


def _tasks(session: Session, viewer: User | None, now: datetime, *, case_id: int | None = None,
           lane: str | None = None, due: str = "", reference: str = "") -> Select[OpenTask, str, str | None]:
    """The open tasks on the cases `viewer` may see, with their case's reference and stage, soonest
    due first, undated ones last (oldest first); filtered as `open_tasks` says. The order is the
    inbox index's (a lane, then due time), so a page is read without sorting every task of the lane."""
    query = (select(OpenTask, Case.reference, Case.stage).join(Case, Case.id == OpenTask.case_id)
             .order_by(OpenTask.due_at.asc().nulls_last(), OpenTask.created_at, OpenTask.id))
    visible = visible_case_ids(session, viewer)
    if visible is not None:
        query = query.where(OpenTask.case_id.in_(visible))
    if case_id is not None:
        query = query.where(OpenTask.case_id == case_id)
    if reference:
        query = query.where(func.lower(Case.reference) == reference.strip().lower())
    if lane is not None:
        query = query.where(func.lower(OpenTask.lane) == lane.lower())
    if due == "overdue":
        query = query.where(OpenTask.due_at < deadlines.overdue_before(now))
    elif due == "week":  # due within WEEK London days, today included, or overdue
        query = query.where(OpenTask.due_at < deadlines.due_within_before(now, WEEK - 1))
    return query


def _row(task: OpenTask, reference: str, stage: str | None, now: datetime) -> TaskRow:
    return TaskRow(id=task.id, case_id=task.case_id, case_reference=reference, case_stage=stage,
                   bpmn_id=task.bpmn_id, title=task.title, lane=task.lane, stage=task.process_name, form=task.form,
                   created_at=task.created_at, claimed_by=task.claimed_by, due=deadlines.of_task(task, now))


def open_tasks(session: Session, viewer: User | None, now: datetime, *, case_id: int | None = None,
               lane: str | None = None, due: str = "") -> list[TaskRow]:
    """The open tasks on the cases `viewer` may see, soonest due first.

    `lane` keeps one lane's (any capitalisation); `due` "overdue" keeps the overdue ones, "week"
    those due within seven London days (overdue ones too).
    """
    query = _tasks(session, viewer, now, case_id=case_id, lane=lane, due=due)
    return [_row(task, reference, stage, now) for task, reference, stage in session.execute(query)]


def inbox(session: Session, user: User, now: datetime, *, case_id: int | None = None, reference: str = "",
          due: str = "", paging: Paging | None = None) -> Inbox:
    """One page of the tasks in `user`'s role (lanes are roles) on the cases they may see, filtered by
    case (its id, or its reference in any capitalisation) and due date; with the cases they have tasks
    on, for the filter, while there are no more than CASE_CHOICES of them."""
    # a feature's rule may keep a task of the lane from this user (another agency's update, say)
    rules = events.work_filters(session, user)
    mine = _tasks(session, user, now, lane=user.role).where(*rules)
    choices = list(session.execute(mine.with_only_columns(Case.id, Case.reference).order_by(None)
                                   .group_by(Case.id, Case.reference).order_by(Case.reference)
                                   .limit(CASE_CHOICES + 1)))
    page = fetch(session, _tasks(session, user, now, case_id=case_id, reference=reference, lane=user.role, due=due)
                 .where(*rules), paging or Paging())
    rows = [_row(task, ref, stage, now) for task, ref, stage in page.items]
    cases = [CaseChoice(i, ref) for i, ref in choices] if len(choices) <= CASE_CHOICES else None
    return Inbox(Page(rows, page.number, page.size, page.total), cases)


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
