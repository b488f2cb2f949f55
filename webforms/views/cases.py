"""Cases: the list, a case's page, its members, its history (and CSV) and its diagram."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.bpmn import confidential, runtime, timers, worklist
from engine.platform import access
from engine.platform.audit import events_for_case
from engine.platform.db import as_id
from engine.platform.models import Case, Timer, User
from engine.platform.paging import Page
from engine.platform.roles import Power, may
from engine.review import costs, letters, pages

from .. import diagram, documents, history, paging, uow
from ..auth import me, requires
from ..guard import case_or_404

bp = Blueprint("cases", __name__)


@bp.route("/cases")
@login_required
def index() -> str:
    overdue_only = request.args.get("overdue") == "1"
    status = request.args.get("status", "open")
    rows = pages.case_list_page(uow.db(), me(), uow.clock().now(), paging.asked(), status=status,
                                overdue_only=overdue_only)
    return render_template("pages/cases.html", title="Cases", rows=rows, status=status, overdue_only=overdue_only,
                           may_start=may(me(), Power.START_CASES))


@bp.route("/cases/<int:case_id>")
@login_required
def show(case_id: int) -> str:
    case = case_or_404(case_id)
    db, now = uow.db(), uow.clock().now()
    roles = uow.state().settings.confidential_roles
    may_reveal = access.may_see_confidential(me(), roles)
    secret = None  # shown only when asked for, so that each read is one audited event
    if may_reveal and request.args.get("confidential") == "1":
        secret = [(label, pages.as_date(value)) for label, value in
                  confidential.reveal(db, case, me(), roles=roles, at=now)]
    manage = may(me(), Power.MANAGE_MEMBERS)
    page = pages.case_page(db, me(), case, now, with_candidates=manage)
    labels = pages.field_labels(db, case)
    return render_template("pages/case.html", title=case.reference, case=case, page=page, tasks=page.tasks,
                           timers=page.timers, task_titles=page.task_titles, key_data=page.key_data,
                           recent=history.grouped([history.describe(e, labels) for e in reversed(page.recent)])[::-1],
                           members=page.members,
                           manage=manage, candidates=page.candidates, stages=page.stages,
                           documents=pages.case_documents(db, case), letters=page.letters,
                           may_retry=may(me(), Power.RETRY_TIMERS), show_costs=may(me(), Power.SEE_COSTS),
                           costs=page.costs, may_record_costs=may(me(), Power.RECORD_COSTS),
                           pounds=costs.pounds, recommendation_count=page.recommendation_count,
                           retry_versions=_retry_versions(case), may_reveal=may_reveal, secret=secret)


def _retry_versions(case: Case) -> list[tuple[str, str]]:
    """For a process owner looking at a stalled case: the versions it can be retried on."""
    if case.stalled_at is None or case.status != "open" or not may(me(), Power.RETRY_CASES):
        return []
    choices = [("own", f"On its own version ({case.version_id}), as it is")]
    newest = runtime.newest_version(uow.db(), case.process_id).id
    if newest != case.version_id:
        choices.append(("newest", f"On the newest version ({newest}) of the diagram"))
    return choices


@bp.route("/cases/<int:case_id>/retry", methods=["POST"])
@requires(Power.RETRY_CASES)
def retry_case(case_id: int) -> Response:
    """Run a stalled case's steps again, on its own version or on the newest one."""
    case = case_or_404(case_id)
    case = runtime.retry_case(uow.db(), case.reference, user=me(), clock=uow.clock(),
                              newest=request.form.get("on") == "newest")
    if case.stalled_at is None:
        flash(f"{case.reference} has moved on (version {case.version_id}).", "success")
    else:
        flash(f"{case.reference} is still stalled on version {case.version_id}.", "error")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.route("/cases/<int:case_id>/timers/<timer_id>/retry", methods=["POST"])
