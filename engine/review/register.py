"""The recommendation register: every recommendation of every case's action plan, and its updates.

The register is written by the engine, never keyed in. A user task whose diagram gives it the
property `recommendationRegister`:

- `plan` (the action-plan form): on completion, its `recommendations` list becomes the case's
  register entries, numbered from 1 in the order given. Numbers are what the diagram's update
  requests refer to, so a revised plan (the task completed again) revises R1, R2... in place, and
  a recommendation it no longer lists is withdrawn: kept with its history, counted nowhere;
- `update` (an action holder's quarterly update, inside the chase): when the task appears, the
  recommendation it asks about (`chase_request.reference`, 0-based) is awaiting feedback; on
  completion its `action_status` and `progress_update` become the recommendation's status. Only an
  action holder of the recommendation's lead agency may give it (`update_refusal`, a rule of
  `runtime.work_refusal`): the lane alone would let the NHS answer for the council.

Status changes only through those events, each recorded in `recommendation_event` and audited.
A recommendation starts as awaiting feedback (nothing has been heard from its lead agency), not
yet asked; it is awaited since the first request that has not been answered.

Lead agencies are compared as the Steering Group's quorum compares organisations (case and
spacing aside): a name typed another way takes the spelling of the agency list or of the
register's earlier entries, so one agency is counted once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from ..platform import deadlines, events
from ..platform.access import Agency, name_key, tidy_name
from ..platform.audit import AuditType, record
from ..platform.calendar import parse_day
from ..platform.deadlines import Due
from ..platform.models import Base, Case, OpenTask, User
from ..platform.paging import Page, Paging
from ..platform.paging import fetch as paging_fetch

REGISTER_PROPERTY = "recommendationRegister"

THEMES = (
    "Awareness Raising and Communication",
    "Awareness and Training for Healthcare Professionals",
    "Complex Needs (Alcohol, Drugs, Mental Health)",
    "Information Sharing and Multi-Agency Working",
    "Perpetrators and Bail Issues",
    "Risk Assessment",
    "Safeguarding Children",
    "Agency Specific Policies/Issues",
)

COMPLETED = "completed"
IN_PROGRESS = "in_progress"
AWAITING = "awaiting_feedback"
WITHDRAWN = "withdrawn"
# seed 001's statuses, in its order: what the report counts
STATUSES = {COMPLETED: "Completed", IN_PROGRESS: "Part completed / in progress", AWAITING: "Awaiting feedback"}
LABELS = {**STATUSES, WITHDRAWN: "Withdrawn"}
OPEN = (IN_PROGRESS, AWAITING)  # what a lead agency still owes
_FROM_FORM = {label.casefold(): key for key, label in STATUSES.items()}
EVENT_LABELS = {"created": "Agreed in the action plan", "revised": "Action plan revised",
                "withdrawn": "Withdrawn from the action plan", "requested": "Update requested",
                "update": "Update given"}


class Recommendation(Base):
    """One recommendation of a case's action plan, with its current status."""

    __tablename__ = "recommendation"
    __table_args__ = (UniqueConstraint("case_id", "number"),
                      # the dashboard's "due soon" (counted from the index alone)
                      Index("ix_recommendation_target", "target_date", "id", "status", "case_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the action plan's order
    text: Mapped[str] = mapped_column(Text)
    theme: Mapped[str] = mapped_column(String(100))
    lead_agency: Mapped[str] = mapped_column(String(200), index=True)
    scope: Mapped[str] = mapped_column(String(20))  # Local | National
    national_body: Mapped[str | None] = mapped_column(String(200))
    smart_action: Mapped[str] = mapped_column(Text)
    action_holder: Mapped[str | None] = mapped_column(String(200))
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(30), index=True)
    awaiting_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    case: Mapped[Case] = relationship(lazy="joined")
    events: Mapped[list[RecommendationEvent]] = relationship(
        back_populates="recommendation", order_by="RecommendationEvent.id", lazy="selectin")

    @property
    def label(self) -> str:
        return f"{self.case.reference} R{self.number}"

    @property
    def status_label(self) -> str:
        return LABELS.get(self.status, self.status)

    @property
    def owed(self) -> bool:
        """Whether its lead agency still owes it (in progress or awaiting feedback)."""
        return self.status in OPEN

    def due(self, now: datetime) -> Due | None:
        """When it is due (its target date), while it is owed; None once completed or withdrawn."""
        return deadlines.target(self.target_date, now, owed=self.owed)

    def overdue(self, today: date) -> bool:
        """Past its target date and still owed, on the London day `today` (`deadlines.today`)."""
        return self.owed and self.target_date is not None and deadlines.counted(self.target_date, today).overdue


class RecommendationEvent(Base):
    """What happened to a recommendation: created, revised, requested, update (with its status)."""

    __tablename__ = "recommendation_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    status: Mapped[str | None] = mapped_column(String(30))  # the status after this event
    progress: Mapped[str | None] = mapped_column(Text)
    update_date: Mapped[date | None] = mapped_column(Date)  # the date the agency gave its update
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the inbox asks by task (`updates_allowed`)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a revision: field -> [before, after]
    recommendation: Mapped[Recommendation] = relationship(back_populates="events")

    @property
    def kind_label(self) -> str:
        return EVENT_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return LABELS.get(self.status or "", self.status or "")


# Lists of recommendations name their cases but never need a case's serialized instance (40 KB and more).
WITHOUT_STATE = joinedload(Recommendation.case).defer(Case.state)


def _property(task: Any) -> str | None:
    value = task.task_spec.extensions.get("properties", {}).get(REGISTER_PROPERTY)
    return str(value) if value else None


def _for_case(session: Session, case_id: int) -> dict[int, Recommendation]:
    return {r.number: r for r in session.scalars(select(Recommendation).where(Recommendation.case_id == case_id))}


def _fields(item: dict[str, Any], agency_names: dict[str, str]) -> dict[str, Any]:
    scope = str(item.get("scope") or "Local")
    agency = tidy_name(str(item.get("lead_agency") or ""))
    agency = agency_names.setdefault(name_key(agency), agency)
    return {
        "text": str(item.get("recommendation") or ""),
        "theme": str(item.get("theme") or ""),
        "lead_agency": agency,
        "scope": scope,
        "national_body": (tidy_name(str(item.get("national_body") or "")) or None) if scope == "National" else None,
        "smart_action": str(item.get("smart_action") or ""),
        "action_holder": str(item.get("action_holder") or "") or None,
        "target_date": parse_day(item.get("target_date")),
    }


def _agency_names(session: Session) -> dict[str, str]:
    """Each known lead agency's spelling by its name key: the agency list's, else the register's first."""
    names: dict[str, str] = {}
    for name in session.scalars(select(Recommendation.lead_agency).order_by(Recommendation.id)):
        names.setdefault(name_key(name), name)
    names.update({name_key(name): name for name in session.scalars(select(Agency.name))})
    return names


def _event(session: Session, rec: Recommendation, kind: str, *, actor: str, at: datetime, **values: Any) -> None:
    session.add(RecommendationEvent(recommendation=rec, kind=kind, at=at, actor=actor, status=rec.status, **values))


def subscribe() -> None:
    """The register follows the chase: a `plan` task writes entries, an `update` task opening asks
    for feedback, an `update` task completed records it; only the lead agency's own people give an
    update (a work rule, so every door applies it)."""
    events.add_work_rule(update_refusal, updates_allowed)
    events.subscribe(events.TaskCompleted, lambda done: task_completed(done.session, done.case, done.task,
                                                                      actor=done.actor, now=done.now))
    events.subscribe(events.CaseSaved, lambda saved: tasks_created(saved.session, saved.case, saved.workflow,
                                                                  saved.created, actor=saved.actor, now=saved.now))


def task_completed(session: Session, case: Case, task: Any, *, actor: str, now: datetime) -> None:
    """Write what a completed `plan` or `update` task says into the register."""
    kind = _property(task)
    if kind == "plan":
        _write_plan(session, case, task, actor=actor, now=now)
    elif kind == "update":
        _write_update(session, case, task, actor=actor, now=now)


def tasks_created(session: Session, case: Case, workflow: Any, created: Iterable[str], *, actor: str,
                  now: datetime) -> None:
    """Mark the recommendations that new `update` tasks ask about as awaiting feedback, since now
    unless an earlier request is still unanswered."""
    for task_id in created:
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or _property(task) != "update":
            continue
        rec = _asked_about(session, case, task)
        if rec is None or rec.status not in OPEN:
            continue
        before = rec.status
        if rec.status != AWAITING or rec.awaiting_since is None:
            rec.status, rec.awaiting_since = AWAITING, now
        rec.updated_at = now
        _event(session, rec, "requested", actor=actor, at=now, task_id=task_id)
        record(session, AuditType.RECOMMENDATION_REQUESTED, actor=actor, at=now, case_id=case.id, task_id=task_id,
               details={"recommendation": rec.number, "lead_agency": rec.lead_agency, "status": [before, rec.status],
                        "awaiting_since": rec.awaiting_since.isoformat()})


def asked_by(session: Session, task: OpenTask) -> Recommendation | None:
    """The recommendation an open `update` task asks about (None for any other task)."""
    return session.scalars(
        select(Recommendation).join(RecommendationEvent)
        .where(Recommendation.case_id == task.case_id, RecommendationEvent.task_id == task.id,
               RecommendationEvent.kind == "requested")
        .options(WITHOUT_STATE)
    ).first()


def of_lead_agency(user: User, rec: Recommendation) -> bool:
    """Whether the user works for the recommendation's lead agency (case and spacing aside)."""
    return bool(user.agency) and name_key(user.agency or "") == name_key(rec.lead_agency)


def update_refusal(session: Session, user: User, task: OpenTask) -> str | None:
    """Why `user` may not give the update `task` asks for, or None: the recommendation's lead agency
    answers for it, so its update is given by someone of that agency."""
    rec = asked_by(session, task)
    if rec is None or of_lead_agency(user, rec):
        return None
    theirs = f"works for {user.agency}" if user.agency else "has no agency"
    return (f"{rec.label} is {rec.lead_agency}'s recommendation: only an action holder of {rec.lead_agency} "
            f"may give its update, and {user.username} {theirs}")


def updates_allowed(session: Session, user: User) -> ColumnElement[bool]:
    """`update_refusal` as a condition on `open_task`, for lists: no update task asks `user` about a
    recommendation of another lead agency (the user's agency's spellings found as `of_lead_agency` finds them)."""
    spellings = [name for name in session.scalars(select(Recommendation.lead_agency).distinct())
                 if user.agency and name_key(user.agency) == name_key(name)]
    refused = (select(RecommendationEvent.id).join(Recommendation)
               .where(RecommendationEvent.task_id == OpenTask.id, RecommendationEvent.kind == "requested",
                      Recommendation.lead_agency.not_in(spellings)))
    return ~refused.exists()


def _asked_about(session: Session, case: Case, task: Any) -> Recommendation | None:
    request = task.data.get("chase_request")
    reference = request.get("reference") if isinstance(request, dict) else None
    if not isinstance(reference, int):
        return None
    return session.scalars(select(Recommendation).where(
        Recommendation.case_id == case.id, Recommendation.number == reference + 1)).one_or_none()


def _write_plan(session: Session, case: Case, task: Any, *, actor: str, now: datetime) -> None:
    items = task.data.get("recommendations") or []
    existing = _for_case(session, case.id)
    agency_names = _agency_names(session)
    for number, item in enumerate(items, start=1):
        fields = _fields(item, agency_names)
        rec = existing.pop(number, None)
        if rec is None:
            rec = Recommendation(case_id=case.id, number=number, status=AWAITING, awaiting_since=None,
                                 created_at=now, updated_at=now, **fields)
            session.add(rec)
            _event(session, rec, "created", actor=actor, at=now, task_id=str(task.id))
            record(session, AuditType.RECOMMENDATION_ADDED, actor=actor, at=now, case_id=case.id,
                   task_id=str(task.id), details={"recommendation": number, "theme": rec.theme,
                                                  "lead_agency": rec.lead_agency, "scope": rec.scope})
            continue
        changes = {name: [_plain(getattr(rec, name)), _plain(value)] for name, value in fields.items()
                   if getattr(rec, name) != value}
        if rec.status == WITHDRAWN:  # listed again: owed again, not asked yet
            changes["status"] = [WITHDRAWN, AWAITING]
            rec.status, rec.awaiting_since = AWAITING, None
        if not changes:
            continue
        for name, value in fields.items():
            setattr(rec, name, value)
        rec.updated_at = now
        _event(session, rec, "revised", actor=actor, at=now, task_id=str(task.id), changes=changes)
        record(session, AuditType.RECOMMENDATION_REVISED, actor=actor, at=now, case_id=case.id,
               task_id=str(task.id), details={"recommendation": number, "changed": changes})
    for rec in existing.values():  # no longer in the plan
        if rec.status == WITHDRAWN:
            continue
        before = rec.status
        rec.status, rec.awaiting_since, rec.updated_at = WITHDRAWN, None, now
        _event(session, rec, "withdrawn", actor=actor, at=now, task_id=str(task.id))
        record(session, AuditType.RECOMMENDATION_WITHDRAWN, actor=actor, at=now, case_id=case.id,
               task_id=str(task.id), details={"recommendation": rec.number, "status": [before, WITHDRAWN]})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _write_update(session: Session, case: Case, task: Any, *, actor: str, now: datetime) -> None:
    rec = _asked_about(session, case, task)
    status = _FROM_FORM.get(str(task.data.get("action_status", "")).casefold())
    if rec is None or status is None or rec.status == WITHDRAWN:
        return
    before = rec.status
    rec.status, rec.awaiting_since, rec.updated_at = status, None, now
    _event(session, rec, "update", actor=actor, at=now, task_id=str(task.id),
           progress=str(task.data.get("progress_update") or ""), update_date=parse_day(task.data.get("update_date")))
    record(session, AuditType.RECOMMENDATION_UPDATED, actor=actor, at=now, case_id=case.id, task_id=str(task.id),
           details={"recommendation": rec.number, "status": [before, status]})


# ---------------------------------------------------------------------------------------------
# Reading the register


@dataclass(frozen=True)
class Filters:
    """What the register page filters on; empty values filter nothing."""

    case: str = ""  # a case reference
    theme: str = ""
    agency: str = ""
    status: str = ""
    overdue: bool = False
    national: bool = False


def status_on(rec: Recommendation, moment: datetime) -> str | None:
    """The recommendation's status at `moment` (None if it did not exist yet), from its events."""
    status = None
    for event in rec.events:
        if event.at > moment:
            break
        status = event.status
    return status


def awaited_since_on(rec: Recommendation, moment: datetime) -> datetime | None:
    """Since when the recommendation had been asked about without an answer at `moment` (None if
    it was not awaiting feedback, or had not been asked yet)."""
    since = None
    for event in rec.events:
        if event.at > moment:
            break
        if event.status != AWAITING:
            since = None
        elif since is None and event.kind == "requested":
            since = event.at
    return since


def find(session: Session, filters: Filters, *, today: date, case_ids: set[int] | None = None) -> list[Recommendation]:
    """The register's entries matching `filters`, oldest case first; `case_ids` limits the cases."""
    return list(session.scalars(_found(filters, today=today, case_ids=case_ids)))


def find_page(session: Session, filters: Filters, paging: Paging, *, today: date,
              case_ids: set[int] | None = None) -> Page[Recommendation]:
    """One page of `find`'s entries."""
    page = paging_fetch(session, _found(filters, today=today, case_ids=case_ids), paging)
    return Page([row[0] for row in page.items], page.number, page.size, page.total)


def _found(filters: Filters, *, today: date, case_ids: set[int] | None) -> Select[Recommendation]:
    # oldest case first: a case's id grows with its start (the clock never goes back), and the
    # (case, number) key is an index the database reads a page from without sorting the register
    query = (select(Recommendation).join(Case).options(WITHOUT_STATE)
             .order_by(Recommendation.case_id, Recommendation.number))
    if case_ids is not None:
        query = query.where(Recommendation.case_id.in_(case_ids))
    if filters.case:
        query = query.where(func.lower(Case.reference) == filters.case.strip().lower())
    if filters.theme:
        query = query.where(Recommendation.theme == filters.theme)
    if filters.agency:
        query = query.where(Recommendation.lead_agency == filters.agency)
    if filters.status:
        query = query.where(Recommendation.status == filters.status)
    else:  # a withdrawn recommendation is shown only when asked for
        query = query.where(Recommendation.status != WITHDRAWN)
    if filters.national:
        query = query.where(Recommendation.scope == "National")
    if filters.overdue:  # `Recommendation.overdue`: owed, and its target day is before today
        query = query.where(Recommendation.status.in_(OPEN), Recommendation.target_date < today)
    return query


def lead_agencies(session: Session, case_ids: set[int] | None = None) -> list[str]:
    """The lead agencies of the register's recommendations (of the cases `case_ids`, if given), by name."""
    query = (select(Recommendation.lead_agency).where(Recommendation.status != WITHDRAWN).distinct()
             .order_by(Recommendation.lead_agency))
    if case_ids is not None:
        query = query.where(Recommendation.case_id.in_(case_ids))
    return list(session.scalars(query))


def get(session: Session, recommendation_id: int) -> Recommendation | None:
    return session.get(Recommendation, recommendation_id)
