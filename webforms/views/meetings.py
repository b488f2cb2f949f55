"""Steering Group meetings: the list, recording one (members present, the report tabled, decisions)
and a meeting's page with whether it was quorate."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine.platform.errors import FormDataInvalid
from engine.review import meetings, reporting

from .. import schema_form, uow
from ..auth import me, roles_required
from ..roles import MEETING_RECORDERS, MEETING_VIEWERS, UPDATE_REQUESTERS

bp = Blueprint("meetings", __name__)

MEETING_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "held_on": {"type": "string", "format": "date", "title": "Date of the meeting"},
        "attendees": {"type": "string", "maxLength": 5000, "title": "Members present",
                      "description": "One per line: Name, Organisation (a substitute under the organisation they "
                                     "represent). Quorate with 4 or more members from different organisations."},
        "report_from": {"type": "string", "format": "date", "title": "Report tabled: from",
                        "description": "The period of the Steering Group report tabled, if one was."},
        "report_to": {"type": "string", "format": "date", "title": "Report tabled: to"},
        "decisions": {"type": "string", "maxLength": 10000, "title": "Decisions"},
    },
    "required": ["held_on", "attendees"],
}


@bp.route("/meetings")
@roles_required(*MEETING_VIEWERS)
def index() -> str:
    return render_template("pages/meetings.html", title="Steering Group meetings",
                           meetings=meetings.meetings(uow.db()), may_record=me().role in MEETING_RECORDERS,
                           may_request=me().role in UPDATE_REQUESTERS)


@bp.route("/meetings/new", methods=["GET", "POST"])
@roles_required(*MEETING_RECORDERS)
def new() -> Any:
    if request.method == "GET":
        form_fields, errors_list = schema_form.draw(MEETING_FORM, schema_form.state_from_data(MEETING_FORM, {}), {})
        return render_template("pages/meeting_new.html", title="Record a meeting", fields=form_fields,
                               errors_list=errors_list)
    data, state, errors = schema_form.read_submission(MEETING_FORM, request.form)
    today = uow.today()
    schema_form.refuse_future_dates(MEETING_FORM, data, errors, today, "held_on", "report_from", "report_to")
    attendees: list[meetings.Attendee] = []
    if "attendees" not in errors and data.get("attendees"):
        try:
            attendees = meetings.parse_attendees(data["attendees"])
        except FormDataInvalid as exc:
            errors.update(exc.errors)
    start, end = data.get("report_from"), data.get("report_to")
    if bool(start) != bool(end) and "report_from" not in errors and "report_to" not in errors:
        errors["report_to" if start else "report_from"] = "Give both days of the report's period, or neither"
    elif start and end and end < start:
        errors["report_to"] = "The report's period must end on or after the day it starts"
    if errors:
        form_fields, errors_list = schema_form.draw(MEETING_FORM, state, errors)
        return render_template("pages/meeting_new.html", title="Record a meeting", fields=form_fields,
                               errors_list=errors_list), 400
    report_from = date.fromisoformat(start) if start else None
    report_to = date.fromisoformat(end) if end else None
    report = (reporting.steering_report(uow.db(), report_from, report_to).as_dict()
              if report_from and report_to else None)
    meeting = meetings.record_meeting(
        uow.db(), held_on=date.fromisoformat(data["held_on"]), attendees=attendees,
        decisions=data.get("decisions", ""), report_from=report_from, report_to=report_to, report=report,
        actor=me().username, at=uow.clock().now())
    flash(f"Meeting of {meeting.held_on.day} {meeting.held_on:%B %Y} recorded: "
          f"{'quorate' if meeting.quorate else 'not quorate'}.", "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>")
@roles_required(*MEETING_VIEWERS)
def show(meeting_id: int) -> str:
    meeting = uow.db().get(meetings.Meeting, meeting_id)
    if meeting is None:
        abort(404)
    return render_template("pages/meeting.html", title="Steering Group meeting", meeting=meeting,
                           quorum=meetings.QUORUM)
