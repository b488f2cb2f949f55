"""The web's half of tests/test_rules.py: the same rules refused with the engine's own words, next
to the field (or, where no form is shown again, on the error page with the error's own status),
and a stray NotFound is a 404 page, never a 500."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from engine.platform.models import Case, User
from engine.platform.roles import Role
from engine.platform.users import find_user
from tests.conftest import POSTGRES_IN_SECOND_STEP, World
from tests.test_rules import REFUSAL, asked
from tests.web.conftest import Web

# the rules of tests/test_rules.py shown by the web
pytestmark = POSTGRES_IN_SECOND_STEP

ROLE_LIST = ", ".join(r.value for r in Role)


def _text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def _user(web: Web, name: str) -> User:
    with web.db.sessions() as s:
        return find_user(s, name)


def test_an_unknown_role_and_a_short_password_are_refused_by_their_fields(web: Web) -> None:
    admin = web.as_user("admin")
    response = admin.post("/admin/users", {"username": "newcomer", "role": "Not A Role", "password": "short"})
    page = _text(response)
    assert response.status_code == 400
    assert f"'Not A Role' is not a role; choose one of: {ROLE_LIST}" in page  # as the command line says it
    assert "Enter a password of at least 10 characters" in page
    assert '<a href="#role">' in page and '<a href="#password">' in page  # in the summary, linked to the field
    response = admin.post("/admin/users", {"username": "newcomer", "role": "csp chair", "password": "long-enough-1"})
    assert response.status_code == 302
    assert _user(web, "newcomer").role == "CSP Chair"


def test_an_administrator_cannot_disable_themselves(web: Web) -> None:
    admin = web.as_user("admin")
    me = _user(web, "admin")
    page = _text(admin.post(f"/admin/users/{me.id}", {"role": "Administrator", "agency": "", "active": "0"},
                            follow_redirects=True))
    assert "admin: You cannot disable yourself." in page
    page = _text(admin.post(f"/admin/users/{me.id}", {"role": "Auditor", "agency": "", "active": "1"},
                            follow_redirects=True))
    assert "admin: You cannot change your own role." in page
    assert (_user(web, "admin").role, _user(web, "admin").active) == ("Administrator", True)
    other = _user(web, "auditor")
    admin.post(f"/admin/users/{other.id}", {"role": "Not A Role", "agency": "", "active": "1"})
    assert _user(web, "auditor").role == "Auditor"
    assert admin.post(f"/admin/users/{other.id}", {"role": "Auditor", "agency": "", "active": "0"}).status_code == 302
    assert not _user(web, "auditor").active


def test_days_to_come_are_refused_by_their_fields(web: Web) -> None:
    steering = web.as_user("steering")  # the clock: 31 August 2026
    page = _text(steering.post("/meetings/new", {
        "held_on.day": "1", "held_on.month": "9", "held_on.year": "2026", "attendees": "A One, Kent Police"}))
    assert re.search(r'data-testid="error-held_on"[^>]*>.*Date of the meeting must be today or in the past', page)
    page = _text(steering.get("/reports/steering-group?start=2026-04-01&end=2026-09-01"))
    assert re.search(r'data-testid="error-end"[^>]*>.*The period must end today or earlier', page)
    # the form's own problem (no date) and the engine's (a line, a cost's day) are shown together
    page = _text(steering.post("/meetings/new", {"attendees": "Just a name", "report_from.day": "1",
                                                 "report_from.month": "9", "report_from.year": "2026"}))
    assert "Enter date of the meeting" in page and "Line 1 must be 'Name, Organisation'" in page
    assert "The first day of the report tabled must be today or in the past" in page
    web.deploy()
    page = _text(web.as_user("cst").post(f"/cases/{web.start()}/costs/new", {
        "category": "Other", "amount": "ten", "incurred_on.day": "1", "incurred_on.month": "9",
        "incurred_on.year": "2026", "description": "x" * 301}))
    assert "The amount must be in pounds" in page and "Date of the invoice or payment must be today" in page


def test_an_action_holder_may_not_update_another_agencys_recommendation(web: Web) -> None:
    world = World(web.db, web.clock)
    world.users = {"carol": _user(web, "cst")}
    reference, tasks = asked(world)
    with web.db.sessions() as s:
        case_id = s.scalars(select(Case.id).where(Case.reference == reference)).one()
    web.add_member(case_id, "holder")  # the web's action holder works for Kent Police
    holder = web.as_user("holder")
    medway = f"/tasks/{tasks['Medway Council']}"
    inbox = _text(holder.get("/inbox"))  # offered only their own agency's update
    assert tasks["Kent Police"] in inbox and tasks["Medway Council"] not in inbox
    page = _text(holder.get(medway))
    assert 'data-testid="task-form"' not in page and 'data-testid="claim-button"' not in page
    assert "You cannot complete this task: Ash/2025 R2 is Medway Council's recommendation" in page
    update = {"action_status": "Completed", "progress_update": "Done", "update_date.day": "2",
              "update_date.month": "3", "update_date.year": "2026"}
    refused = holder.post(medway, update)
    assert refused.status_code == 403
    assert REFUSAL.replace("kent works for kent  police", "holder works for Kent Police") in _text(refused)
    assert holder.post(f"{medway}/claim").status_code == 403
    assert 'data-testid="task-form"' in _text(holder.get(f"/tasks/{tasks['Kent Police']}"))
    assert holder.post(f"/tasks/{tasks['Kent Police']}", update).status_code == 302
    assert {t.id for t in world.tasks(reference)} == {tasks["Medway Council"]}


def test_a_stray_not_found_is_a_404_page_and_an_engine_refusal_says_why(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    holder = _user(web, "holder")
    missing = cst.post(f"/cases/{case_id}/members/{holder.id}/remove")  # not a member: the engine's NotFound
    assert missing.status_code == 404 and "Page not found" in _text(missing)
    assert "holder is not a member" not in _text(missing)  # a 404 reveals nothing
    assert cst.get("/meetings/999999").status_code == 404
    web.add_member(case_id, "holder")
    twice = cst.post(f"/cases/{case_id}/members", {"user_id": str(holder.id)})
    assert twice.status_code == 400
    assert "Holder is already a member of Rosemary/2026. Nothing was changed." in _text(twice)
