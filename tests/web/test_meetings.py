"""Recording Steering Group meetings: quorum at the edge, errors by their fields, the report tabled."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.platform.models import Case
from engine.review.meetings import Meeting
from tests.web.conftest import ROLE_USERS, Web, seed_001_world

VIEWERS = {"cst", "chair", "steering", "auditor"}
RECORDERS = {"cst", "steering"}


def _meeting(present: str, **extra: str) -> dict[str, str]:
    # the day before the `web` fixture's clock (31 August 2026): a meeting is recorded after it is held
    return {"held_on.day": "28", "held_on.month": "8", "held_on.year": "2026", "attendees": present,
            "decisions": "Write to the police's chief executive.", **extra}


def test_who_sees_and_who_records_meetings(web: Web) -> None:
    for username in ROLE_USERS:
        client = web.as_user(username)
        assert client.get("/meetings").status_code == (200 if username in VIEWERS else 403), username
        assert client.get("/meetings/new").status_code == (200 if username in RECORDERS else 403), username
        if username in VIEWERS:  # the Steering Group (or the team for it) asks every action holder from here too
            page = client.get("/meetings").get_data(as_text=True)
            assert ('data-testid="request-updates"' in page) is (username in ("cst", "steering")), username


@pytest.mark.parametrize(("present", "quorate", "organisations"), [
    ("A One, Kent Police\nB Two, KCC\nC Three, NHS Kent", False, 3),  # 3 members of 3 organisations
    ("A One, Kent Police\nB Two, kent  police\nC Three, KCC\nD Four, NHS Kent", False, 3),  # 4 members of 3
    ("A One, Kent Police\nB Two, KCC\nC Three, NHS Kent\nD Four, Probation", True, 4),  # 4 of 4
])
def test_quorum_at_the_edge(web: Web, present: str, quorate: bool, organisations: int) -> None:
    steering = web.as_user("steering")
    response = steering.post("/meetings/new", _meeting(present), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    quorum = " ".join(re.sub(r"<[^>]+>", " ", re.search(r'data-testid="quorum">(.*?)</p>', page, re.S)
                             .group(1)).split())
    assert quorum.startswith("Quorate" if quorate else "Not quorate"), quorum
    assert f"from {organisations} organisations" in quorum
    listing = steering.get("/meetings").get_data(as_text=True)
    assert ("Quorate" if quorate else "Not quorate") in listing


def test_a_wrong_line_or_period_is_shown_by_its_field_and_nothing_is_recorded(web: Web) -> None:
    cst = web.as_user("cst")
    bad = cst.post("/meetings/new", _meeting("A One, Kent Police\nJust a name"))
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert re.search(r'data-testid="error-attendees"[^>]*>.*Line 2 must be &#39;Name, Organisation&#39;', page)
    assert "Just a name" in page  # what was typed is kept
    no_date = cst.post("/meetings/new", _meeting("A One, Kent Police", **{"held_on.day": ""}))
    assert "Date of the meeting must include a day" in no_date.get_data(as_text=True)
    half = cst.post("/meetings/new", _meeting("A One, Kent Police", **{
        "report_from.day": "1", "report_from.month": "4", "report_from.year": "2026"}))
    assert "Give both days of the report&#39;s period, or neither" in half.get_data(as_text=True)
    backwards = cst.post("/meetings/new", _meeting("A One, Kent Police", **{
        "report_from.day": "1", "report_from.month": "4", "report_from.year": "2026",
        "report_to.day": "1", "report_to.month": "3", "report_to.year": "2026"}))
    assert "must end on or after the day it starts" in backwards.get_data(as_text=True)
    ahead = cst.post("/meetings/new", _meeting("A One, Kent Police", **{
        "held_on.day": "1", "held_on.month": "9", "report_from.day": "1", "report_from.month": "4",
        "report_from.year": "2026", "report_to.day": "31", "report_to.month": "12", "report_to.year": "9999"}))
    page = ahead.get_data(as_text=True)
    assert ahead.status_code == 400
    assert re.search(r'data-testid="error-held_on"[^>]*>.*Date of the meeting must be today or in the past', page)
    assert re.search(r'data-testid="error-report_to"[^>]*>.*must be today or in the past', page)
    with web.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Meeting)) == 0


def test_the_report_tabled_keeps_its_figures(web: Web) -> None:
    cst = web.as_user("cst")
    response = cst.post("/meetings/new", _meeting("A One, Kent Police\nB Two, KCC\nC Three, NHS\nD Four, Probation", **{
        "report_from.day": "1", "report_from.month": "4", "report_from.year": "2026",
        "report_to.day": "31", "report_to.month": "8", "report_to.year": "2026"}), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "For 1 April 2026 to 31 August 2026, as it stood" in page
    assert 'href="/reports/steering-group?start=2026-04-01&amp;end=2026-08-31"' in page
    assert "Write to the police&#39;s chief executive." in page
    with web.db.sessions() as s:
        meeting = s.scalars(select(Meeting)).one()
        assert meeting.report is not None and meeting.report["recommendations"] == 0
        assert [(a.name, a.organisation) for a in meeting.attendees][0] == ("A One", "Kent Police")


def test_the_report_tabled_stays_as_it_stood_when_later_updates_arrive(request: pytest.FixtureRequest,
                                                                       web: Web) -> None:
    from datetime import timedelta

    from engine.bpmn import runtime
    from engine.review import register
    from tests import seed_001

    world = seed_001_world(request, web)  # the clock: 2 February 2026, 10:00
    cst = web.as_user("cst")
    tabled = cst.post("/meetings/new", _meeting("A One, Kent Police\nB Two, KCC\nC Three, NHS\nD Four, Probation", **{
        "held_on.day": "2", "held_on.month": "2", "held_on.year": "2026", "report_from.day": "1",
        "report_from.month": "4", "report_from.year": "2024", "report_to.day": "2", "report_to.month": "2",
        "report_to.year": "2026"}), follow_redirects=True).get_data(as_text=True)
    assert re.search(r"Completed</dt><dd[^>]*>47<", tabled)

    web.clock.advance(timedelta(hours=1))  # later that day an agency answers one of theirs
    task = next(t for t in world.tasks() if t.bpmn_id == "give_action_update")
    with world.db.sessions() as s:
        reference = s.get(Case, task.case_id).reference  # type: ignore[union-attr]
        holder = seed_001.agency_holder(world, "holder", register.asked_by(s, task).lead_agency)  # type: ignore
    world.join(holder, reference)
    with world.uow() as s:
        runtime.complete_task(s, task.id, {"action_status": "Completed", "progress_update": "Done",
                                           "update_date": "2026-02-02"}, user=world.users[holder], clock=web.clock)
    live = cst.get("/reports/steering-group?start=2024-04-01&end=2026-02-02").get_data(as_text=True)
    assert re.search(r'data-testid="row-status"><th[^>]*>Completed</th>\s*<td[^>]*>48<', live)
    with web.db.sessions() as s:
        meeting_id = s.scalars(select(Meeting.id)).one()
    again = cst.get(f"/meetings/{meeting_id}").get_data(as_text=True)
    assert re.search(r"Completed</dt><dd[^>]*>47<", again)  # as tabled

