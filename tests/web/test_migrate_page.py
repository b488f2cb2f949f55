"""The process owners' page that moves running cases onto a newer version."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from engine.bpmn import runtime
from engine.platform.calendar import long_date
from engine.platform.db import unit_of_work
from engine.platform.models import Case
from engine.platform.users import find_user
from tests.conftest import POSTGRES_IN_SECOND_STEP

from ..conftest import World
from ..dhr_driver import PROCESSES, START, Dhr, base_policy
from ..test_migration import SIX, TWELVE, without_decide
from .conftest import Web

# the page's forms over tests/test_migration.py's engine function
pytestmark = POSTGRES_IN_SECOND_STEP


def _version_of(web: Web, case_id: int) -> int:
    with web.db.sessions() as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.version_id


def test_the_owner_previews_moves_and_is_told_why_a_case_cannot_move(web: Web, tmp_path: Path) -> None:
    old = web.deploy()
    waiting = web.start("Juniper")
    with unit_of_work(web.db.sessions) as s:
        runtime.complete_task(s, web.task(waiting, "record_notification").id, {"notified_on": "2026-08-31"},
                              user=find_user(s, "cst"), clock=web.clock)
    fresh = web.start("Hazel")
    new = web.deploy(without_decide(tmp_path))

    assert web.as_user("cst").get(f"/processes/{new}/migrate").status_code == 403
    owner = web.as_user("owner")
    version_page = owner.get(f"/processes/{new}").get_data(as_text=True)
    assert f'href="/processes/{new}/migrate"' in version_page

    page = owner.get(f"/processes/{new}/migrate").get_data(as_text=True)
    assert page.count('data-testid="migrate-case"') == 2
    assert "It cannot move: the case is at &#39;Decide whether to hold a review&#39;" in page
    assert page.count('data-testid="migrate-button"') == 1
    assert "Decide whether to hold a review (decide)" in page  # the step the new version has no more
    assert "Move to version" in page

    moved = owner.post(f"/processes/{new}/migrate", {"reference": "Hazel/2026"}, follow_redirects=True)
    assert moved.status_code == 200
    assert f"Hazel/2026 now runs on version {new}" in moved.get_data(as_text=True)
    assert _version_of(web, fresh) == new and _version_of(web, waiting) == old

    refused = owner.post(f"/processes/{new}/migrate", {"reference": "Juniper/2026"}, follow_redirects=True)
    assert "cannot move to version" in refused.get_data(as_text=True)
    assert _version_of(web, waiting) == old

    after = owner.get(f"/processes/{new}/migrate").get_data(as_text=True)
    assert after.count('data-testid="migrate-case"') == 1
    history = owner.get(f"/cases/{fresh}/history").get_data(as_text=True)
    assert "Case moved to a new version of its process" in history
    assert f"From version: {old}" in history and f"To version: {new}" in history


def test_a_post_without_the_csrf_token_moves_nothing(web: Web, tmp_path: Path) -> None:
    old = web.deploy()
    case_id = web.start("Hazel")
    new = web.deploy(without_decide(tmp_path))
    owner = web.as_user("owner")
    response = owner.client.post(f"/processes/{new}/migrate", data={"reference": "Hazel/2026"})
    assert response.status_code == 400
    assert _version_of(web, case_id) == old


def test_the_diff_page_shows_a_scripts_old_and_new_lines(web: Web, tmp_path: Path) -> None:
    old = web.deploy(PROCESSES)
    folder = tmp_path / "v2"
    shutil.copytree(PROCESSES, folder)
    path = folder / "dhr_review.bpmn"
    path.write_text(path.read_text().replace(SIX, TWELVE))
    new = web.deploy(folder)
    page = web.as_user("owner").get(f"/processes/diff?from={old}&to={new}").get_data(as_text=True)
    assert "dhr_review.bpmn: changed" in page and "start_six_month_clock" in page
    assert f'<del data-testid="diff-removed">- {SIX}</del>' in page
    assert f'<ins data-testid="diff-added">+ {TWELVE}</ins>' in page


def test_a_case_moved_before_the_decision_shows_the_new_deadline_on_its_page(web: Web, tmp_path: Path) -> None:
    web.deploy(PROCESSES)
    folder = tmp_path / "v2"
    shutil.copytree(PROCESSES, folder)
    (folder / "dhr_review.bpmn").write_text((folder / "dhr_review.bpmn").read_text().replace(SIX, TWELVE))
    world = World(web.db, web.clock)
    world.reload_users()
    web.clock.set(START)
    d = Dhr(world)
    d.drive(base_policy, {}, until=lambda x: x.find("decide_on_review") is not None)
    new = web.deploy(folder)
    owner = web.as_user("owner")
    preview = owner.get(f"/processes/{new}/migrate").get_data(as_text=True)
    assert "Start the six-month clock (start_six_month_clock): script" in preview
    assert owner.post(f"/processes/{new}/migrate", {"reference": d.reference}).status_code == 302
    d.drive(base_policy, {}, until=lambda x: x.world.case(x.reference).deadline_on is not None)
    case = world.case(d.reference)
    assert case.version_id == new
    with web.db.sessions() as s:
        workflow = runtime.load_workflow(case, s)
        start = date.fromisoformat(next(t.data["clock_start_date"] for t in workflow.get_tasks()
                                        if "clock_start_date" in t.data))
    twelve_months = date(start.year + 1, start.month, start.day)
    assert case.deadline_on == twelve_months
    page = owner.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f'data-testid="report-due">{long_date(twelve_months)}' in page
