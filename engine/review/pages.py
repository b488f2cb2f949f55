"""What the case list, a case's page, the dashboard and the register show, read for one person.

The web views and the `dhr` listings call these and only present the result. Each function takes
the viewer and keeps to the cases they may see (`access.visible_case_ids`, `access.may_see_case`),
so no door can forget the rule; the viewer None is the operator at the command line, who sees
every case. Everything is read from the projections a unit of work writes (open tasks, timers, the
case's stage, deadline and facts), never from a deserialized instance, and every due date and
"overdue" comes from `platform.deadlines`. The inbox and the timer lists are `bpmn.worklist`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..bpmn import confidential, runtime, task_context, worklist
from ..bpmn.worklist import TaskRow, TimerRow
from ..platform import access, deadlines, documents
from ..platform.calendar import long_date, parse_day
from ..platform.deadlines import Due
from ..platform.errors import NotFound
from ..platform.models import AuditEvent, Case, OpenTask, Timer, User
from . import register, reporting
from .costs import CaseCost, costs_for_case
from .letters import Letter, letters_for
from .register import OPEN, WITHDRAWN, WITHOUT_STATE, Filters, Recommendation, RecommendationEvent

# Case data worth seeing at a glance (never the victim's identifiers), from the case's facts.
KEY_DATA = [
    ("review_type", "Decision"), ("decision_due_date", "Decision due"), ("decision_date", "Decided on"),
    ("clock_start_date", "Six-month clock started"),  # the report's due date is the case's deadline row
    ("publication_date", "Publication date"), ("published_on", "Published on"),
]
DASHBOARD_DAYS = 30  # the dashboard lists what falls due within this many London days (and the overdue)
RECENT_EVENTS = 8
NO_STAGE = "No stage"


@dataclass(frozen=True)
class Person:
    """A user as a page lists them."""

    id: int
    username: str
    role: str
    agency: str | None

    @classmethod
    def of(cls, user: User) -> Person:
        return cls(user.id, user.username, user.role, user.agency)


# ---------------------------------------------------------------------------------------------
# The case list (web /cases, `dhr cases list`)


@dataclass(frozen=True)
class CaseRow:
    """A case as the case list shows it."""

    id: int
    reference: str
    status: str  # open | completed
    stage: str | None
    version_id: int
    started_at: datetime
    stalled_at: datetime | None
    tasks: tuple[str, ...]  # the titles of its open tasks, soonest due first
    overdue: bool  # one of its open tasks is overdue
    next_timer: datetime | None  # the soonest of its timers
    stuck_timers: int
    report_due: Due | None  # its deadline (the six-month completion date), while one runs

    @property
    def stalled(self) -> bool:
        return self.stalled_at is not None and self.status == "open"


def case_list(session: Session, viewer: User | None, now: datetime, *, status: str | None = None,
              overdue_only: bool = False, oldest_first: bool = False) -> list[CaseRow]:
    """The cases `viewer` may see (`status` "open" or "completed" keeps those), newest first; with
    `overdue_only`, only those with an overdue task."""
    query = select(Case.id, Case.reference, Case.status, Case.stage, Case.version_id, Case.started_at,
                   Case.stalled_at, Case.deadline_on)
    visible = access.visible_case_ids(session, viewer)
    if visible is not None:
        query = query.where(Case.id.in_(visible))
    if status in ("open", "completed"):
        query = query.where(Case.status == status)
    order = (Case.started_at, Case.id) if oldest_first else (Case.started_at.desc(), Case.id.desc())
    cases = session.execute(query.order_by(*order)).all()
    ids = [c.id for c in cases]
    tasks: dict[int, list[Due | None]] = {}
    titles: dict[int, list[str]] = {}
    for case_id, title, due_at in session.execute(
            select(OpenTask.case_id, OpenTask.title, OpenTask.due_at).where(OpenTask.case_id.in_(ids))
            .order_by(OpenTask.due_at.is_(None), OpenTask.due_at, OpenTask.created_at, OpenTask.id)):
        tasks.setdefault(case_id, []).append(deadlines.due(due_at, now))
        titles.setdefault(case_id, []).append(title)
    next_timer: dict[int, datetime] = {}
    stuck: Counter[int] = Counter()
    for case_id, due_at, timer_status in session.execute(
            select(Timer.case_id, Timer.due_at, Timer.status).where(Timer.case_id.in_(ids))):
        if case_id not in next_timer or due_at < next_timer[case_id]:
            next_timer[case_id] = due_at
        stuck[case_id] += timer_status == "stuck"
    rows = [CaseRow(id=c.id, reference=c.reference, status=c.status, stage=c.stage, version_id=c.version_id,
                    started_at=c.started_at, stalled_at=c.stalled_at, tasks=tuple(titles.get(c.id, [])),
                    overdue=any(d is not None and d.overdue for d in tasks.get(c.id, [])),
                    next_timer=next_timer.get(c.id), stuck_timers=stuck[c.id],
                    report_due=deadlines.due(c.deadline_on, now))
            for c in cases]
    return [r for r in rows if r.overdue] if overdue_only else rows


# ---------------------------------------------------------------------------------------------
# A case's page


@dataclass(frozen=True)
class CaseTask:
    """An open task on the case page, with who can pick it up."""

    task: TaskRow
    holders: list[Person]

    @property
    def overdue(self) -> bool:
        return self.task.overdue


@dataclass(frozen=True)
class StageRow:
    name: str
    state: str  # done | current | to come


@dataclass
class CasePage:
    """Everything a case's page lists (its uploaded documents aside)."""

    report_due: Due | None
    stages: list[StageRow]
    key_data: list[tuple[str, Any]]
    tasks: list[CaseTask]
    timers: list[TimerRow]
    members: list[Person]
    candidates: list[Person]  # who could be added as a member (asked for only by those who may add)
    letters: list[Letter]
    costs: list[CaseCost]
    recommendation_count: int
    recent: list[AuditEvent]  # the newest events, newest first

    @property
    def task_titles(self) -> dict[str, str]:
        return {t.task.id: t.task.title for t in self.tasks}


