"""The victim's identifiers on the web: never in a case's history or its CSV; on the case page only for
the roles that need them (DHR_CONFIDENTIAL_ROLES), and each such read is in the history."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.models import AuditEvent, User
from tests.conftest import POSTGRES_IN_SECOND_STEP

from .conftest import Web

# what the pages leave out, decided in Python; the trail on PostgreSQL is in test_audit
pytestmark = POSTGRES_IN_SECOND_STEP

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
VICTIM, BORN, DIED = "Alex Example", "1980-03-04", "2025-08-20"
NOTIFICATION = {
    "victim_name": VICTIM, "victim_date_of_birth": BORN,
    "date_of_death": DIED, "victim_age": 45, "notification_date": "2026-08-31", "notifying_officer": "DS Example",
    "relationship": "Former intimate partner", "same_household": False, "suspected_suicide": False,
    "parallel_processes": ["Inquest"], "circumstances": "A factual summary from the police.",
}


def notified_case(web: Web) -> int:
    """A DHR case whose notification the Community Safety Team has recorded; the panel member sits on it."""
    web.deploy(PROCESSES)
    case_id = web.start("Iris", process="dhr_review")
    task = web.task(case_id, "record_notification")
    with unit_of_work(web.db.sessions) as s:
        cst = s.scalars(select(User).where(User.username == "cst")).one()
        runtime.complete_task(s, task.id, NOTIFICATION, user=cst, clock=web.clock)
    web.add_member(case_id, "panel")
    return case_id


def viewed(web: Web, case_id: int) -> list[AuditEvent]:
    with web.db.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                       AuditEvent.event_type == "CONFIDENTIAL_VIEWED")))


def test_a_panel_member_never_sees_the_victims_identifiers(web: Web) -> None:
    case_id = notified_case(web)
    panel = web.as_user("panel")
    history = panel.get(f"/cases/{case_id}/history")
    csv = panel.get(f"/cases/{case_id}/history.csv")
    page = panel.get(f"/cases/{case_id}")
    asked = panel.get(f"/cases/{case_id}?confidential=1")
    for response in (history, csv, page, asked):
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert VICTIM not in body and BORN not in body and DIED not in body
    text = history.get_data(as_text=True)
    assert "Task completed" in text and "Victim&#39;s full name: (empty) → (confidential)" in text
    assert "Victim's full name: (empty) → (confidential)" in csv.get_data(as_text=True)
    assert "Show the confidential details" not in page.get_data(as_text=True)
    assert viewed(web, case_id) == []


def test_the_community_safety_team_and_the_chair_see_them_on_asking_and_each_read_is_audited(web: Web) -> None:
    case_id = notified_case(web)
    cst = web.as_user("cst")
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert VICTIM not in page and "Show the confidential details" in page  # not shown until asked for
    assert viewed(web, case_id) == []

    shown = cst.get(f"/cases/{case_id}?confidential=1").get_data(as_text=True)
    details = shown.split('data-testid="confidential"')[1].split("</dl>")[0]
    assert "Victim&#39;s full name" in details and VICTIM in details
    assert "4 March 1980" in details and "DS Example" in details
    [event] = viewed(web, case_id)
    assert event.actor == "cst" and event.details["role"] == "Community Safety Team"
    assert "victim_name" in event.details["fields"] and VICTIM not in str(event.details)

    assert VICTIM in web.as_user("chair").get(f"/cases/{case_id}?confidential=1").get_data(as_text=True)
    assert [e.actor for e in viewed(web, case_id)] == ["cst", "chair"]
    history = cst.get(f"/cases/{case_id}/history").get_data(as_text=True)
    assert "Confidential details viewed" in history and VICTIM not in history


def test_other_case_wide_roles_do_not_see_them(web: Web) -> None:
    case_id = notified_case(web)
    for username in ("steering", "auditor", "owner"):
        body = web.as_user(username).get(f"/cases/{case_id}?confidential=1").get_data(as_text=True)
        assert VICTIM not in body and BORN not in body, username
    assert viewed(web, case_id) == []
