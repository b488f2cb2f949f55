"""Seed 001's figures as cases run by the engine: 13 reviews considered, 12 commissioned, 9 completed,
84 recommendations (47 completed, 13 part completed / in progress, 24 awaiting feedback), 12 national.

Every recommendation is created by completing the real action-plan form and every status by the
real quarterly-update form, on a cut-down review diagram (tests/register).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.bpmn import runtime
from engine.bpmn.library import read_folder
from engine.platform.calendar import add_months
from engine.review.register import AWAITING, COMPLETED, IN_PROGRESS

from .conftest import World
from .dhr_driver import PROCESSES

FIXTURE = Path(__file__).parent / "register"
THEME_COUNTS = {
    "Information Sharing and Multi-Agency Working": 19,
    "Agency Specific Policies/Issues": 13,
    "Complex Needs (Alcohol, Drugs, Mental Health)": 12,
    "Awareness Raising and Communication": 11,
    "Awareness and Training for Healthcare Professionals": 8,
    "Risk Assessment": 8,
    "Safeguarding Children": 7,
    "Perpetrators and Bail Issues": 6,
}
# lead agency -> (recommendations, of which awaiting feedback)
AGENCY_COUNTS = {
    "Kent Police": (20, 8),
    "Kent and Medway CCGs": (9, 3),
    "KCC Specialist Children's Services": (8, 8),
    "NHS England (Kent)": (8, 3),
    "Kent Probation": (8, 0),
    "Medway Council": (7, 2),
    "Kent Fire and Rescue": (6, 0),
    "Housing Association": (6, 0),
    "Home Office": (6, 0),  # national
    "Department of Health and Social Care": (6, 0),  # national
}
NATIONAL = {"Home Office", "Department of Health and Social Care"}
PERIOD = (date(2024, 4, 1), date(2026, 3, 31))
PLANS_AGREED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
UPDATES_GIVEN = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
# the nine completed reviews: months from the decision to the approval of the report
MONTHS_TO_APPROVAL = [5, 6, 7, 8, 9, 10, 12, 13, 14]


@dataclass
class Planned:
    agency: str
    theme: str
    status: str  # the register's status key once the updates are in


def planned_recommendations() -> list[Planned]:
    themes = [theme for theme, count in THEME_COUNTS.items() for _ in range(count)]
    agencies: list[tuple[str, bool]] = []
    for agency, (count, awaiting) in AGENCY_COUNTS.items():
        agencies += [(agency, i < awaiting) for i in range(count)]
    plans, in_progress = [], 0
    for (agency, awaiting), theme in zip(agencies, themes, strict=True):
        if awaiting:
            status = AWAITING
        elif in_progress < 13:
            status, in_progress = IN_PROGRESS, in_progress + 1
        else:
            status = COMPLETED
        plans.append(Planned(agency, theme, status))
    return plans


def item(plan: Planned, number: int) -> dict[str, Any]:
    national = plan.agency in NATIONAL
    item = {"recommendation": f"Recommendation {number} for {plan.agency}", "theme": plan.theme,
            "lead_agency": plan.agency, "scope": "National" if national else "Local",
            "smart_action": f"Action {number}", "action_holder": "A. Holder",
            "action_holder_email": "holder@example.org", "target_date": "2026-06-30"}
    if national:
        item["national_body"] = plan.agency
    return item


def deploy(world: World) -> None:
    files = read_folder(FIXTURE)
    for name in ("action_plan.schema.json", "action_update.schema.json"):
        files[name] = (PROCESSES / name).read_text()
    with world.uow() as s:
        runtime.deploy(s, files, actor="test", clock=world.clock)


def holder_name(prefix: str, agency: str) -> str:
    return f"{prefix}.{re.sub(r'[^a-z0-9]+', '-', agency.lower()).strip('-')}"


def agency_holder(world: World, prefix: str, agency: str) -> str:
    """The name of the action holder of `agency` (added the first time it is asked for): only an
    action holder of a recommendation's lead agency may give its update."""
    name = holder_name(prefix, agency)
    if name not in world.users:
        world.user(name, "Action Holder", agency=agency)
    return name


def build(world: World, cst: str, holder: str) -> World:
    """13 reviews considered, 12 commissioned, 9 completed with 84 recommendations, 60 updates given.

    `cst` names a user in `world.users` of the Community Safety Team; each update is given by the
    action holder of its lead agency, `holder.<agency>` (`agency_holder`).
    """
    deploy(world)
    world.clock.set(PLANS_AGREED)
    plans = planned_recommendations()
    planned: dict[tuple[str, int], Planned] = {}
    for index in range(13):
        reference = world.start(f"Case{index:02d}", 2024, process="review_fixture")
        decided = date(2024, 5, 1) + timedelta(days=index)
        review_type = "No review" if index == 12 else "DHR"
        world.complete("decide", {"review_type": review_type, "decision_date": decided.isoformat()}, cst,
                       reference)
        if index >= 9:
            continue
        take = 10 if index < 3 else 9
        mine, plans = plans[:take], plans[take:]
        world.complete("agree_action_plan", {
            "recommendations": [item(p, n) for n, p in enumerate(mine, start=1)],
            "action_plan_agreed_on": PLANS_AGREED.date().isoformat()}, cst, reference)
        approved = add_months(decided, MONTHS_TO_APPROVAL[index])
        world.complete("approve", {"report_approved_on": approved.isoformat()}, cst, reference)
        for number, plan in enumerate(mine, start=1):
            planned[(reference, number - 1)] = plan
    assert not plans
    world.clock.set(UPDATES_GIVEN)
    labels = {COMPLETED: "Completed", IN_PROGRESS: "Part completed / in progress"}
    for task in world.tasks():
        if task.bpmn_id != "give_action_update":
            continue
        with world.db.sessions() as s:
            case = s.get(runtime.Case, task.case_id)
            assert case is not None
            reference = case.reference
            workflow = runtime.load_workflow(case, s)
        number = workflow.get_task_from_id(runtime.UUID(task.id)).data["chase_request"]["reference"]
        plan = planned[(reference, number)]
        if plan.status == AWAITING:
            continue
        answerer = agency_holder(world, holder, plan.agency)
        joined = world.join(answerer, reference)  # only a member may answer; the holder leaves again after
        with world.uow() as s:
            runtime.complete_task(s, task.id, {"action_status": labels[plan.status], "progress_update": "Done so far",
                                               "update_date": UPDATES_GIVEN.date().isoformat()},
                                  user=world.users[answerer], clock=world.clock)
        if joined:
            world.leave(answerer, reference)
    return world