def case_page(session: Session, viewer: User | None, case: Case, now: datetime, *,
              with_candidates: bool = False) -> CasePage:
    """What `viewer` sees on `case`'s page.

    Raises:
        NotFound: the viewer may not see the case (so its existence is not revealed either).
    """
    if viewer is not None and not access.may_see_case(session, viewer, case.id):
        raise NotFound(f"there is no case {case.id}")
    tasks = worklist.open_tasks(session, viewer, now, case_id=case.id)
    members = [Person.of(u) for u in access.members(session, case.id)]
    return CasePage(
        report_due=deadlines.of_case(case, now),
        stages=stages(session, case),
        key_data=key_data(case),
        tasks=[CaseTask(t, [Person.of(u) for u in access.users_for_lane(session, case.id, t.lane)]) for t in tasks],
        timers=worklist.waiting_timers(session, viewer, now, case_id=case.id),
        members=members,
        candidates=[Person.of(u) for u in access.member_candidates(session, case.id)] if with_candidates else [],
        letters=letters_for(session, case.id),
        costs=costs_for_case(session, case.id),
        recommendation_count=session.scalar(select(func.count()).select_from(Recommendation).where(
            Recommendation.case_id == case.id, Recommendation.status != WITHDRAWN)) or 0,
        recent=list(session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                    .order_by(AuditEvent.id.desc()).limit(RECENT_EVENTS))),
    )


def key_data(case: Case) -> list[tuple[str, Any]]:
    """The case's key dates and decision, as the last unit of work projected them (`case.facts`)."""
    facts = case.facts or {}
    return [(label, as_date(facts[key])) for key, label in KEY_DATA if facts.get(key) not in (None, "")]


def as_date(value: Any) -> Any:
    """An ISO date as people read it ('11 June 2026'); anything else as it is."""
    day = parse_day(value) if isinstance(value, str) and len(value) == 10 else None
    return long_date(day) if day else value


