"""Starting a case from the web: the Community Safety Team records a new notification (the case's
pseudonym and year), then the notification itself as the case's first task."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.bpmn import runtime, worklist
from engine.platform.errors import FormDataInvalid
from engine.platform.roles import Power

from .. import schema_form, uow
from ..auth import me, requires

bp = Blueprint("start", __name__)

START_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pseudonym": {"type": "string", "title": "Case pseudonym", "maxLength": 100,
                      "description": "A first name agreed or to be agreed with the family, e.g. Rosemary; a "
                                     "provisional one until the family has been asked. Never the victim's name."},
        "year": {"type": "integer", "title": "Year of the review",
                 "description": "The case is known as Pseudonym/Year, e.g. Rosemary/2026."},
    },
    "required": ["pseudonym", "year"],
}


def _form(processes: list[tuple[str, str]]) -> dict[str, Any]:
    """The start form; with more than one process to start on, it asks which."""
    if len(processes) < 2:
        return START_FORM
    choice = {"type": "string", "title": "Process", "enum": [name for _, name in processes]}
    return {**START_FORM, "properties": {**START_FORM["properties"], "process": choice},
            "required": [*START_FORM["required"], "process"]}


@bp.route("/cases/new", methods=["GET", "POST"])
@requires(Power.START_CASES)
def new() -> Any:
    processes = runtime.startable_processes(uow.db())
    form = _form(processes)
    if request.method == "GET":
        return _page(form, schema_form.state_from_data(form, {"year": uow.today().year}), {}, processes)
    data, state, errors = schema_form.read_submission(form, request.form)
    if errors or not processes:
        return _page(form, state, errors, processes), 400
    process_id = next((pid for pid, name in processes if name == data.get("process")), processes[0][0])
    try:
        case = runtime.start_case(uow.db(), process_id=process_id, pseudonym=data["pseudonym"], year=data["year"],
                                  data={}, actor=me(), clock=uow.clock())
    except FormDataInvalid as exc:
        uow.rollback()
        return _page(form, state, exc.errors, processes), 400
    first = _first_task_for_me(case.id)
    flash(f"{case.reference} is started." + (" Now record the notification." if first else ""), "success")
    if first is not None:
        return redirect(url_for("tasks.show", task_id=first))
    return redirect(url_for("cases.show", case_id=case.id))


def _first_task_for_me(case_id: int) -> str | None:
    """The new case's first task in the starter's inbox (the notification), if any."""
    rows = worklist.inbox(uow.db(), me(), uow.clock().now(), case_id=case_id).rows
    return rows[0].id if rows else None


def _page(form: dict[str, Any], state: dict[str, Any], errors: dict[str, str],
          processes: list[tuple[str, str]]) -> str:
    form_fields, errors_list = schema_form.draw(form, state, errors)
    return render_template("pages/start_case.html", title="Record a new notification", fields=form_fields,
                           errors_list=errors_list, no_process=not processes)
