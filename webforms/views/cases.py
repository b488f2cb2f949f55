"""Cases: the list, a case's page, its members, its history (and CSV) and its diagram."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import defer
from werkzeug.wrappers import Response

from engine.bpmn import runtime, timers
from engine.platform import access
from engine.platform.audit import events_for_case
from engine.platform.errors import DhrError
from engine.platform.models import Case, OpenTask, Timer, User
from engine.review import costs, letters, register

from .. import diagram, documents, history, uow
from ..auth import me, roles_required
from ..guard import case_or_404, users_for_lane, visible_case_ids
from ..roles import COST_RECORDERS, COST_VIEWERS

bp = Blueprint("cases", __name__)
MEMBERSHIP_MANAGERS = ("Community Safety Team",)
TIMER_FIXERS = (access.ADMINISTRATOR, access.PROCESS_OWNER)
# Case data worth seeing at a glance (never the victim's identifiers).
KEY_DATA = [
    ("review_type", "Decision"), ("decision_due_date", "Decision due"), ("decision_date", "Decided on"),
    ("clock_start_date", "Six-month clock started"),  # the report's due date is the case's deadline row
    ("publication_date", "Publication date"), ("published_on", "Published on"),
]


@dataclass
class CaseRow:
    case: Case
    tasks: list[OpenTask]
    next_deadline: datetime | None
    overdue: bool


@bp.route("/cases")
@login_required
def index() -> str:
    db, now = uow.db(), uow.clock().now()
    query = select(Case).options(defer(Case.state)).order_by(Case.started_at.desc(), Case.id.desc())
    visible = visible_case_ids(me())
    if visible is not None:
        query = query.where(Case.id.in_(visible or {-1}))
    status = request.args.get("status", "open")
    if status in ("open", "completed"):
        query = query.where(Case.status == status)
    cases = list(db.scalars(query))
    ids = [c.id for c in cases]
    tasks: dict[int, list[OpenTask]] = {}
    for task in db.scalars(select(OpenTask).where(OpenTask.case_id.in_(ids or [-1])).order_by(OpenTask.due_at)):
        tasks.setdefault(task.case_id, []).append(task)
    deadlines: dict[int, datetime] = {}
    for timer in db.scalars(select(Timer).where(Timer.case_id.in_(ids or [-1])).order_by(Timer.due_at.desc())):
        deadlines[timer.case_id] = timer.due_at
    rows = [CaseRow(c, tasks.get(c.id, []), deadlines.get(c.id),
                    any(t.due_at is not None and t.due_at < now for t in tasks.get(c.id, []))) for c in cases]
    if request.args.get("overdue") == "1":
        rows = [r for r in rows if r.overdue]
    return render_template("pages/cases.html", title="Cases", rows=rows, status=status,
                           overdue_only=request.args.get("overdue") == "1")


def _key_data(case: Case) -> list[tuple[str, Any]]:
    workflow = runtime.load_workflow(case, uow.db())
    runtime.WORKFLOWS.put(case.id, case.state, workflow)
    data: dict[str, Any] = {}
    tasks = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING) or [workflow.last_task]
    for task in tasks:
        if task is not None:
            data.update(task.data)
    return [(label, _as_date(data[key])) for key, label in KEY_DATA if data.get(key) not in (None, "")]


def _as_date(value: Any) -> Any:
    """An ISO date as people read it ('11 June 2026'); anything else as it is."""
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    return f"{day.day} {day:%B %Y}" if day else value


@dataclass
class TaskRow:
    task: OpenTask
    holders: list[User]
    overdue: bool


@bp.route("/cases/<int:case_id>")
@login_required
def show(case_id: int) -> str:
    case = case_or_404(case_id)
    db, now = uow.db(), uow.clock().now()
    tasks = list(db.scalars(select(OpenTask).where(OpenTask.case_id == case.id)
                            .order_by(OpenTask.due_at.is_(None), OpenTask.due_at)))
    task_titles = {t.id: t.title for t in tasks}
    timers = list(db.scalars(select(Timer).where(Timer.case_id == case.id).order_by(Timer.due_at)))
    rows = [TaskRow(t, users_for_lane(case.id, t.lane), t.due_at is not None and t.due_at < now) for t in tasks]
    recent = [history.describe(e) for e in events_for_case(db, case.id)[-8:]][::-1]
    manage = me().role in MEMBERSHIP_MANAGERS
    candidates = []
    members = access.members(db, case.id)
    if manage:
        member_ids = {u.id for u in members}
        candidates = [u for u in db.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
                      if not access.is_case_wide(u) and u.id not in member_ids]
    return render_template("pages/case.html", title=case.reference, case=case, tasks=rows, timers=timers,
                           task_titles=task_titles, key_data=_key_data(case), recent=recent, members=members,
                           manage=manage, candidates=candidates, stages=_stages(case),
                           documents=documents.case_documents(case), letters=letters.letters_for(db, case.id),
                           may_retry=me().role in TIMER_FIXERS, show_costs=me().role in COST_VIEWERS,
                           costs=costs.costs_for_case(db, case.id), may_record_costs=me().role in COST_RECORDERS,
                           pounds=costs.pounds, recommendation_count=len(register.find(
                               db, register.Filters(case=case.reference), today=now.date())),
                           retry_versions=_retry_versions(case))


def _retry_versions(case: Case) -> list[tuple[str, str]]:
    """For a process owner looking at a stalled case: the versions it can be retried on."""
    if case.stalled_at is None or case.status != "open" or me().role != access.PROCESS_OWNER:
        return []
    choices = [("own", f"On its own version ({case.version_id}), as it is")]
    newest = runtime.newest_version(uow.db(), case.process_id).id
    if newest != case.version_id:
        choices.append(("newest", f"On the newest version ({newest}) of the diagram"))
    return choices


@bp.route("/cases/<int:case_id>/retry", methods=["POST"])
@roles_required(access.PROCESS_OWNER)
def retry_case(case_id: int) -> Response:
    """Run a stalled case's steps again, on its own version or on the newest one."""
    case = case_or_404(case_id)
    try:
        case = runtime.retry_case(uow.db(), case.reference, user=me(), clock=uow.clock(),
                                  newest=request.form.get("on") == "newest")
    except DhrError as exc:
        uow.rollback()
        flash(f"The case was not retried: {exc}", "error")
        return redirect(url_for("cases.show", case_id=case_id))
    if case.stalled_at is None:
        flash(f"{case.reference} has moved on (version {case.version_id}).", "success")
    else:
        flash(f"{case.reference} is still stalled on version {case.version_id}.", "error")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.route("/cases/<int:case_id>/timers/<timer_id>/retry", methods=["POST"])
