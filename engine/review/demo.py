"""Demo data for the quick start and for training: users, the DHR process and cases at several stages.

Runs on the simulated clock's time (1 June 2026 on a new database), so a trainer can move time on
with `dhr clock advance` and watch reminders and escalations fire. All names are fictional.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..bpmn import runtime
from ..bpmn.forms import example_answers
from ..bpmn.library import read_folder
from ..bpmn.timers import run_due
from ..platform import access, users
from ..platform.access import name_key
from ..platform.calendar import london_day
from ..platform.clock import Clock, SettableClock, SimulatedClock
from ..platform.db import unit_of_work
from ..platform.models import Case, OpenTask, SimulatedTime, User
from ..platform.roles import Role
from ..platform.settings import PROJECT_ROOT, Settings
from . import chasing, costs, meetings, register

DEMO_DIAGRAMS = PROJECT_ROOT / "processes"
DEMO_PASSWORD = "demo-password-123"
# The agencies of the demo's cases: the list screening and the terms of reference offer (Administration).
DEMO_AGENCIES = ("Police", "NHS Trust", "Borough Council", "Home Office", "Probation Service")
DEMO_USERS = [
    ("cst.officer", Role.COMMUNITY_SAFETY_TEAM, "Borough Council"),
    ("csp.chair", Role.CSP_CHAIR, "Community Safety Partnership"),
    ("independent.chair", Role.INDEPENDENT_CHAIR, "Independent"),
    ("panel.police", Role.PANEL, "Police"),
    ("family.liaison", Role.FAMILY_LIAISON, "Police"),
    ("steering.chair", Role.STEERING_GROUP, "Borough Council"),
    # one action holder for each lead agency of the action plan: each gives its own agency's updates
    ("action.police", Role.ACTION_HOLDER, "Police"),
    ("action.nhs", Role.ACTION_HOLDER, "NHS Trust"),
    ("action.council", Role.ACTION_HOLDER, "Borough Council"),
    ("action.home.office", Role.ACTION_HOLDER, "Home Office"),
    ("process.owner", Role.PROCESS_OWNER, "Borough Council"),
    ("auditor", Role.AUDITOR, "Borough Council"),
    ("admin", Role.ADMINISTRATOR, "Borough Council"),
]
MEMBERS = ("independent.chair", "panel.police", "family.liaison", "action.police", "action.nhs", "action.council",
           "action.home.office")
ACTOR = "demo"


def _answers(notified: str, review_type: str) -> dict[str, dict[str, Any]]:
    """What the demo answers where the answer steers the case (everything else: example answers)."""
    return {
        "record_notification": dict(
            victim_name="Sam Example", victim_date_of_birth="1979-02-11",
            date_of_death="2025-12-28", victim_age=46, notification_date=notified, suspected_suicide=False,
            parallel_processes=["Criminal trial"], relationship="Former intimate partner",
            circumstances="Fictional demo case."),
        "screen_case": dict(agencies=[{"agency": "Police", "contact_email": "police@example.org"},
                                      {"agency": "NHS Trust", "contact_email": "nhs@example.org"}],
                            screening_recommendation="DHR"),
        "decide_on_review": dict(review_type=review_type),
        "record_home_office_response": dict(home_office_response="Home Office accepts the decision"),
        "record_criminal_proceedings": dict(pause_review=False),
    }


_ACTION_PLAN = {"recommendations": [
    {"recommendation": "Every domestic abuse risk assessment is shared with the GP within 5 working days.",
     "theme": "Information Sharing and Multi-Agency Working", "lead_agency": "Police", "scope": "Local",
     "smart_action": "Add GP notification to the DASH workflow; audit 20 cases a quarter.",
     "action_holder": "Detective Inspector, Public Protection", "action_holder_email": "police@example.org",
     "target_date": "2026-12-31"},
    {"recommendation": "Routine enquiry about domestic abuse in mental health assessments.",
     "theme": "Complex Needs (Alcohol, Drugs, Mental Health)", "lead_agency": "NHS Trust", "scope": "Local",
     "smart_action": "Add the question to the assessment template and train 90% of staff by March.",
     "action_holder": "Named Nurse for Safeguarding", "action_holder_email": "nhs@example.org",
     "target_date": "2026-09-30"},
    {"recommendation": "Housing officers are trained to recognise coercive control.",
     "theme": "Awareness Raising and Communication", "lead_agency": "Borough Council", "scope": "Local",
     "smart_action": "Half-day training for every housing officer by June.",
     "action_holder": "Head of Housing", "action_holder_email": "housing@example.org",
     "target_date": "2026-06-30"},
    {"recommendation": "Statutory guidance to say how to involve families who do not speak English.",
     "theme": "Agency Specific Policies/Issues", "lead_agency": "Home Office", "scope": "National",
     "national_body": "Home Office", "smart_action": "The CSP chair writes to the Home Office DHR team.",
     "action_holder": "CSP Chair", "action_holder_email": "csp@example.org", "target_date": "2026-12-31"},
], "action_plan_agreed_on": "2026-05-20"}


def _doer(session: Session, task: OpenTask, by_role: dict[str, str]) -> User:
    """Who of the demo users does `task`: an update on a recommendation is given by an action
    holder of its lead agency, anything else by the demo user of the task's lane."""
    rec = register.asked_by(session, task)
    if rec is None:
        return users.find_user(session, by_role[task.lane or ""])
    return users.find_user(session, next(name for name, role, agency in DEMO_USERS if role is Role.ACTION_HOLDER
                                         and name_key(agency) == name_key(rec.lead_agency)))


