"""Demo data for the quick start and for training: users, diagrams and cases at several stages.

Runs on the simulated clock's time, so a trainer can move time on with `dhr clock advance` and
watch reminders and escalations fire with `dhr timers run-due`. All names are fictional.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from . import runtime, users
from .clock import Clock, SettableClock, SimulatedClock
from .db import unit_of_work
from .library import read_folder
from .models import Case, OpenTask, SimulatedTime
from .settings import PROJECT_ROOT, Settings
from .timers import run_due

DEMO_DIAGRAMS = PROJECT_ROOT / "tests" / "diagrams"  # the DHR process replaces these when it lands
DEMO_PASSWORD = "demo-password-123"
DEMO_USERS = [
    ("cst.officer", "Community Safety Team", "Borough Council"),
    ("csp.chair", "CSP Chair", "Community Safety Partnership"),
    ("panel.police", "Panel", "Police"),
]
ACTOR = "demo"


def _complete(sessions: sessionmaker[Session], clock: Clock, reference: str, bpmn_id: str, data: dict[str, Any],
              username: str) -> None:
    with unit_of_work(sessions) as s:
        case = runtime.get_case(s, reference)
        task = s.scalars(select(OpenTask).where(OpenTask.case_id == case.id, OpenTask.bpmn_id == bpmn_id)).one()
        runtime.complete_task(s, task.id, data, user=users.find_user(s, username), clock=clock)


def seed(sessions: sessionmaker[Session], settings: Settings, force: bool = False,
         folder: Path = DEMO_DIAGRAMS) -> Iterator[str]:
    """Add the demo data, saying what it did line by line."""
    with sessions() as s:
        if s.scalars(select(Case.id)).first() is not None and not force:
            yield "the database already has cases: no demo data added (use --force to add more)"
            return
    simulated = settings.clock == "simulated"
    start = datetime.fromisoformat("2026-06-01T09:00:00+01:00")
    with unit_of_work(sessions) as s:
        if simulated and s.get(SimulatedTime, 1) is None:
            s.add(SimulatedTime(id=1, now=start))
    clock: Clock = SettableClock(SimulatedClock(sessions.kw["bind"]).now()) if simulated else SettableClock(start)

    with unit_of_work(sessions) as s:
        version, created = runtime.deploy(s, read_folder(folder), actor=ACTOR, clock=clock)
    yield f"{'deployed' if created else 'using'} process version {version.id} from {folder}"
    with unit_of_work(sessions) as s:
        for name, role, agency in DEMO_USERS:
            if s.scalars(select(users.User).where(users.User.username == name)).first() is None:
                users.add_user(s, name, role=role, agency=agency, password=DEMO_PASSWORD, actor=ACTOR, clock=clock)
                yield f"user {name} ({role}), password {DEMO_PASSWORD}"

    plans: dict[str, list[tuple[str, dict[str, Any], str]]] = {
        "Hazel": [],
        "Iris": [("record_notification", {"notified_on": "2026-04-20"}, "cst.officer")],
        "Rosemary": [("record_notification", {"notified_on": "2026-05-26"}, "cst.officer"),
                     ("decide", {"outcome": "DHR", "reason": "Meets the statutory criteria."}, "csp.chair")],
        "Juniper": [("record_notification", {"notified_on": "2026-05-28", "suspected_suicide": True}, "cst.officer"),
                    ("decide", {"outcome": "No review", "reason": "Referred to the safeguarding board."},
                     "csp.chair")],
    }
    year = clock.now().year
    for pseudonym, steps in plans.items():
        reference = f"{pseudonym}/{year}"
        with unit_of_work(sessions) as s:
            if s.scalars(select(Case.id).where(Case.reference == reference)).first() is not None:
                continue
            runtime.start_case(s, process_id="review_demo", pseudonym=pseudonym, year=year, data={}, actor=ACTOR,
                               clock=clock)
        for bpmn_id, data, username in steps:
            _complete(sessions, clock, reference, bpmn_id, data, username)
        yield f"case {reference}"
    for fired in run_due(sessions, clock, actor="scheduler"):
        yield f"timer fired: {fired.title} (case {fired.case_id})"
    yield "try: dhr cases list · dhr tasks list · dhr timers list · dhr clock advance P14D · dhr timers run-due"
