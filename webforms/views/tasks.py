"""A task's form: GET shows it, POST validates and completes the task in one unit of work."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from engine.bpmn import claims, runtime
from engine.bpmn.forms import field_errors
from engine.platform import access
from engine.platform.audit import AuditType, task_closed_event
from engine.platform.calendar import london_day
from engine.platform.errors import (
    BudgetExceeded,
    Conflict,
    FormDataInvalid,
    NotAllowed,
    NotFound,
    ScriptError,
    TaskAlreadyCompleted,
)
from engine.platform.models import Case, OpenTask
from engine.review import pages

from .. import documents, instructions, schema_form, uow
from ..auth import me
from ..guard import case_or_404, task_or_404

bp = Blueprint("tasks", __name__)


def _task_data(case: Case, task_id: str) -> dict[str, Any]:
    """The data the task sees (for its instructions and to fill in what is already known)."""
    workflow = runtime.load_workflow(case, uow.db())
    runtime.WORKFLOWS.put(case.id, case.state, workflow)  # only read: keep it for the next writer
    task = workflow.get_task_from_id(UUID(task_id))
    return dict(task.data) if task is not None else {}


def _schema(case: Case, task: OpenTask) -> dict[str, Any]:
    if not task.form:
        return {"type": "object", "properties": {}}
    return runtime.bundle_for(uow.db(), case.version_id).forms.get(task.form) or {"type": "object", "properties": {}}


def _gone(task_id: str) -> Any:
    """The page for a task that is not open any more: who completed it and when."""
    event = task_closed_event(uow.db(), task_id)
    if event is None or event.case_id is None or not access.may_see_case(uow.db(), me(), event.case_id):
        abort(404)
    case = uow.db().get(Case, event.case_id)
    return render_template("pages/task_gone.html", title="This task is closed", event=event, case=case,
                           completed=event.event_type == AuditType.TASK_COMPLETED.value, answers=[]), 410


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def show(task_id: str) -> Any:
    try:
        UUID(task_id)
    except ValueError:
        abort(404)
    task = task_or_404(task_id)
    if task is None:
        return _gone(task_id)
    case = case_or_404(task.case_id)  # a task page shows case data: a read of the case, audited as one
    schema = _schema(case, task)
    if request.method == "POST":
        return _post(task, case, schema)
    refusal = runtime.work_refusal(uow.db(), me(), task)
    draft = claims.draft_for(uow.db(), task_id, me()) if refusal is None else None
    data = _task_data(case, task_id)
    state = draft.values if draft is not None else schema_form.state_from_data(schema, data)
    # a draft names its files by id: only documents of this case count
    errors = documents.hold(schema, state, task_id) if draft is not None else {}
    return _form_page(task, case, schema, state, errors, refusal=refusal, draft=draft, data=data)


def _post(task: OpenTask, case: Case, schema: dict[str, Any]) -> Any:
    """Submit the form, save it as a draft or apply one of its buttons (add another, remove)."""
    state = schema_form.state_from_form(schema, request.form, request.files)
    action = request.form.get("_action", "")
    status = 400
    if action == "save-draft":
        _refuse_unless_allowed(task)
        errors = documents.hold(schema, state, task.id)
        if not errors:
            return _save_draft(task.id, state)
    elif action and schema_form.apply_action(schema, state, action):
        _refuse_unless_allowed(task)
        errors = documents.hold(schema, state, task.id)  # the form is shown again: its files are kept
        status = 200
    else:
        submitted, parse_errors = schema_form.data_from_state(schema, state)
        if parse_errors:
            _refuse_unless_allowed(task)
            errors = {**field_errors(schema, submitted, london_day(uow.clock().now())), **parse_errors}
        else:  # the engine refuses first whoever may not complete the task, with its own words
            outcome = _complete(task, case, submitted, schema)
            if not isinstance(outcome, dict):
                return outcome
            errors = outcome
        # Shown again with its errors: its new files are held (after the rollback), named by id.
        errors = {**documents.hold(schema, state, task.id), **errors}
    draft = claims.draft_for(uow.db(), task.id, me())
    return _form_page(task, case, schema, state, errors, refusal=None, draft=draft,
                      data=_task_data(case, task.id), status=status)


def _refuse_unless_allowed(task: OpenTask) -> None:
    refusal = runtime.work_refusal(uow.db(), me(), task)
    if refusal is not None:
        raise NotAllowed(refusal)  # the engine's own words, on the error handler's page


def _form_page(task: OpenTask, case: Case, schema: dict[str, Any], state: dict[str, Any], errors: dict[str, str],
               *, refusal: str | None, draft: Any, data: dict[str, Any], status: int = 200) -> Any:
    form_fields = schema_form.fields(schema, state, {})
    errors = schema_form.plain_messages(form_fields, errors)
    schema_form.attach(form_fields, errors)
    return render_template(
        "pages/task.html", title=task.title, task=task, case=case, schema=schema, fields=form_fields,
        errors_list=schema_form.summary(form_fields, errors), may_complete=refusal is None,
        instructions=instructions.render(task.instructions, data, task_name=task.title), draft=draft, me=me(),
        may_release=claims.may_release(me(), task), refusal=refusal, in_lane=runtime.may_complete(me(), task),
        page=pages.task_page(uow.db(), me(), task, uow.clock().now()),
        may_reveal=access.may_see_confidential(me(), uow.state().settings.confidential_roles),
    ), status


def _save_draft(task_id: str, state: dict[str, Any]) -> Any:
    claims.save_draft(uow.db(), task_id, state, user=me(), clock=uow.clock())  # a refusal: the error page
    flash("Your answers are saved as a draft. Nothing has been submitted.", "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Any:
    """Take a role task, so the others in the role see it is being dealt with."""
    if task_or_404(task_id) is None:
        return _gone(task_id)
    claims.claim(uow.db(), task_id, user=me(), clock=uow.clock())
    flash("The task is yours: only you can complete it until you release it.", "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str) -> Any:
    """Give a claimed task back to everyone in its role."""
    if task_or_404(task_id) is None:
        return _gone(task_id)
    claims.release(uow.db(), task_id, user=me(), clock=uow.clock())
    flash("The task is released: anyone in the role can take it.", "success")
    return redirect(url_for("tasks.show", task_id=task_id))


def _complete(task: OpenTask, case: Case, submitted: dict[str, Any], schema: dict[str, Any]) -> Any:
    """Complete the task; return a response, or the form's errors. The errors caught here are the
    ones that show the form (or the answers typed) again; any other is the error handler's."""
    title, reference, case_id = task.title, case.reference, case.id
    try:
        runtime.complete_task(uow.db(), task.id, submitted, user=me(), clock=uow.clock())
    except FormDataInvalid as exc:
        uow.rollback()
        return dict(exc.errors)
    except TaskAlreadyCompleted as exc:
        uow.rollback()
        return render_template("pages/task_gone.html", title="This task is closed", case=case, completed=True,
                               by=exc.by, at=exc.at, answers=_answers(schema, submitted), event=None), 409
    except (Conflict, NotFound) as exc:
        uow.rollback()
        return render_template("pages/task_gone.html", title="This task is closed", case=case, completed=False,
                               message=exc.message, answers=_answers(schema, submitted), event=None), 409
    except BudgetExceeded as exc:  # its message says what was stopped and that nothing changed
        uow.rollback()
        return {"": f"{exc.message}."}
    except ScriptError as exc:
        uow.rollback()
        return {"": f"The case could not move on: {exc.message}. Nothing was saved; tell the process owner."}
    flash(f"'{title}' is done for {reference}.", "success")
    return redirect(url_for("cases.show", case_id=case_id))


def _answers(schema: dict[str, Any], submitted: dict[str, Any]) -> list[tuple[str, Any]]:
    """What the person typed, to copy from: nothing they wrote is lost."""
    props = schema.get("properties", {})
    return [(schema_form.label_of(key, props.get(key, {})), value) for key, value in submitted.items()]