def _steering_group(sessions: sessionmaker[Session], clock: Clock, by_role: dict[str, str],
                    reference: str) -> Iterator[str]:
    """Ask Willow's action holders now; two answer. Record a meeting, the review's costs and a budget."""
    outcome = chasing.request_updates(sessions, clock, actor=by_role[Role.STEERING_GROUP])
    yield f"update requests sent for {', '.join(outcome.asked) or 'no case'}"
    answers = [("Completed", "Training delivered to all housing officers."),
               ("Part completed / in progress", "Template changed; 60% of staff trained.")]
    for task in [t for t in _open_tasks(sessions, reference) if t.bpmn_id == "give_action_update"][:2]:
        status, progress = answers.pop()
        with unit_of_work(sessions) as s:
            runtime.complete_task(s, task.id, {"action_status": status, "progress_update": progress,
                                               "update_date": london_day(clock.now()).isoformat()},
                                  user=_doer(s, task, by_role), clock=clock)
    today = london_day(clock.now())
    with unit_of_work(sessions) as s:
        case = runtime.get_case(s, reference)
        for category, pence in (("Independent chair fee", 650000), ("Overview report author fee", 400000),
                                ("Other", 35000)):
            costs.add_cost(s, case, category=category, description="Demo", amount=pence, incurred_on=today,
                           actor=ACTOR, at=clock.now())
        costs.set_budget(s, costs.financial_year(today), 1000000, actor=ACTOR, at=clock.now())
        start = date(costs.financial_year(today), 4, 1)
        meetings.record_meeting(
            s, held_on=today, attendees=meetings.parse_attendees(
                "Chris Example, Borough Council\nJo Sample, Police\nAlex Demo, NHS Trust\nSam Test, Probation"),
            decisions="The police to report on GP notification at the next meeting.", report_from=start,
            report_to=today, actor=ACTOR, at=clock.now())
    yield "costs, a budget and a Steering Group meeting recorded"


def _open_tasks(sessions: sessionmaker[Session], reference: str) -> list[OpenTask]:
    with sessions() as s:
        case = runtime.get_case(s, reference)
        return list(s.scalars(select(OpenTask).where(OpenTask.case_id == case.id)
                              .order_by(OpenTask.created_at, OpenTask.bpmn_id)))


def _advance(sessions: sessionmaker[Session], clock: Clock, reference: str, until: str | None,
             answers: dict[str, dict[str, Any]], by_role: dict[str, str], skip: tuple[str, ...] = ()) -> None:
    """Complete the case's open tasks, the oldest first, until task `until` is open (or the case closes)."""
    today = london_day(clock.now()).isoformat()
    for _ in range(300):
        tasks = _open_tasks(sessions, reference)
        if not tasks or any(t.bpmn_id == until for t in tasks):
            return
        task = next((t for t in tasks if t.bpmn_id not in skip), None)
        if task is None:
            return
        schema = json.loads((DEMO_DIAGRAMS / task.form).read_text()) if task.form else {"properties": {}}
        data = {**example_answers(schema, today), **answers.get(task.bpmn_id, {})}
        with unit_of_work(sessions) as s:
            runtime.complete_task(s, task.id, data, user=_doer(s, task, by_role), clock=clock)


