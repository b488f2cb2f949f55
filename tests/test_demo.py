"""The quick start's demo data: DHR cases at several stages, one overdue, on the simulated clock."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from engine.platform import access
from engine.platform.models import Case, OpenTask, SimulatedTime, User
from engine.platform.settings import Settings
from engine.review import costs, register
from engine.review.demo import DEMO_USERS, seed
from engine.review.meetings import Meeting
from engine.review.register import Recommendation

from .conftest import Db


@pytest.mark.long
def test_demo_seeds_cases_at_several_stages_once(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_CLOCK", "simulated")
    lines = list(seed(db.sessions, Settings()))
    assert "case Juniper/2026: completed" in lines
    with db.sessions() as s:
        cases = {c.reference: c for c in s.scalars(select(Case))}
        assert {c.stage for c in cases.values() if c.status == "open"} == {
            "Commissioning the review", "Conducting the review", "Dissemination and learning"}
        statuses = Counter(r.status for r in s.scalars(select(Recommendation)))
        assert statuses == {"awaiting_feedback": 2, "in_progress": 1, "completed": 1}  # Willow's action plan
        [meeting] = s.scalars(select(Meeting)).all()
        assert meeting.quorate and meeting.report is not None
        assert sum(t.total for t in costs.totals_by_year(s)) == 1085000
        assert cases["Juniper/2026"].status == "completed"
        tasks = {(t.case_id, t.bpmn_id) for t in s.scalars(select(OpenTask))}
        assert (cases["Iris/2026"].id, "escalate_overdue_decision") in tasks  # the overdue decision
        assert (cases["Rosemary/2026"].id, "draft_terms_of_reference") in tasks
        assert {u.username for u in s.scalars(select(User))} == {name for name, _, _ in DEMO_USERS}
        panel = s.scalars(select(User).where(User.username == "panel.police")).one()
        assert access.may_see_case(s, panel, cases["Rosemary/2026"].id)
        assert s.get(SimulatedTime, 1) is not None
        # an action holder of each lead agency, and each update given by its own agency's holder
        people = {u.username: u for u in s.scalars(select(User))}
        holders = {access.name_key(u.agency or "") for u in people.values() if u.role == "Action Holder"}
        recs = list(s.scalars(select(Recommendation)))
        assert {access.name_key(r.lead_agency) for r in recs} <= holders
        given = [(r, e.actor) for r in recs for e in r.events if e.kind == "update"]
        assert len(given) == 2
        assert all(register.of_lead_agency(people[actor], rec) for rec, actor in given)
    assert list(seed(db.sessions, Settings()))[0].startswith("the database already has cases")
