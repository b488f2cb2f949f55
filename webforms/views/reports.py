"""The Steering Group's report for a period: the page (with charts, printable), PDF, CSV and XLSX."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request

from engine.review import report_files, reporting
from engine.review.costs import financial_year, pounds
from engine.review.register import AWAITING, COMPLETED, IN_PROGRESS, STATUSES

from .. import schema_form, uow
from ..auth import roles_required
from ..charts import TAG_COLOURS, bar_chart
from ..documents import attachment
from ..roles import REPORT_ROLES

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


def period_from_request() -> tuple[date | None, date | None, list[schema_form.Field], dict[str, str]]:
    """The period asked for (default: this financial year to today), its fields and its errors.

    Both days are None when there are errors: no report is shown or sent for a period not asked for.
    """
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
    if end and end > today:  # a report of days to come would count what has not happened yet
        errors["end"] = "The period must end today or earlier"
    elif start and end and end < start:
        errors["end"] = "The period must end on or after the day it starts"
    form_fields = schema_form.fields(PERIOD_FORM, state, {})
    schema_form.attach(form_fields, errors)
    if errors:
        return None, None, form_fields, errors
    return start, end, form_fields, errors


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@bp.route("/reports/steering-group")
@roles_required(*REPORT_ROLES)
def steering_group() -> str:
    start, end, form_fields, errors = period_from_request()
    errors_list = schema_form.summary(form_fields, errors)
    if start is None or end is None:  # the form and its errors, and no report of another period
        return render_template("pages/report.html", title="Steering Group report", report=None,
                               form_fields=form_fields, errors_list=errors_list)
    report = reporting.steering_report(uow.db(), start, end)
    charts = {
        "status": bar_chart("status", "Recommendations by status", report.by_status, STATUS_COLOURS),
        "theme": bar_chart("theme", "Recommendations by theme", report.by_theme),
        "agency": bar_chart("agency", "Recommendations by lead agency", report.top_agencies()),
    }
    return render_template("pages/report.html", title="Steering Group report", report=report, charts=charts,
                           form_fields=form_fields, errors_list=errors_list,
                           period={"start": start.isoformat(), "end": end.isoformat()}, pounds=pounds,
                           awaiting_since=report_files.awaiting_since)


@bp.route("/reports/steering-group.<kind>")
@roles_required(*REPORT_ROLES)
def steering_group_download(kind: str) -> Response:
    if kind not in FORMATS:
        return Response("Choose csv, xlsx or pdf.", status=404, mimetype="text/plain")
    start, end, _, errors = period_from_request()
    if start is None or end is None:
        return Response("; ".join(errors.values()), status=400, mimetype="text/plain")
    report = reporting.steering_report(uow.db(), start, end)
    mimetype, render = FORMATS[kind]
    return attachment(render(report), mimetype, f"dhr-steering-group-report-{start}-to-{end}.{kind}")
