"""What a task page and the inbox tell the person doing the task: which one it is (its title, from the
diagram's `taskTitle`) and what they need to know (the diagram's `taskContext`, the recommendation an
update asks about), never a confidential value. Run on the DHR process's own chase and forms."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.bpmn import runtime
from engine.bpmn.library import read_folder
from engine.bpmn.timers import run_due
from engine.platform.calendar import london_day, long_date
from engine.platform.db import unit_of_work
from engine.platform.models import OpenTask, User
from tests.conftest import POSTGRES_IN_SECOND_STEP

from .conftest import Web

# what a task page says, from the case the engine loads; its queries run on PostgreSQL in test_read_models
pytestmark = POSTGRES_IN_SECOND_STEP

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
FIXTURE = Path(__file__).resolve().parents[1] / "task_context"
TERMS = {
    "review_period_from": "2021-01-01", "review_period_to": "2025-08-20",
    "key_lines_of_enquiry": ["How did agencies share information about risk?"],
    "imr_agencies": [{"agency": "Kent Police", "contact_email": "secret.contact@example.org",
                      "report_type": "Individual Management Review (IMR)"}],
    "family_views_on_scope": True, "tor_agreed_on": "2026-05-01",
}
PLAN = {"action_plan_agreed_on": "2026-05-20", "recommendations": [
    {"recommendation": "Share risk information at MARAC", "theme": "Information Sharing and Multi-Agency Working",
     "lead_agency": "Kent Police", "scope": "Local", "smart_action": "Train all domestic abuse officers by June",
     "action_holder": "Example Officer", "action_holder_email": "officer@example.org", "target_date": "2026-12-31"},
    {"recommendation": "Routine enquiry in primary care",
     "theme": "Awareness and Training for Healthcare Professionals", "lead_agency": "Borough Council",
     "scope": "Local", "smart_action": "Add routine enquiry to templates", "action_holder": "Example Doctor",
     "action_holder_email": "doctor@example.org", "target_date": "2027-03-31"},
    {"recommendation": "Publicise the helpline", "theme": "Awareness Raising and Communication",
     "lead_agency": "Kent Police", "scope": "Local", "smart_action": "Put the helpline on every custody leaflet",
     "action_holder": "Example Officer", "action_holder_email": "officer@example.org", "target_date": "2026-09-30"},
]}


def text(response: object) -> str:
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def asking_case(web: Web) -> int:
    """A case whose action plan is agreed: the DHR chase asks Kent Police for its IMR and each lead
    agency for its update; the panel member and the action holder sit on it."""
    files = read_folder(FIXTURE)
    files.update({p: t for p, t in read_folder(PROCESSES).items() if p == "chase.bpmn" or p.endswith(".json")})
    with unit_of_work(web.db.sessions) as s:
        runtime.deploy(s, files, actor="test", clock=web.clock)
        case_id = runtime.start_case(s, process_id="asks", pseudonym="Willow", year=2026,
                                     data={"case_name": "Willow/2026", **TERMS}, actor="test", clock=web.clock).id
    task = web.task(case_id, "agree_action_plan")
    with unit_of_work(web.db.sessions) as s:
        cst = s.scalars(select(User).where(User.username == "cst")).one()
        runtime.complete_task(s, task.id, PLAN, user=cst, clock=web.clock)
    web.add_member(case_id, "panel")
    web.add_member(case_id, "holder")
    return case_id


def today(web: Web) -> str:
    return long_date(london_day(web.clock.now()))


def titles(web: Web, case_id: int, bpmn_id: str) -> list[str]:
    return sorted(t.title for t in web.tasks(case_id) if t.bpmn_id == bpmn_id)


def test_an_action_holder_sees_which_recommendation_each_update_is_for(web: Web) -> None:
    case_id = asking_case(web)
    assert titles(web, case_id, "give_action_update") == [
        "Give the quarterly update on R1 (Kent Police)", "Give the quarterly update on R2 (Borough Council)",
        "Give the quarterly update on R3 (Kent Police)"]
    holder = web.as_user("holder")  # of Kent Police: R1 and R3 are theirs, R2 is the council's
    inbox = text(holder.get("/inbox"))
    assert "Give the quarterly update on R1 (Kent Police)" in inbox
    assert "Give the quarterly update on R3 (Kent Police)" in inbox
    assert "R2 (Borough Council)" not in inbox
    r3 = next(t for t in web.tasks(case_id) if t.title.startswith("Give the quarterly update on R3"))
    page = text(holder.get(f"/tasks/{r3.id}"))
    assert "Recommendation R3" in page and "Willow/2026 R3 : Publicise the helpline" in page
    assert "Put the helpline on every custody leaflet" in page
    assert "Lead agency Kent Police" in page and "Target date 30 September 2026" in page
    assert "Last update No update given yet" in page
    assert f"Asked on {today(web)}, today" in page


def test_the_steering_group_sees_who_has_not_answered_what_and_for_how_long(web: Web) -> None:
    case_id = asking_case(web)
    panel = web.as_user("panel")
    imr = web.task(case_id, "submit_imr")
    assert imr.title == "Submit the IMR for Kent Police"
    page = panel.get(f"/tasks/{imr.id}")
    shown = text(page)
    # the panel sees the terms of reference the IMR is written to, but not the agency contact's e-mail
    assert "Terms of reference" in shown and "How did agencies share information about risk?" in shown
    assert "Review period from 1 January 2021" in shown and "Agency: Kent Police; Asked for: Individual" in shown
    assert "secret.contact@example.org" not in page.get_data(as_text=True)
    assert "Names and dates that identify people are not shown here." in shown
    assert "Show the confidential details" not in shown  # a panel member may not see them at all

    asked = today(web)
    web.clock.advance(timedelta(days=14, hours=1))
    run_due(web.db.sessions, web.clock)
    reminders = titles(web, case_id, "send_reminder")
    assert "Remind Kent Police: it has not sent its IMR (14 days)" in reminders
    assert "Remind Borough Council: it has not given its update on R2 (14 days)" in reminders
    web.clock.advance(timedelta(days=14))
    run_due(web.db.sessions, web.clock)
    escalation = next(t for t in web.tasks(case_id) if t.bpmn_id == "escalate_non_response"
                      and "IMR" in t.title)
    assert escalation.title == "Escalate: Kent Police has not sent its IMR (28 days)"
    steering = web.as_user("steering")
    assert escalation.title in text(steering.get("/inbox"))
    assert "Escalate: Kent Police has not given its update on R1 (28 days)" in text(steering.get("/inbox"))
    page_text = text(steering.get(f"/tasks/{escalation.id}"))
    assert "Agency Kent Police" in page_text and "Request Individual Management Review (IMR)" in page_text
    assert f"Asked on {asked}, 28 days ago" in page_text



def test_letters_are_listed_by_what_they_are(web: Web) -> None:
    case_id = asking_case(web)
    page = web.as_user("cst").get(f"/cases/{case_id}").get_data(as_text=True)
    letters = re.findall(r"<li>(.+?) \(\d{1,2} \w+ \d{4}, ", page.split('data-testid="letters"')[1].split("</ul>")[0])
    assert [name.strip() for name in letters] == [
        "Submit the IMR for Kent Police", "Give the quarterly update on R1 (Kent Police)",
        "Give the quarterly update on R2 (Borough Council)", "Give the quarterly update on R3 (Kent Police)"]


def test_a_title_never_carries_a_confidential_value(web: Web) -> None:
    """A process owner's title naming a confidential field renders without it (titles reach e-mails
    and the audit trail)."""
    case_id = asking_case(web)
    with web.db.sessions() as s:
        task = s.scalars(select(OpenTask).where(OpenTask.case_id == case_id)).first()
        assert task is not None
        case = s.get(runtime.Case, case_id)
        workflow = runtime.load_workflow(case, s)
        spiff = workflow.get_task_from_id(runtime.UUID(task.id))
    from engine.bpmn import task_context
    from engine.bpmn.confidential import Confidential

    spiff.data["victim_name"] = "Alex Example"
    spiff.task_spec.extensions.setdefault("properties", {})["taskTitle"] = "About {{ victim_name }}"
    title = task_context.title_of(spiff, Confidential({"victim_name": "Victim's full name"}), web.clock.now())
    assert title == "About" and "Alex" not in title


SCREENING = {
    "definition_met": "Yes", "criteria_met": ["Person aged 16 or over"],
    "screening_rationale": "Killed by a former partner after years of coercive control.",
    "parallel_reviews": [{"review_type": "Inquest", "lead_body": "Coroner", "status": "Opened and adjourned",
                          "contact_email": "coroner.officer@example.org"}],
    "agencies": [{"agency": "Kent Police", "contact_email": "police.contact@example.org"}],
    "screening_recommendation": "DHR", "letter_to_chair_sent_on": "2026-08-31",
}


def screened_case(web: Web) -> int:
    """A DHR case notified and screened: the CSP chair's decision is open."""
    from .test_confidential_pages import NOTIFICATION, notified_case

    case_id = notified_case(web)
    screen = web.task(case_id, "screen_case")
    with unit_of_work(web.db.sessions) as s:
        cst = s.scalars(select(User).where(User.username == "cst")).one()
        runtime.complete_task(s, screen.id, SCREENING, user=cst, clock=web.clock)
    assert NOTIFICATION["notification_date"] == "2026-08-31"
    return case_id