def stages(session: Session, case: Case) -> list[StageRow]:
    """The case's stages (the processes its diagram calls), the current one and those behind it."""
    names = runtime.bundle_for(session, case.version_id).stages(case.process_id)
    if case.status == "completed":
        return [StageRow(name, "done") for name in names]
    current = names.index(case.stage) if case.stage in names else -1
    return [StageRow(name, "done" if i < current else "current" if i == current else "to come")
            for i, name in enumerate(names)]


# ---------------------------------------------------------------------------------------------
# The dashboard


@dataclass(frozen=True)
class DueItem:
    """Something that falls due soon (or is overdue): a task, a timer or a recommendation's target."""

    kind: str  # Task, Timer, Recommendation
    title: str
    case_id: int
    case_reference: str
    due: Due
    detail: str = ""  # the task's lane, the recommendation's lead agency
    task_id: str | None = None
    recommendation_id: int | None = None


@dataclass(frozen=True)
class DeadlineRow:
    """An open case and its deadline (None: none running, e.g. a review on hold)."""

    case_id: int
    reference: str
    stage: str | None
    report_due: Due | None


@dataclass(frozen=True)
class StalledCase:
    id: int
    reference: str
    stalled_at: datetime


@dataclass
class Dashboard:
    today: date
    open_count: int
    by_stage: list[tuple[str, int]]
    stage_times: list[reporting.StageTime]
    deadlines: list[DeadlineRow]  # the soonest deadline first, those without one last
    due: list[DueItem]  # within DASHBOARD_DAYS London days, overdue ones too; the soonest first
    stalled: list[StalledCase]


def dashboard(session: Session, viewer: User | None, now: datetime) -> Dashboard:
    """The open cases `viewer` may see: by stage, time in each stage, each one's deadline, what falls
    due within 30 London days (overdue included), and the stalled ones."""
    query = (select(Case.id, Case.reference, Case.stage, Case.process_id, Case.version_id, Case.deadline_on,
                    Case.stalled_at).where(Case.status == "open")
             .order_by(Case.deadline_on.is_(None), Case.deadline_on, Case.started_at))
    visible = access.visible_case_ids(session, viewer)
    if visible is not None:
        query = query.where(Case.id.in_(visible))
    cases = session.execute(query).all()
    order = _stage_order(session, [(c.version_id, c.process_id) for c in cases])
    counts = Counter(c.stage or NO_STAGE for c in cases)
    return Dashboard(
        today=deadlines.today(now),
        open_count=len(cases),
        by_stage=[(stage, counts[stage]) for stage in [*order, *sorted(set(counts) - set(order))] if stage in counts],
        stage_times=reporting.stage_times(session, now, order),
        deadlines=[DeadlineRow(c.id, c.reference, c.stage, deadlines.due(c.deadline_on, now)) for c in cases],
        due=_due_items(session, {c.id: c.reference for c in cases}, now),
        stalled=[StalledCase(c.id, c.reference, c.stalled_at) for c in cases if c.stalled_at is not None],
    )


def _stage_order(session: Session, versions: list[tuple[int, str]]) -> list[str]:
    """The stages in the order the deployed diagrams call them (the newest version's order first)."""
    order: list[str] = []
    for version_id, process_id in sorted(set(versions), key=lambda v: -v[0]):
        for stage in runtime.bundle_for(session, version_id).stages(process_id):
            if stage not in order:
                order.append(stage)
    return order


