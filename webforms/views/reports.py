"""The Steering Group's report for a period: the page (with charts, printable), PDF, CSV and XLSX."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request

from engine import report_files, reporting
from engine.costs import financial_year, pounds

from .. import schema_form, uow
from ..auth import roles_required
from ..charts import bar_chart
from ..display import LONDON
from ..documents import attachment
from ..roles import REPORT_ROLES

bp = Blueprint("reports", __name__)

PERIOD_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "start": {"type": "string", "format": "date", "title": "From"},
        "end": {"type": "string", "format": "date", "title": "To"},
    },
}
FORMATS = {
    "csv": ("text/csv; charset=utf-8", lambda r: report_files.as_csv(r).encode()),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", report_files.as_xlsx),
    "pdf": ("application/pdf", report_files.as_pdf),
}


def period_from_request() -> tuple[date, date, list[schema_form.Field], dict[str, str]]:
    """The period asked for (default: this financial year to today), its fields and its errors."""
    today = uow.clock().now().astimezone(LONDON).date()
    default = {"start": date(financial_year(today), 4, 1).isoformat(), "end": today.isoformat()}
    if any(key.startswith(("start.", "end.")) for key in request.args):
        state = schema_form.state_from_form(PERIOD_FORM, request.args, request.files)
        data, errors = schema_form.data_from_state(PERIOD_FORM, state)
    else:  # start=2026-04-01&end=2027-03-31, as links and downloads give it
        data, errors = {k: request.args.get(k, v) for k, v in default.items()}, {}
        state = schema_form.state_from_data(PERIOD_FORM, data)
    start, end = _day(data.get("start")), _day(data.get("end"))
    if start is None and "start" not in errors:
        errors["start"] = "Enter the first day of the period" if "start.day" in request.args else \
            "From must be a real date"
    if end is None and "end" not in errors:
        errors["end"] = "Enter the last day of the period" if "end.day" in request.args else "To must be a real date"
    if start and end and end < start:
        errors["end"] = "The period must end on or after the day it starts"
    form_fields = schema_form.fields(PERIOD_FORM, state, {})
    schema_form.attach(form_fields, errors)
    if errors:
        return date.fromisoformat(default["start"]), today, form_fields, errors
    assert start is not None and end is not None
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
    report = reporting.steering_report(uow.db(), start, end)
    charts = {
        "status": bar_chart("status", "Recommendations by status", report.by_status),
        "theme": bar_chart("theme", "Recommendations by theme", report.by_theme),
        "agency": bar_chart("agency", "Recommendations by lead agency", report.top_agencies()),
    }
    return render_template("pages/report.html", title="Steering Group report", report=report, charts=charts,
                           form_fields=form_fields, errors_list=schema_form.summary(form_fields, errors),
                           period={"start": start.isoformat(), "end": end.isoformat()}, pounds=pounds)


@bp.route("/reports/steering-group.<kind>")
@roles_required(*REPORT_ROLES)
def steering_group_download(kind: str) -> Response:
    if kind not in FORMATS:
        return Response("Choose csv, xlsx or pdf.", status=404, mimetype="text/plain")
    start, end, _, errors = period_from_request()
    if errors:
        return Response("; ".join(errors.values()), status=400, mimetype="text/plain")
    report = reporting.steering_report(uow.db(), start, end)
    mimetype, render = FORMATS[kind]
    return attachment(render(report), mimetype, f"dhr-steering-group-report-{start}-to-{end}.{kind}")
