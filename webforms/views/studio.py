"""The process studio's checks on a draft, nothing deployed: validate it, and preview one of its forms
as staff will see it."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from engine.bpmn.forms import field_errors
from engine.bpmn.library import form_schema, problems_in
from engine.platform.calendar import london_day
from engine.platform.errors import DiagramInvalid, DiagramProblem

from .. import schema_form, uow
from .processes import _version, draft_files, owner_only

bp = Blueprint("studio", __name__)


def _problem(p: DiagramProblem) -> dict[str, Any]:
    return {"file": p.file, "element": p.element_id, "line": p.line, "message": p.message, "severity": "error"}


@bp.route("/processes/<int:version_id>/validate", methods=["POST"])
@owner_only
def validate(version_id: int) -> Any:
    """The engine's problems with the draft, as JSON: what deploying it would refuse."""
    path, files = draft_files(_version(version_id))
    return jsonify(path=path, problems=[_problem(p) for p in problems_in(files)])


@bp.route("/processes/<int:version_id>/form-preview", methods=["POST"])
@owner_only
def form_preview(version_id: int) -> Any:
    """One form of the draft, drawn by the task page's renderer; with `answers` (JSON), checked as a
    submission would be, each error next to its field."""
    _path, files = draft_files(_version(version_id))
    form = request.form.get("form", "")
    try:
        schema = form_schema(files, form)
    except DiagramInvalid as exc:
        return render_template("pages/_studio_form_preview.html", form=form, problems=exc.problems), 400
    answers: Any = {}
    errors: dict[str, str] = {}
    if request.form.get("check"):
        try:
            answers = json.loads(request.form.get("answers") or "{}")
        except json.JSONDecodeError as exc:
            message = f"The example answers are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            return render_template("pages/_studio_form_preview.html", form=form,
                                   problems=[DiagramProblem("example answers", message)]), 400
        if not isinstance(answers, dict):
            return render_template("pages/_studio_form_preview.html", form=form, problems=[DiagramProblem(
                "example answers", "The example answers must be a JSON object of field names and values")]), 400
        errors = field_errors(schema, answers, london_day(uow.clock().now()))
    state = schema_form.state_from_data(schema, answers)
    form_fields, summary = schema_form.draw(schema, state, errors)
    return render_template("pages/_studio_form_preview.html", form=form, schema=schema, fields=form_fields,
                           errors_list=summary, problems=[])
