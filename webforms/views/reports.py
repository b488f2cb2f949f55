"""The Steering Group's report for a period: the page (with charts, printable), PDF, CSV and XLSX."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request

from engine.platform.errors import FormDataInvalid
from engine.platform.roles import Power
from engine.review import report_files, reporting
from engine.review.costs import financial_year, pounds
from engine.review.register import AWAITING, COMPLETED, IN_PROGRESS, STATUSES

from .. import schema_form, uow
from ..auth import requires
from ..charts import TAG_COLOURS, bar_chart
from ..documents import attachment

bp = Blueprint("reports", __name__)

PERIOD_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "start": {"type": "string", "format": "date", "title": "From"},
        "end": {"type": "string", "format": "date", "title": "To"},
    },
    "required": ["start", "end"],
}
# The status chart's bars in the colours of the register's status tags (templates/pages/_rec_status.html).
STATUS_COLOURS = {STATUSES[COMPLETED]: TAG_COLOURS["green"], STATUSES[IN_PROGRESS]: TAG_COLOURS["blue"],
                  STATUSES[AWAITING]: TAG_COLOURS["orange"]}
FORMATS = {
    "csv": ("text/csv", report_files.csv_bytes),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", report_files.as_xlsx),
    "pdf": ("application/pdf", report_files.as_pdf),
}


def _period_from_request() -> tuple[date | None, date | None, dict[str, Any], dict[str, str]]:
    """The period asked for (default: this financial year to today), what was typed, and the errors
    in reading it (the rules for a period are the engine's: `reporting.steering_report`)."""
    today = uow.today()
    default = {"start": date(financial_year(today), 4, 1).isoformat(), "end": today.isoformat()}
    typed = any(key.startswith(("start.", "end.")) for key in request.args)
    if typed:
        state = schema_form.state_from_form(PERIOD_FORM, request.args, request.files)
        data, errors = schema_form.data_from_state(PERIOD_FORM, state)
    else:  # start=2026-04-01&end=2027-03-31, as links and downloads give it
        data, errors = {k: request.args.get(k, v) for k, v in default.items()}, {}
        state = schema_form.state_from_data(PERIOD_FORM, data)
    start, end = _day(data.get("start")), _day(data.get("end"))
    if start is None and "start" not in errors:
        errors["start"] = "Enter the first day of the period" if typed else "From must be a real date"
    if end is None and "end" not in errors:
        errors["end"] = "Enter the last day of the period" if typed else "To must be a real date"
    return start, end, state, errors


def _report() -> tuple[reporting.SteeringReport | None, dict[str, Any], dict[str, str]]:
    """The report for the period asked for, or None and the errors: no report is shown or sent for a
    period not asked for, or one the engine refuses."""
    start, end, state, errors = _period_from_request()
    if errors or start is None or end is None:
        return None, state, errors
    try:
        return reporting.steering_report(uow.db(), start, end, today=uow.today()), state, {}
    except FormDataInvalid as exc:
        return None, state, exc.errors


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@bp.route("/reports/steering-group")
@requires(Power.SEE_REPORTS)
def steering_group() -> str:
    report, state, errors = _report()
    form_fields = schema_form.fields(PERIOD_FORM, state, {})
    schema_form.attach(form_fields, errors)
    errors_list = schema_form.summary(form_fields, errors)
    if report is None:  # the form and its errors, and no report of another period
        return render_template("pages/report.html", title="Steering Group report", report=None,
                               form_fields=form_fields, errors_list=errors_list)
    charts = {
        "status": bar_chart("status", "Recommendations by status", report.by_status, STATUS_COLOURS),
        "theme": bar_chart("theme", "Recommendations by theme", report.by_theme),
        "agency": bar_chart("agency", "Recommendations by lead agency", report.top_agencies()),
    }
    return render_template("pages/report.html", title="Steering Group report", report=report, charts=charts,
                           form_fields=form_fields, errors_list=errors_list,
                           period={"start": report.start.isoformat(), "end": report.end.isoformat()}, pounds=pounds,
                           awaiting_since=report_files.awaiting_since)


@bp.route("/reports/steering-group.<kind>")
@requires(Power.SEE_REPORTS)
def steering_group_download(kind: str) -> Response:
    if kind not in FORMATS:
        return Response("Choose csv, xlsx or pdf.", status=404, mimetype="text/plain")
    report, _, errors = _report()
    if report is None:
        return Response("; ".join(errors.values()), status=400, mimetype="text/plain")
    mimetype, render = FORMATS[kind]
    return attachment(render(report), mimetype, f"dhr-steering-group-report-{report.start}-to-{report.end}.{kind}")
