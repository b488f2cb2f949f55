"""The inbox: the open tasks of my role, on cases I may see, soonest due first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from flask_login import login_required
from sqlalchemy import func, select

from engine.platform.models import Case, OpenTask

from .. import uow
from ..auth import me
from ..guard import visible_case_ids

bp = Blueprint("inbox", __name__)
DUE_FILTERS = {"": "Any time", "overdue": "Overdue", "week": "Due in the next 7 days"}


@dataclass
class InboxRow:
    task: OpenTask
    case: Case
    overdue: bool


@bp.route("/inbox")
@login_required
def index() -> str:
    user, db, now = me(), uow.db(), uow.clock().now()
    query = (select(OpenTask, Case).join(Case, Case.id == OpenTask.case_id)
             .where(func.lower(OpenTask.lane) == user.role.lower()))
    visible = visible_case_ids(user)
    if visible is not None:
        query = query.where(OpenTask.case_id.in_(visible or {-1}))
    cases = sorted({case.id: case for _, case in db.execute(query)}.values(), key=lambda c: c.reference)
    case_filter = request.args.get("case", "")
    if case_filter.isdigit():
        query = query.where(OpenTask.case_id == int(case_filter))
    due_filter = request.args.get("due", "")
    if due_filter == "overdue":
        query = query.where(OpenTask.due_at < now)
    elif due_filter == "week":
        query = query.where(OpenTask.due_at < now + timedelta(days=7))
    query = query.order_by(OpenTask.due_at.is_(None), OpenTask.due_at, OpenTask.created_at)
    rows = [InboxRow(task, case, _overdue(task.due_at, now)) for task, case in db.execute(query)]
    return render_template("pages/inbox.html", title="Inbox", rows=rows, cases=cases, case_filter=case_filter,
                           due_filter=due_filter if due_filter in DUE_FILTERS else "", due_filters=DUE_FILTERS)


def _overdue(due: datetime | None, now: datetime) -> bool:
    return due is not None and due < now
