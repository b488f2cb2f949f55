"""Drives cases of the real DHR process (processes/) through the real engine, for scenario tests.

Every task is completed with data that satisfies its form (the form's required fields, filled in
from the JSON Schema, plus what a scenario says), by a user whose role is the task's lane; time
moves only by the test's clock, and timers fire through `run_due`, as the scheduler fires them.
All names are fictional.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from engine.bpmn import runtime
from engine.bpmn.forms import example_answers
from engine.bpmn.timers import run_due
from engine.platform.models import OpenTask, Timer

from .conftest import World

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
LONDON = ZoneInfo("Europe/London")
LANE_USERS = {
    "Community Safety Team": "cst",
    "CSP Chair": "chair",
    "Independent Chair": "ichair",
    "Panel": "panel",
    "Family Liaison": "flo",
    "Steering Group": "steering",
    "Action Holder": "holder",
}
# An update on a recommendation is given by an action holder of its lead agency (the action plan of
# `base_policy` has one recommendation for the police and one for a GP practice).
AGENCY_HOLDERS = {"Police": "holder", "GP practice": "gp.holder"}


def doer(lane: str | None, agency: str | None) -> str:
    """Who does a task of `lane`; for an agency's action update, that agency's action holder."""
    if lane == "Action Holder" and agency in AGENCY_HOLDERS:
        return AGENCY_HOLDERS[agency]
    return LANE_USERS[lane or ""]

START = datetime(2025, 8, 31, 8, 0, tzinfo=UTC)  # 09:00 in London (the `dhr` fixture's clock)


Policy = Callable[["Dhr", OpenTask, dict[str, Any]], dict[str, Any]]


def add_months(day: str, months: int) -> str:
    return (date.fromisoformat(day) + relativedelta(months=months)).isoformat()


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


class Dhr:
    """One DHR case, driven step by step."""

    def __init__(self, world: World, pseudonym: str = "Rosemary", year: int = 2025) -> None:
        self.world = world
        self.reference = world.start(pseudonym, year, process="dhr_review")
        self.done: list[tuple[str, str, datetime]] = []  # (bpmn id, lane, when)

    # -- reading ----------------------------------------------------------------------------
    def today(self) -> str:
        return self.world.clock.now().astimezone(LONDON).date().isoformat()

    def open(self) -> list[OpenTask]:
        return self.world.tasks(self.reference)

    def find(self, bpmn_id: str, where: Callable[[OpenTask], bool] | None = None) -> OpenTask | None:
        return next((t for t in self.open() if t.bpmn_id == bpmn_id and (where is None or where(t))), None)

    def all(self, bpmn_id: str) -> list[OpenTask]:
        return [t for t in self.open() if t.bpmn_id == bpmn_id]

    def data(self, task: OpenTask) -> dict[str, Any]:
        with self.world.db.sessions() as s:
            case = runtime.get_case(s, self.reference)
            workflow = runtime.load_workflow(case, s)
            runtime.WORKFLOWS.put(case.id, case.state, workflow)
            found = workflow.get_task_from_id(UUID(task.id))
            return dict(found.data) if found is not None else {}

    def agency(self, task: OpenTask) -> str | None:
        request = self.data(task).get("chase_request")
        return request.get("agency") if isinstance(request, dict) else None

    def timers(self) -> dict[str, list[datetime]]:
        found: dict[str, list[datetime]] = {}
        with self.world.db.sessions() as s:
            case_id = runtime.get_case(s, self.reference).id
            for timer in s.scalars(select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at)):
                found.setdefault(timer.bpmn_id, []).append(timer.due_at)
        return found

    def count(self, bpmn_id: str) -> int:
        return sum(1 for done, _, _ in self.done if done == bpmn_id)

    def status(self) -> str:
        return self.world.case(self.reference).status

    # -- acting -----------------------------------------------------------------------------
    def complete(self, task: OpenTask, overrides: dict[str, Any] | None = None) -> None:
        schema = self._schema(task)
        answers = example_answers(schema, self.today())
        answers.update(overrides or {})
        user = doer(task.lane, self.agency(task) if task.lane == "Action Holder" else None)
        self.world.join(user, self.reference)
        with self.world.uow() as s:
            runtime.complete_task(s, task.id, answers, user=self.world.users[user], clock=self.world.clock)
        self.done.append((task.bpmn_id, task.lane or "", self.world.clock.now()))

    def send(self, message: str, payload: Any) -> None:
        with self.world.uow() as s:
            runtime.send_message(s, self.reference, message, payload, actor="test", clock=self.world.clock)

    def next_timer(self) -> bool:
        """Move the clock to the case's next timer and fire what is due; False if none waits."""
        due = min((d for dues in self.timers().values() for d in dues), default=None)
        if due is None:
            return False
        if due > self.world.clock.now():
            self.world.clock.set(due)
        run_due(self.world.db.sessions, self.world.clock)
        return True

    def drive(self, policy: Policy, ctx: dict[str, Any], *, until: Callable[[Dhr], bool] | None = None,
              step: timedelta | None = timedelta(days=2), hold: Callable[[OpenTask], bool] | None = None,
              max_steps: int = 2000) -> None:
        """Complete open tasks (the oldest first) and fire timers until `until` (default: the case closes)."""
        done = until or (lambda d: d.status() == "completed")
        for _ in range(max_steps):
            if done(self):
                return
            tasks = [t for t in self.open() if not (hold and hold(t))]
            if tasks:
                task = tasks[0]
                self.complete(task, policy(self, task, ctx))
                if step:
                    self.world.clock.advance(step)
                    run_due(self.world.db.sessions, self.world.clock)
                continue
            if not self.next_timer():
                assert done(self), f"stuck with nothing to do: {[t.bpmn_id for t in self.open()]}"
                return
        raise AssertionError("too many steps")

    def _schema(self, task: OpenTask) -> dict[str, Any]:
        if not task.form:
            return {"type": "object", "properties": {}}
        return json.loads((PROCESSES / task.form).read_text())


