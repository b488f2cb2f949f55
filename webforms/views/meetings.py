"""Steering Group meetings: the list, recording one (members present, the report tabled, decisions)
and a meeting's page with whether it was quorate."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine.platform.errors import FormDataInvalid
from engine.platform.roles import Power, may
from engine.review import meetings

from .. import schema_form, uow
from ..auth import me, requires

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
@requires(Power.SEE_MEETINGS)
def index() -> str:
    return render_template("pages/meetings.html", title="Steering Group meetings",
                           meetings=meetings.meetings(uow.db()), may_record=may(me(), Power.RECORD_MEETINGS),
                           may_request=may(me(), Power.REQUEST_UPDATES))


@bp.route("/meetings/new", methods=["GET", "POST"])
@requires(Power.RECORD_MEETINGS)
def new() -> Any:
    if request.method == "GET":
        form_fields, errors_list = schema_form.draw(MEETING_FORM, schema_form.state_from_data(MEETING_FORM, {}), {})
        return render_template("pages/meeting_new.html", title="Record a meeting", fields=form_fields,
                               errors_list=errors_list)
    data, state, errors = schema_form.read_submission(MEETING_FORM, request.form)
    meeting = None
    if errors:  # with the engine's problems of what could be read: every problem at once
        errors = {**meetings.problems(held_on=_day(data.get("held_on")), attendees=data.get("attendees"),
                                      report_from=_day(data.get("report_from")), report_to=_day(data.get("report_to")),
                                      today=uow.today()), **errors}
    else:
        try:
            meeting = meetings.record_meeting(
                uow.db(), held_on=date.fromisoformat(data["held_on"]), attendees=data["attendees"],
                decisions=data.get("decisions", ""), report_from=_day(data.get("report_from")),
                report_to=_day(data.get("report_to")), actor=me().username, at=uow.clock().now())
        except FormDataInvalid as exc:
            uow.rollback()
            errors = exc.errors
    if meeting is None:
        form_fields, errors_list = schema_form.draw(MEETING_FORM, state, errors)
        return render_template("pages/meeting_new.html", title="Record a meeting", fields=form_fields,
                               errors_list=errors_list), 400
    flash(f"Meeting of {meeting.held_on.day} {meeting.held_on:%B %Y} recorded: "
          f"{'quorate' if meeting.quorate else 'not quorate'}.", "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>")
@requires(Power.SEE_MEETINGS)
def show(meeting_id: int) -> str:
    meeting = uow.db().get(meetings.Meeting, meeting_id)
    if meeting is None:
        abort(404)
    return render_template("pages/meeting.html", title="Steering Group meeting", meeting=meeting,
                           quorum=meetings.QUORUM)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
