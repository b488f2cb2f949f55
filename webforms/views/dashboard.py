"""The dashboard for the Community Safety Team and the chairs: cases by stage, time in each stage,
each open case's six-month deadline, and what falls due in the next 30 days."""

from __future__ import annotations

from flask import Blueprint, render_template

from engine.platform.roles import Power
from engine.review import pages

from .. import paging, uow
from ..auth import me, requires

bp = Blueprint("dashboard", __name__)


@bp.route("/dashboard")
@requires(Power.SEE_DASHBOARD)
def index() -> str:
    board = pages.dashboard(uow.db(), me(), uow.clock().now(), deadlines_page=paging.asked("deadlines_page"),
                            due_page=paging.asked("due_page"))
    return render_template(
        "pages/dashboard.html", title="Dashboard", by_stage=board.by_stage, open_count=board.open_count,
        stage_times=board.stage_times, deadlines=board.deadlines, due=board.due, today=board.today,
        stalled=board.stalled)