@roles_required(*TIMER_FIXERS)
def retry_timer(case_id: int, timer_id: str) -> Response:
    """Let a stuck timer fire again (after whatever made it fail has been put right)."""
    case = case_or_404(case_id)
    timer = uow.db().get(Timer, timer_id)
    if timer is None or timer.case_id != case.id:
        abort(404)
    timers.retry(uow.db(), timer_id, actor=me().username, clock=uow.clock())
    flash(f"'{timer.title}' will be tried again within a minute.", "success")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.route("/cases/<int:case_id>/letters/<int:letter_id>.<fmt>")
@login_required
def letter(case_id: int, letter_id: int, fmt: str) -> Response:
    """Download a letter as PDF or as an editable Word document."""
    case = case_or_404(case_id)
    found = uow.db().get(letters.Letter, letter_id)
    if found is None or found.case_id != case.id or fmt not in ("pdf", "docx"):
        abort(404)
    content, mimetype = ((letters.as_pdf(found), "application/pdf") if fmt == "pdf" else
                         (letters.as_docx(found),
                          "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
    return documents.attachment(content, mimetype,
                                f"{case.reference.replace('/', '-')}-{found.kind}-{found.id}.{fmt}")


@bp.route("/cases/<int:case_id>/documents/<key>")
@login_required
def document(case_id: int, key: str) -> Response:
    """Download an uploaded document (always as an attachment, never shown as a page)."""
    case = case_or_404(case_id)
    found = next((d for d in documents.case_documents(case) if d.key == key), None)
    if found is None:
        abort(404)
    try:
        media_type, content = found.content()
    except ValueError:
        abort(404)
    return documents.attachment(content, media_type, found.name)


@dataclass
class StageRow:
    name: str
    state: str  # done | current | to come


def _stages(case: Case) -> list[StageRow]:
    """The case's stages (the processes its diagram calls), the current one and those behind it."""
    names = runtime.bundle_for(uow.db(), case.version_id).stages(case.process_id)
    if case.status == "completed":
        return [StageRow(name, "done") for name in names]
    current = names.index(case.stage) if case.stage in names else -1
    return [StageRow(name, "done" if i < current else "current" if i == current else "to come")
            for i, name in enumerate(names)]


@bp.route("/cases/<int:case_id>/members", methods=["POST"])
@roles_required(*MEMBERSHIP_MANAGERS)
def add_member(case_id: int) -> Response:
    case = case_or_404(case_id)
    user_id = request.form.get("user_id", "")
    user = uow.db().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None:
        flash("Choose a person to add.", "info")
    else:
        try:
            access.add_member(uow.db(), case, user, actor=me().username, at=uow.clock().now())
            flash(f"{user.username} can now see {case.reference}.", "success")
        except DhrError as exc:
            uow.rollback()
            flash(exc.message, "info")
    return redirect(url_for("cases.show", case_id=case.id) + "#members")


@bp.route("/cases/<int:case_id>/members/<int:user_id>/remove", methods=["POST"])
@roles_required(*MEMBERSHIP_MANAGERS)
def remove_member(case_id: int, user_id: int) -> Response:
    case = case_or_404(case_id)
    user = uow.db().get(User, user_id) or abort(404)
    try:
        access.remove_member(uow.db(), case, user, actor=me().username, at=uow.clock().now())
        flash(f"{user.username} can no longer see {case.reference}.", "success")
    except DhrError as exc:
        uow.rollback()
        flash(exc.message, "info")
    return redirect(url_for("cases.show", case_id=case.id) + "#members")


def _history_rows(case: Case) -> tuple[list[history.HistoryRow], str]:
    kind = request.args.get("what", "")
    events = events_for_case(uow.db(), case.id)
    if kind:
        events = [e for e in events if e.event_type == kind]
    return [history.describe(e) for e in events], kind


@bp.route("/cases/<int:case_id>/history")
@login_required
def history_page(case_id: int) -> str:
    case = case_or_404(case_id)
    rows, kind = _history_rows(case)
    return render_template("pages/history.html", title=f"History of {case.reference}", case=case, rows=rows,
                           kind=kind, kinds=history.EVENT_WORDS)


@bp.route("/cases/<int:case_id>/history.csv")
@login_required
def history_csv(case_id: int) -> Response:
    case = case_or_404(case_id)
    rows, _ = _history_rows(case)
    filename = f"history-{case.reference.replace('/', '-')}.csv"
    return documents.attachment(history.to_csv(rows).encode(), "text/csv", filename)


def _files(case: Case) -> dict[str, str]:
    return runtime.bundle_for(uow.db(), case.version_id).files


@bp.route("/cases/<int:case_id>/diagram")
@login_required
def diagram_page(case_id: int) -> str:
    case = case_or_404(case_id)
    db = uow.db()
    files = _files(case)
    current = [t.bpmn_id for t in db.scalars(select(OpenTask).where(OpenTask.case_id == case.id))]
    current += [t.bpmn_id for t in db.scalars(select(Timer).where(Timer.case_id == case.id))]
    marks = diagram.highlights(files, events_for_case(db, case.id), current)
    diagrams = sorted(p for p in files if p.endswith(".bpmn"))
    chosen = request.args.get("file", "")
    if chosen not in diagrams:
        chosen = next((p for p in diagrams if marks.current.get(p)), None) or \
            runtime.bundle_for(db, case.version_id).process_files.get(case.process_id, diagrams[0])
    return render_template("pages/case_diagram.html", title=f"Diagram of {case.reference}", case=case,
                           diagrams=diagrams, chosen=chosen, marks=json.dumps(marks.for_file(chosen)),
                           xml_url=url_for("cases.diagram_file", case_id=case.id, file=chosen))


@bp.route("/cases/<int:case_id>/diagram.bpmn")
@login_required
def diagram_file(case_id: int) -> Response:
    case = case_or_404(case_id)
    text = _files(case).get(request.args.get("file", ""))
    if text is None:
        abort(404)
    # Plain text: a browser must never run an XML document from the library as a page.
    return Response(text, mimetype="text/plain")