@requires(Power.RETRY_TIMERS)
def retry_timer(case_id: int, timer_id: str) -> Response:
    """Let a stuck timer fire again (after whatever made it fail has been put right). An administrator,
    who does not see cases, may too: the timer's name and error are all they are shown."""
    timer = uow.db().get(Timer, timer_id)
    if timer is None or timer.case_id != case_id:
        abort(404)
    timers.retry(uow.db(), timer_id, actor=me().username, clock=uow.clock(), user=me())
    flash(f"'{timer.title}' will be tried again within a minute.", "success")
    if access.may_see_case(uow.db(), me(), case_id):
        return redirect(url_for("cases.show", case_id=case_id))
    return redirect(url_for("admin.timers"))


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


@bp.route("/cases/<int:case_id>/documents/<int:document_id>")
@login_required
def document(case_id: int, document_id: int) -> Response:
    """Download an uploaded document (always as an attachment, never shown as a page)."""
    return documents.download(case_or_404(case_id), document_id)


@bp.route("/cases/<int:case_id>/members", methods=["POST"])
@requires(Power.MANAGE_MEMBERS)
def add_member(case_id: int) -> Response:
    case = case_or_404(case_id)
    user_id = as_id(request.form.get("user_id"))
    user = uow.db().get(User, user_id) if user_id else None
    if user is None:
        flash("Choose a person to add.", "info")
    else:
        access.add_member(uow.db(), case, user, actor=me().username, at=uow.clock().now())
        flash(f"{user.username} can now see {case.reference}.", "success")
    return redirect(url_for("cases.show", case_id=case.id) + "#members")


@bp.route("/cases/<int:case_id>/members/<int:user_id>/remove", methods=["POST"])
@requires(Power.MANAGE_MEMBERS)
def remove_member(case_id: int, user_id: int) -> Response:
    case = case_or_404(case_id)
    user = uow.db().get(User, user_id) or abort(404)
    access.remove_member(uow.db(), case, user, actor=me().username, at=uow.clock().now())
    flash(f"{user.username} can no longer see {case.reference}.", "success")
    return redirect(url_for("cases.show", case_id=case.id) + "#members")


def _history_kind() -> str:
    return request.args.get("what", "")


def _history_kinds(case: Case) -> dict[str, str]:
    """The kinds of event the case's history holds, in words, for its filter."""
    present = pages.history_kinds(uow.db(), case.id)
    return {k: label for k, label in history.EVENT_WORDS.items() if k in present}


@bp.route("/cases/<int:case_id>/history")
@login_required
def history_page(case_id: int) -> str:
    case = case_or_404(case_id)
    kind = _history_kind()
    events = pages.history(uow.db(), case.id, paging.asked(), kind=kind)
    labels = pages.field_labels(uow.db(), case)
    rows = Page(history.grouped([history.describe(e, labels) for e in events]), events.number, events.size,
                events.total)
    return render_template("pages/history.html", title=f"History of {case.reference}", case=case, rows=rows,
                           kind=kind, kinds=_history_kinds(case), may_verify=may(me(), Power.VERIFY_AUDIT))


@bp.route("/cases/<int:case_id>/history.csv")
@login_required
def history_csv(case_id: int) -> Response:
    case = case_or_404(case_id)
    kind = _history_kind()
    labels = pages.field_labels(uow.db(), case)
    rows = [history.describe(e, labels) for e in events_for_case(uow.db(), case.id)
            if not kind or e.event_type == kind]
    filename = f"history-{case.reference.replace('/', '-')}.csv"
    return documents.attachment(history.to_csv(rows), "text/csv", filename)


def _files(case: Case) -> dict[str, str]:
    return runtime.bundle_for(uow.db(), case.version_id).files


@bp.route("/cases/<int:case_id>/diagram")
@login_required
def diagram_page(case_id: int) -> str:
    case = case_or_404(case_id)
    db = uow.db()
    files = _files(case)
    marks = diagram.highlights(files, events_for_case(db, case.id), worklist.current_steps(db, case.id))
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
