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
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, literal, select, union_all
from sqlalchemy import case as when_then
from sqlalchemy.orm import Session

from ..bpmn import confidential, runtime, task_context, worklist
from ..bpmn.worklist import TaskRow, TimerRow
from ..platform import access, deadlines, documents
from ..platform.calendar import long_date, parse_day
from ..platform.deadlines import Due
from ..platform.errors import NotFound
from ..platform.models import AuditEvent, Case, CaseView, OpenTask, ProcessVersion, Timer, User
from ..platform.paging import AnySelect, Page, Paging, fetch, within
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
    query = _cases(session, viewer, now, status=status, overdue_only=overdue_only, oldest_first=oldest_first)
    return _case_rows(session, list(session.execute(query)), now)


def case_list_page(session: Session, viewer: User | None, now: datetime, paging: Paging, *,
                   status: str | None = None, overdue_only: bool = False) -> Page[CaseRow]:
    """One page of `case_list`."""
    page = fetch(session, _cases(session, viewer, now, status=status, overdue_only=overdue_only), paging)
    return Page(_case_rows(session, page.items, now), page.number, page.size, page.total)


def _cases(session: Session, viewer: User | None, now: datetime, *, status: str | None, overdue_only: bool,
           oldest_first: bool = False) -> AnySelect:
    query = select(Case.id, Case.reference, Case.status, Case.stage, Case.version_id, Case.started_at,
                   Case.stalled_at, Case.deadline_on)
    visible = access.visible_case_ids(session, viewer)
    if visible is not None:
        query = query.where(Case.id.in_(visible))
    if status in ("open", "completed"):
        query = query.where(Case.status == status)
    if overdue_only:  # one of its open tasks is overdue (`deadlines`: due before today, in London)
        query = query.where(select(OpenTask.id).where(OpenTask.case_id == Case.id,
                                                      OpenTask.due_at < deadlines.overdue_before(now)).exists())
    order = (Case.started_at, Case.id) if oldest_first else (Case.started_at.desc(), Case.id.desc())
    return query.order_by(*order)


def _case_rows(session: Session, cases: list[Any], now: datetime) -> list[CaseRow]:
    """The rows of `cases` (as `_cases` selects them), with their open tasks and timers: two queries."""
    ids = [c.id for c in cases]
    tasks: dict[int, list[Due | None]] = {}
    titles: dict[int, list[str]] = {}
    for case_id, title, due_at in session.execute(
            select(OpenTask.case_id, OpenTask.title, OpenTask.due_at).where(OpenTask.case_id.in_(ids))
            .order_by(OpenTask.due_at.is_(None), OpenTask.due_at, OpenTask.created_at, OpenTask.id)):
        tasks.setdefault(case_id, []).append(deadlines.due(due_at, now))
        titles.setdefault(case_id, []).append(title)
    timers = {case_id: (soonest, stuck) for case_id, soonest, stuck in session.execute(
        select(Timer.case_id, func.min(Timer.due_at), func.sum(when_then((Timer.status == "stuck", 1), else_=0)))
        .where(Timer.case_id.in_(ids)).group_by(Timer.case_id))}
    return [CaseRow(id=c.id, reference=c.reference, status=c.status, stage=c.stage, version_id=c.version_id,
                    started_at=c.started_at, stalled_at=c.stalled_at, tasks=tuple(titles.get(c.id, [])),
                    overdue=any(d is not None and d.overdue for d in tasks.get(c.id, [])),
                    next_timer=_utc(timers[c.id][0]) if c.id in timers else None,
                    stuck_timers=int(timers[c.id][1] or 0) if c.id in timers else 0,
                    report_due=deadlines.due(c.deadline_on, now))
            for c in cases]