def _due_items(session: Session, cases: dict[int, str], now: datetime) -> list[DueItem]:
    """Tasks, timers and recommendation target dates of `cases` due within DASHBOARD_DAYS, overdue ones too."""
    ids = list(cases)
    before = deadlines.due_within_before(now, DASHBOARD_DAYS)
    items: list[DueItem] = []
    attached: set[str] = set()
    for task in session.scalars(select(OpenTask).where(OpenTask.case_id.in_(ids))):
        attached.add(task.id)
        task_due = deadlines.of_task(task, now)
        if task_due is not None and task.due_at is not None and task.due_at < before:
            items.append(DueItem("Task", task.title, task.case_id, cases[task.case_id], task_due, task.lane or "",
                                 task_id=task.id))
    for timer in session.scalars(select(Timer).where(Timer.case_id.in_(ids), Timer.due_at < before)):
        if timer.attached_to in attached:
            continue  # shown as its task's due date
        items.append(DueItem("Timer", timer.title, timer.case_id, cases[timer.case_id],
                             deadlines.of_timer(timer, now)))
    last_day = deadlines.today(now) + timedelta(days=DASHBOARD_DAYS)
    for rec in session.scalars(select(Recommendation).options(WITHOUT_STATE).where(
            Recommendation.case_id.in_(ids), Recommendation.status.in_(OPEN),
            Recommendation.target_date.is_not(None), Recommendation.target_date <= last_day)):
        rec_due = rec.due(now)
        if rec_due is not None:
            items.append(DueItem("Recommendation", f"R{rec.number}: {rec.smart_action}", rec.case_id,
                                 cases[rec.case_id], rec_due, rec.lead_agency, recommendation_id=rec.id))
    return sorted(items, key=lambda i: (i.due.on, i.case_reference, i.title))


# ---------------------------------------------------------------------------------------------
# The register (web /register, `dhr register list`)


def register_entries(session: Session, viewer: User | None, filters: Filters, now: datetime) -> list[Recommendation]:
    """The register's entries matching `filters` on the cases `viewer` may see, oldest case first
    ("overdue" as `deadlines` counts it, on London days)."""
    return register.find(session, filters, today=deadlines.today(now),
                         case_ids=access.visible_case_ids(session, viewer))


def register_agencies(session: Session, viewer: User | None) -> list[str]:
    """The lead agencies named by the recommendations of the cases `viewer` may see."""
    return register.lead_agencies(session, access.visible_case_ids(session, viewer))


# ---------------------------------------------------------------------------------------------
# A task's page: what the person doing it should see besides the form


@dataclass(frozen=True)
class AskedAbout:
    """The recommendation an action holder's update task asks about, with its last update."""

    recommendation: Recommendation
    last_update: RecommendationEvent | None

    @property
    def target(self) -> str:
        return long_date(self.recommendation.target_date) if self.recommendation.target_date else "None set"


@dataclass
class TaskPage:
    context: task_context.TaskContext
    asked_about: AskedAbout | None


def task_page(session: Session, viewer: User | None, task: OpenTask, now: datetime) -> TaskPage:
    """The context `viewer` sees on `task`'s page: what its diagram's `taskContext` names (never a
    confidential value) and, for an action holder's update, the recommendation from the register.

    Raises:
        NotFound: the viewer may not see the task's case.
    """
    if viewer is not None and not access.may_see_case(session, viewer, task.case_id):
        raise NotFound(f"there is no task {task.id}")
    case = session.get(Case, task.case_id)
    assert case is not None
    workflow = runtime.load_workflow(case, session)
    runtime.WORKFLOWS.put(case.id, case.state, workflow)  # only read: keep it for the next writer
    spiff_task = workflow.get_task_from_id(UUID(task.id))
    context = task_context.TaskContext()
    if spiff_task is not None:
        bundle = runtime.bundle_for(session, case.version_id)
        context = task_context.context_of(spiff_task, bundle, confidential.deployed(session), now)
    rec = register.asked_by(session, task)
    asked = None
    if rec is not None:
        updates = [e for e in rec.events if e.kind == "update"]
        asked = AskedAbout(rec, updates[-1] if updates else None)
    return TaskPage(context, asked)


# ---------------------------------------------------------------------------------------------
# A case's history and documents, in the words of its forms


def field_labels(session: Session, case: Case) -> dict[str, str]:
    """The labels of the fields of the case's forms (name -> label), for its history."""
    return task_context.field_labels(runtime.bundle_for(session, case.version_id))


@dataclass(frozen=True)
class CaseDocument:
    document: documents.Document
    label: str  # the form field it was uploaded into, in the form's words


def case_documents(session: Session, case: Case) -> list[CaseDocument]:
    """The case's uploaded documents, each with the label of the field it was uploaded into."""
    bundle = runtime.bundle_for(session, case.version_id)
    return [CaseDocument(d, task_context.field_label(bundle, d.field) if d.field else "")
            for d in documents.for_case(session, case.id)]