def test_the_csp_chair_decides_with_the_screening_answers_in_front_of_them(web: Web) -> None:
    case_id = screened_case(web)
    decide = web.task(case_id, "decide_on_review")
    page = web.as_user("chair").get(f"/tasks/{decide.id}")
    shown, body = text(page), page.get_data(as_text=True)
    assert "Notified on 31 August 2026, today" in shown and "Decision due 30 September 2026" in shown
    assert "Screening against the statutory definition" in shown
    assert "Does the death meet the statutory definition of a DHR? Yes" in shown
    assert "Killed by a former partner after years of coercive control." in shown
    assert "Type: Inquest; Lead body: Coroner; Status: Opened and adjourned" in shown
    # the victim's identifiers and the professionals' e-mails stay out; the chair may ask on the case page
    for secret in ("Alex Example", "1980-03-04", "4 March 1980", "coroner.officer@example.org",
                   "police.contact@example.org"):
        assert secret not in body
    assert "Show the confidential details on the case page" in shown
    # a panel member on the case sees the same answers, without the way to the confidential details
    panel = web.as_user("panel").get(f"/tasks/{decide.id}")
    assert "Killed by a former partner" in text(panel) and "coroner.officer@example.org" not in panel.get_data(
        as_text=True)
    assert "Names and dates that identify people are not shown here." in text(panel)
    assert "Show the confidential details" not in text(panel)