def seed(sessions: sessionmaker[Session], settings: Settings, force: bool = False,
         folder: Path = DEMO_DIAGRAMS) -> Iterator[str]:
    """Add the demo data, saying what it did line by line."""
    with sessions() as s:
        if s.scalars(select(Case.id)).first() is not None and not force:
            yield "the database already has cases: no demo data added (use --force to add more)"
            return
    start = datetime.fromisoformat("2026-06-01T09:00:00+01:00")
    if settings.clock == "simulated":
        with unit_of_work(sessions) as s:
            if s.get(SimulatedTime, 1) is None:
                s.add(SimulatedTime(id=1, now=start))
        clock: Clock = SettableClock(SimulatedClock(sessions.kw["bind"]).now())
    else:
        clock = SettableClock(start)

    with unit_of_work(sessions) as s:
        version, created = runtime.deploy(s, read_folder(folder), actor=ACTOR, clock=clock)
    yield f"{'deployed' if created else 'using'} process version {version.id} from {folder}"
    with unit_of_work(sessions) as s:
        for name, role, agency in DEMO_USERS:
            if s.scalars(select(users.User).where(users.User.username == name)).first() is None:
                users.add_user(s, name, role=role.value, agency=agency, password=DEMO_PASSWORD, actor=ACTOR,
                               clock=clock, email=f"{name}@example.org")
                yield f"user {name} ({role}), password {DEMO_PASSWORD}"
    with unit_of_work(sessions) as s:  # the agencies screening and the terms of reference offer
        known = {a.name for a in access.agencies(s)}
        for agency_name in DEMO_AGENCIES:
            if agency_name not in known:
                access.add_agency(s, agency_name, actor=ACTOR, at=clock.now())
                yield f"agency {agency_name}"
    by_role: dict[str, str] = {}
    for name, role, _ in DEMO_USERS:  # the first of each role
        by_role.setdefault(role, name)

    year = clock.now().year
    today = london_day(clock.now())
    plans = [  # pseudonym, notified on, decision, the task to stop at (None: run to the end)
        ("Hazel", today.isoformat(), "DHR", "record_notification"),
        ("Iris", "2026-04-20", "DHR", "decide_on_review"),  # the chair's decision is overdue
        ("Rosemary", "2026-05-11", "DHR", "draft_terms_of_reference"),
        ("Juniper", "2026-05-18", "No review", None),
        ("Willow", "2026-01-12", "DHR", None),  # runs on to publication: its action plan is monitored
    ]
    for pseudonym, notified, decision, until in plans:
        reference = f"{pseudonym}/{year}"
        with unit_of_work(sessions) as s:
            if s.scalars(select(Case.id).where(Case.reference == reference)).first() is not None:
                continue
            case = runtime.start_case(s, process_id="dhr_review", pseudonym=pseudonym, year=year, data={},
                                      actor=ACTOR, clock=clock)
            for name in MEMBERS:
                access.add_member(s, case, users.find_user(s, name), actor=ACTOR, at=clock.now())
        answers = {**_answers(notified, decision), "agree_action_plan": _ACTION_PLAN,
                   "agree_publication_date": {"publication_date": (today + timedelta(days=14)).isoformat()}}
        # the case stopped at the decision keeps its decision's reminder and escalation open (they fall due at once)
        chasing_the_decision = ("remind_csp_chair", "escalate_overdue_decision") if until == "decide_on_review" else ()
        _advance(sessions, clock, reference, until, answers, by_role, skip=chasing_the_decision)
        with sessions() as s:
            case = runtime.get_case(s, reference)
            yield f"case {reference}: {case.status}" + (f", {case.stage}" if case.stage else "")
    for fired in run_due(sessions, clock, actor="scheduler"):
        yield f"timer fired: {fired.title}"
    yield from _steering_group(sessions, clock, by_role, f"Willow/{year}")
    yield "try: dhr cases list · dhr tasks list · dhr timers list · dhr clock advance P14D · dhr timers run-due"
