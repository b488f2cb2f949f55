"""The dashboard: cases by stage, time in stages, six-month deadlines, what falls due in 30 days."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.bpmn.timers import run_due
from engine.platform.models import Timer
from engine.platform.users import find_user
from tests.conftest import World
from tests.dhr_driver import LANE_USERS, START, Dhr, base_policy
from tests.web.conftest import ROLE_USERS, Web, seed_001_world


@pytest.fixture
def two_reviews(web: Web) -> tuple[Web, World, Dhr, Dhr]:
    world = World(web.db, web.clock)
    with web.db.sessions() as s:
        world.users = {name: find_user(s, name) for name in ROLE_USERS}
    for lane, name in LANE_USERS.items():
        if name not in world.users:
            world.user(name, lane)
    from tests.dhr_driver import PROCESSES

    world.deploy(PROCESSES)
    world.clock.set(START)
    decided = Dhr(world, "Rosemary")
    decided.drive(base_policy, {}, step=None, until=lambda d: d.find("draft_terms_of_reference") is not None)
    notified = Dhr(world, "Hazel")
    return web, world, decided, notified


def _rows(page: str, testid: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(rf'data-testid="{testid}">(.*?)</tr>', page, re.S)]


def test_only_the_team_and_the_chairs_have_a_dashboard(web: Web) -> None:
    for username in ROLE_USERS:
        status = web.as_user(username).get("/dashboard").status_code
        assert status == (200 if username in ("cst", "chair", "steering") else 403), username


def test_stages_deadlines_and_what_falls_due(two_reviews: tuple[Web, World, Dhr, Dhr]) -> None:
    web, world, decided, _ = two_reviews
    cst = web.as_user("cst")
    page = cst.get("/dashboard").get_data(as_text=True)
    assert _rows(page, "stage-row") == ["Commissioning the review 1", "Conducting the review 1"]
    # decided on 31 August 2025: the report is due on 28 February 2026, 181 days on
    assert "Rosemary/2025 Conducting the review 28 February 2026 181 days left" in _rows(page, "deadline-row")
    assert "Hazel/2025 Commissioning the review No deadline running –" in _rows(page, "deadline-row")
    times = {row.split(" ")[0]: row for row in _rows(page, "stage-time-row")}
    assert times["Commissioning"].startswith("Commissioning the review 2 0 1")  # 2 through it, median 0 days, 1 in it

    with web.db.sessions() as s:
        timers = {t.title: t.due_at for t in s.scalars(select(Timer).where(Timer.bpmn_id.in_(
            ["deadline_month_away", "deadline_passed"])))}
    assert sorted(timers.values()) == [datetime(2026, 1, 28, 9, 0, tzinfo=UTC), datetime(2026, 3, 1, 9, 0, tzinfo=UTC)]
    reminder = next(title for title, due in timers.items() if due.month == 1)
    breach = next(title for title, due in timers.items() if due.month == 3)
    world.clock.set(datetime(2025, 12, 30, 9, 0, tzinfo=UTC))  # 29 days before the reminder
    due = " | ".join(_rows(cst.get("/dashboard").get_data(as_text=True), "due-row"))
    assert f"Timer: {reminder}" in due and f"Timer: {breach}" not in due
    world.clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    page = cst.get("/dashboard").get_data(as_text=True)
    assert "Rosemary/2025 Conducting the review 28 February 2026 Overdue by 5 days" in _rows(page, "deadline-row")
    assert any(row.startswith("28 January 2026 Overdue Timer") for row in _rows(page, "due-row"))
    run_due(web.db.sessions, world.clock)  # the breach fires: the Home Office and the CSPB are to be told
    page = cst.get("/dashboard").get_data(as_text=True)
    assert "Rosemary/2025 Conducting the review 28 February 2026 Overdue by 5 days" in _rows(page, "deadline-row")


def test_recommendation_target_dates_within_30_days(request: pytest.FixtureRequest, web: Web) -> None:
    world = seed_001_world(request, web)  # target dates 30 June 2026
    # 37 recommendations are not completed; 27 of them in reviews still open (the fixture's review ends
    # once all its holders have answered; the real one goes on until every action is complete)
    steering = web.as_user("steering")
    world.clock.set(datetime(2026, 5, 30, 12, 0, tzinfo=UTC))  # 31 days before
    assert not [r for r in _rows(steering.get("/dashboard").get_data(as_text=True), "due-row")
                if "Recommendation" in r]
    world.clock.set(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    due = [r for r in _rows(steering.get("/dashboard").get_data(as_text=True), "due-row") if "Recommendation" in r]
    assert len(due) == 27 and all(r.startswith("30 June 2026 Recommendation: R") for r in due)