def _utc(value: datetime | str | None) -> datetime | None:
    """An aggregate over a UTC column (min, max), which comes back without the column's type."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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
    content_hash = session.scalar(select(ProcessVersion.content_hash).where(ProcessVersion.id == case.version_id))
    names = version_stages(session, case.version_id, case.process_id, content_hash or "")
    if case.status == "completed":
        return [StageRow(name, "done") for name in names]
    current = names.index(case.stage) if case.stage in names else -1
    return [StageRow(name, "done" if i < current else "current" if i == current else "to come")
            for i, name in enumerate(names)]


_stages: dict[tuple[str, str], tuple[str, ...]] = {}  # by (content hash, process id): versions never change


def version_stages(session: Session, version_id: int, process_id: str, content_hash: str) -> tuple[str, ...]:
    """The stages process `process_id` of a version calls, in order: worked out once per version and
    process (the diagrams of a content hash never change), not once per case or per request."""
    key = (content_hash, process_id)
    if key not in _stages:
        _stages[key] = tuple(runtime.bundle_for(session, version_id).stages(process_id))
    return _stages[key]


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
    key: str = ""  # its id, which orders items of one kind due at one moment (as the queries do)


_KINDS = ("Task", "Timer", "Recommendation")


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
    deadlines: Page[DeadlineRow]  # the soonest deadline first, those without one last
    due: Page[DueItem]  # within DASHBOARD_DAYS London days, overdue ones too; the soonest first
    stalled: list[StalledCase]


def dashboard(session: Session, viewer: User | None, now: datetime, *, deadlines_page: Paging | None = None,
              due_page: Paging | None = None) -> Dashboard:
    """The open cases `viewer` may see: by stage, time in each stage, each one's deadline (a page of
    them), what falls due within 30 London days, overdue included (a page of it), and the stalled ones.
    A fixed number of queries, however many cases there are."""
    open_cases = Case.status == "open"
    visible = access.visible_case_ids(session, viewer)
    if visible is not None:
        open_cases = open_cases & Case.id.in_(visible)
    # the open cases by stage and by diagram version in one pass: the counts, the stages' order, and
    # how many deadlines there are to page through
    counts: Counter[str] = Counter()
    versions: set[tuple[int, str, str]] = set()
    for stage, version_id, process_id, content_hash, n in session.execute(
            select(Case.stage, Case.version_id, Case.process_id, ProcessVersion.content_hash, func.count())
            .join(ProcessVersion, ProcessVersion.id == Case.version_id).where(open_cases)
            .group_by(Case.stage, Case.version_id, Case.process_id, ProcessVersion.content_hash)):
        counts[stage or NO_STAGE] += n
        versions.add((version_id, process_id, content_hash))
    order = _stage_order(session, versions)
    open_count = sum(counts.values())
    paging = within(deadlines_page or Paging(), open_count)
    deadline_rows = session.execute(
        select(Case.id, Case.reference, Case.stage, Case.deadline_on).where(open_cases)
        .order_by(Case.deadline_on.asc().nulls_last(), Case.started_at, Case.id)
        .limit(paging.size).offset(paging.offset)).all()
    stalled = session.execute(select(Case.id, Case.reference, Case.stalled_at)
                              .where(open_cases, Case.stalled_at.is_not(None)).order_by(Case.stalled_at, Case.id))
    return Dashboard(
        today=deadlines.today(now),
        open_count=open_count,
        by_stage=[(stage, counts[stage]) for stage in [*order, *sorted(set(counts) - set(order))] if stage in counts],
        stage_times=reporting.stage_times(session, now, order),
        deadlines=Page([DeadlineRow(c.id, c.reference, c.stage, deadlines.due(c.deadline_on, now))
                        for c in deadline_rows], paging.number, paging.size, open_count),
        due=_due_items(session, open_cases, now, due_page or Paging()),
        stalled=[StalledCase(c.id, c.reference, c.stalled_at) for c in stalled],
    )


def _stage_order(session: Session, versions: set[tuple[int, str, str]]) -> list[str]:
    """The stages in the order the diagram `versions` (id, process, content hash) call them, the
    newest version's order first."""
    order: list[str] = []
    for version_id, process_id, content_hash in sorted(versions, key=lambda v: -v[0]):
        order.extend(s for s in version_stages(session, version_id, process_id, content_hash) if s not in order)
    return order


