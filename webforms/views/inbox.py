"""The inbox: the open tasks of my role, on cases I may see, soonest due first."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from engine.bpmn import worklist
from engine.platform.db import as_id

from .. import paging, uow
from ..auth import me

bp = Blueprint("inbox", __name__)
DUE_FILTERS = {"": "Any time", "overdue": "Overdue", "week": "Due in the next 7 days"}


@bp.route("/inbox")
@login_required
def index() -> str:
    case_filter = request.args.get("case", "")
    due_filter = request.args.get("due", "")
    due_filter = due_filter if due_filter in DUE_FILTERS else ""
    case_filter = case_filter.strip()[:200]
    case_id = as_id(case_filter)
    inbox = worklist.inbox(uow.db(), me(), uow.clock().now(), due=due_filter, case_id=case_id,
                           reference="" if case_id else case_filter, paging=paging.asked())
    return render_template("pages/inbox.html", title="Inbox", rows=inbox.rows, cases=inbox.cases,
                           case_filter=case_filter, due_filter=due_filter, due_filters=DUE_FILTERS)
