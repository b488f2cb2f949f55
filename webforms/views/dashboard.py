"""The dashboard for the Community Safety Team and the chairs: cases by stage, time in each stage,
each open case's six-month deadline, and what falls due in the next 30 days."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Blueprint, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import defer

from engine.bpmn import runtime
from engine.platform.calendar import london_day
from engine.platform.models import Case, OpenTask, Timer
from engine.platform.roles import Power
from engine.review import reporting
from engine.review.register import OPEN, Recommendation

from .. import uow
from ..auth import me, requires
from ..guard import visible_case_ids

bp = Blueprint("dashboard", __name__)
AHEAD = timedelta(days=30)
NO_STAGE = "No stage"


@dataclass(frozen=True)
class DueItem:
    kind: str  # Task, Timer, Recommendation
    title: str
    case: Case
    due_on: date
    url: str
    detail: str = ""


def _stage_order(cases: list[Case]) -> list[str]:
    """The stages in the order the deployed diagrams call them (the newest version's order first)."""
    order: list[str] = []
    for case in sorted(cases, key=lambda c: -c.version_id):
        for stage in runtime.bundle_for(uow.db(), case.version_id).stages(case.process_id):
            if stage not in order:
                order.append(stage)
    return order


def _due_items(cases: dict[int, Case], today: date, now: datetime) -> list[DueItem]:
    """Tasks, timers and recommendation target dates due from now to 30 days on, overdue ones too."""
    db, until = uow.db(), now + AHEAD
    ids = list(cases) or [-1]
    items: list[DueItem] = []
    for task in db.scalars(select(OpenTask).where(OpenTask.case_id.in_(ids), OpenTask.due_at.is_not(None),
                                                  OpenTask.due_at <= until)):
        assert task.due_at is not None
        items.append(DueItem("Task", task.title, cases[task.case_id], london_day(task.due_at),
                             url_for("tasks.show", task_id=task.id), task.lane or ""))
    attached = set(db.scalars(select(OpenTask.id).where(OpenTask.case_id.in_(ids))))
    for timer in db.scalars(select(Timer).where(Timer.case_id.in_(ids), Timer.due_at <= until)):
        if timer.attached_to in attached:
            continue  # shown as its task's due date
        items.append(DueItem("Timer", timer.title, cases[timer.case_id], london_day(timer.due_at),
                             url_for("cases.show", case_id=timer.case_id)))
    for rec in db.scalars(select(Recommendation).where(
            Recommendation.case_id.in_(ids), Recommendation.status.in_(OPEN),
            Recommendation.target_date.is_not(None), Recommendation.target_date <= london_day(until))):
        assert rec.target_date is not None
        items.append(DueItem("Recommendation", f"R{rec.number}: {rec.smart_action}", cases[rec.case_id],
                             rec.target_date, url_for("register.show", recommendation_id=rec.id), rec.lead_agency))
    return sorted(items, key=lambda i: (i.due_on, i.case.reference, i.title))


@bp.route("/dashboard")
@requires(Power.SEE_DASHBOARD)
def index() -> str:
    db, now = uow.db(), uow.clock().now()
    today = london_day(now)
    query = (select(Case).options(defer(Case.state)).where(Case.status == "open")
             .order_by(Case.deadline_on.is_(None), Case.deadline_on, Case.started_at))
    visible = visible_case_ids(me())
    if visible is not None:
        query = query.where(Case.id.in_(visible or {-1}))
    cases = list(db.scalars(query))
    order = _stage_order(cases)
    counts = Counter(c.stage or NO_STAGE for c in cases)
    by_stage = [(stage, counts[stage]) for stage in [*order, *sorted(set(counts) - set(order))] if stage in counts]
    deadlines = [(c, (c.deadline_on - today).days if c.deadline_on else None) for c in cases]
    return render_template(
        "pages/dashboard.html", title="Dashboard", by_stage=by_stage, open_count=len(cases),
        stage_times=reporting.stage_times(db, now, order), deadlines=deadlines,
        due=_due_items({c.id: c for c in cases}, today, now), today=today,
        stalled=[c for c in cases if c.stalled_at is not None])