def _due_items(session: Session, cases: ColumnElement[bool], now: datetime, paging: Paging) -> Page[DueItem]:
    """One page of the tasks, timers and recommendation target dates of `cases` due within
    DASHBOARD_DAYS London days, overdue ones too, the soonest first.

    Each kind is asked, in that order, for no more rows than the pages up to this one hold, and the
    three are merged: four queries whatever the number of cases, and page 1 reads at most 3 × its size.
    """
    before = deadlines.due_within_before(now, DASHBOARD_DAYS)
    last_day = deadlines.today(now) + timedelta(days=DASHBOARD_DAYS)
    tasks = (select(OpenTask, Case.reference).join(Case, Case.id == OpenTask.case_id)
             .where(cases, OpenTask.due_at < before).order_by(OpenTask.due_at, OpenTask.id))
    timers = (select(Timer, Case.reference).join(Case, Case.id == Timer.case_id)
              .where(cases, Timer.due_at < before,  # a boundary timer of an open task is shown as its due date
                     # (most timers are attached to no task: PostgreSQL then never hashes every open task)
                     Timer.attached_to.is_(None)
                     | ~select(OpenTask.id).where(OpenTask.id == Timer.attached_to).exists())
              .order_by(Timer.due_at, Timer.id))
    recommendations = (select(Recommendation, Case.reference).join(Case, Case.id == Recommendation.case_id)
                       .options(WITHOUT_STATE)
                       .where(cases, Recommendation.status.in_(OPEN), Recommendation.target_date.is_not(None),
                              Recommendation.target_date <= last_day)
                       .order_by(Recommendation.target_date, Recommendation.id))
    total = session.scalar(select(sum((select(func.count()).select_from(kind.order_by(None).subquery())
                                       .scalar_subquery() for kind in (tasks, timers, recommendations)),
                                      literal(0)))) or 0  # the three counted in one round trip
    paging = within(paging, total)
    items: list[DueItem] = []
    for task, reference in session.execute(tasks.limit(paging.end)):
        task_due = deadlines.of_task(task, now)
        assert task_due is not None  # it has a due time: the query asks for one
        items.append(DueItem("Task", task.title, task.case_id, reference, task_due, task.lane or "", task_id=task.id,
                             key=task.id))
    for timer, reference in session.execute(timers.limit(paging.end)):
        items.append(DueItem("Timer", timer.title, timer.case_id, reference, deadlines.of_timer(timer, now),
                             key=timer.id))
    for rec, reference in session.execute(recommendations.limit(paging.end)).unique():
        rec_due = rec.due(now)
        assert rec_due is not None  # owed and with a target date: the query asks for both
        items.append(DueItem("Recommendation", f"R{rec.number}: {rec.smart_action}", rec.case_id, reference,
                             rec_due, rec.lead_agency, recommendation_id=rec.id, key=f"{rec.id:020d}"))
    # each kind's own order (as its query sorts it), then tasks, timers, recommendations at one moment
    items.sort(key=lambda i: (i.due.on, i.due.at is None, i.due.at or now, _KINDS.index(i.kind), i.key))
    return Page(items[paging.offset:paging.end], paging.number, paging.size, total)


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


def register_page(session: Session, viewer: User | None, filters: Filters, now: datetime,
                  paging: Paging) -> Page[Recommendation]:
    """One page of `register_entries`."""
    return register.find_page(session, filters, paging, today=deadlines.today(now),
                              case_ids=access.visible_case_ids(session, viewer))


# ---------------------------------------------------------------------------------------------
# A case's history


VIEWED = CaseView.event_type


def history(session: Session, case_id: int, paging: Paging, *,
            kind: str = "") -> Page[AuditEvent | CaseView]:
    """One page of a case's history, oldest first: its audit events and the reads of its pages
    (the view log), merged in time order by the database; `kind` keeps one event type."""
    events = select(AuditEvent.at.label("at"), literal(0).label("log"), AuditEvent.id.label("id")).where(
        AuditEvent.case_id == case_id)
    views = select(CaseView.at.label("at"), literal(1).label("log"), CaseView.id.label("id")).where(
        CaseView.case_id == case_id)
    if kind:
        events = events.where(AuditEvent.event_type == kind)
    parts = [events, views] if kind in ("", VIEWED) else [events]
    merged = union_all(*parts).subquery()
    page = fetch(session, select(merged.c.log, merged.c.id).order_by(merged.c.at, merged.c.log, merged.c.id), paging)
    found: dict[tuple[int, int], AuditEvent | CaseView] = {}
    if event_ids := [row.id for row in page if row.log == 0]:
        found.update({(0, e.id): e for e in session.scalars(select(AuditEvent).where(AuditEvent.id.in_(event_ids)))})
    if view_ids := [row.id for row in page if row.log == 1]:
        found.update({(1, v.id): v for v in session.scalars(select(CaseView).where(CaseView.id.in_(view_ids)))})
    return Page([found[(row.log, row.id)] for row in page], page.number, page.size, page.total)


def history_kinds(session: Session, case_id: int) -> set[str]:
    """The kinds of event a case's history holds (for its filter)."""
    kinds = set(session.scalars(select(AuditEvent.event_type).where(AuditEvent.case_id == case_id).distinct()))
    if session.scalar(select(CaseView.id).where(CaseView.case_id == case_id).limit(1)) is not None:
        kinds.add(VIEWED)
    return kinds


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