def base_policy(d: Dhr, task: OpenTask, ctx: dict[str, Any]) -> dict[str, Any]:
    """Answers for the tasks whose answers steer the case; scenarios set `ctx` to vary them."""
    today, name = d.today(), task.bpmn_id
    if name == "record_notification":
        return dict(victim_name="Alex Example",
                    victim_date_of_birth="1980-03-04", date_of_death="2025-08-20", victim_age=45,
                    notification_date=today, suspected_suicide=ctx.get("suicide", False),
                    parallel_processes=["Inquest", "Criminal trial"], relationship="Former intimate partner",
                    circumstances="A factual summary from the police.")
    if name == "screen_case":
        return dict(agencies=[{"agency": "Police", "contact_email": "police@example.org"},
                              {"agency": "NHS Trust", "contact_email": "nhs@example.org"}],
                    screening_recommendation="DHR")
    if name == "decide_on_review":
        return dict(review_type=ctx.get("review_type", "DHR"), decision_date=today)
    if name == "record_home_office_response":
        return dict(home_office_response=ctx.get("ho_response", "Home Office accepts the decision"),
                    home_office_response_date=today)
    if name == "draft_terms_of_reference":
        return dict(imr_agencies=[
            {"agency": "Police", "contact_email": "police@example.org",
             "report_type": "Individual Management Review (IMR)"},
            {"agency": "GP practice", "contact_email": "gp@example.org", "report_type": "Short report"}])
    if name == "record_criminal_proceedings":
        return dict(new_timescale_needed=bool(ctx.get("new_timescale")), pause_review=bool(ctx.get("pause")))
    if name == "record_new_timescale":
        return dict(new_completion_date=ctx["new_timescale"], timescale_agreed_on=today)
    if name == "agree_action_plan":
        return dict(recommendations=[
            {"recommendation": "Share risk information at MARAC",
             "theme": "Information Sharing and Multi-Agency Working", "lead_agency": "Police", "scope": "Local",
             "smart_action": "Train all domestic abuse officers by June", "action_holder": "Example Officer",
             "action_holder_email": "officer@example.org", "target_date": add_months(today, 6)},
            {"recommendation": "Routine enquiry in primary care",
             "theme": "Awareness and Training for Healthcare Professionals", "lead_agency": "GP practice",
             "scope": "Local", "smart_action": "Add routine enquiry to templates",
             "action_holder": "Example Doctor", "action_holder_email": "doctor@example.org",
             "target_date": add_months(today, 9)}])
    if name == "panel_sign_off":
        rounds = ctx["panel_rounds"] = ctx.get("panel_rounds", 0) + 1
        return dict(panel_signed_off=rounds > ctx.get("panel_rejections", 0))
    if name == "cspb_sign_off":
        rounds = ctx["cspb_rounds"] = ctx.get("cspb_rounds", 0) + 1
        agreed = rounds > ctx.get("cspb_rejections", 0)
        return dict(cspb_decision="Signed off" if agreed else "Disagrees: clarification or changes needed",
                    cspb_feedback="Clarify the findings on risk assessment", cspb_resubmit_by=add_days(today, 14))
    if name == "record_home_office_qa_response":
        rounds = ctx["ho_rounds"] = ctx.get("ho_rounds", 0) + 1
        approved = rounds > ctx.get("ho_rejections", 0)
        return dict(home_office_qa_outcome="Approved for publication" if approved else "Changes requested",
                    home_office_feedback="Strengthen the victim's voice")
    if name == "agree_publication_date":
        dates = ctx.get("publication_dates", [])
        rounds = ctx["pub_rounds"] = ctx.get("pub_rounds", 0) + 1
        return dict(publication_date=dates[rounds - 1] if rounds <= len(dates) else add_days(today, 40))
    if name == "give_action_update":
        updates = ctx.setdefault("updates", {})
        reference = d.data(task)["chase_request"]["reference"]
        updates[reference] = updates.get(reference, 0) + 1
        finished = updates[reference] >= (1 if reference == 0 else 2)
        return dict(action_status="Completed" if finished else "Part completed / in progress")
    if name == "complaint_investigation":
        return dict(mediator_needed=True)
    if name == "record_agreed_extension":
        extension = ctx["extensions"].pop(0)
        if extension is None:
            return dict(extension_outcome="Review on hold until a new timescale is agreed")
        return dict(extension_outcome="New completion date agreed", extension_completion_date=extension)
    return {}
