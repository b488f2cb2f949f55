"""The process owner's studio end to end, in Debian's chromium, without touching XML (the README's guided
example): select the six-month clock's script on the canvas, change 6 to 12 in the properties panel, try the
draft and see the trial's deadline move by six months, deploy, move a running case onto the new version and,
once the CSP chair has decided, see its twelve-month deadline on the case page."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.bpmn import runtime
from engine.platform.calendar import LONDON, add_months, long_date

from ..conftest import SQLITE_ONLY, World
from ..dhr_driver import START, Dhr, base_policy
from .conftest import PROCESSES, Web
from .test_browser import _axe, _sign_in, page  # noqa: F401 - the browser fixture
from .test_browser_studio import _select

pytestmark = [SQLITE_ONLY, pytest.mark.long]
# The trial answers the first three steps the day they open, so its decision falls on the app's today.
AT_ONCE = json.dumps({"record_notification": {"@after": "P0D"}, "screen_case": {"@after": "P0D"},
                      "decide_on_review": {"@after": "P0D"}})
LONG = 600_000  # a trial replays a year of a case: give it time on a busy machine


@pytest.fixture
def journey(web: Web) -> Iterator[tuple[str, Dhr]]:
    """Version 1 deployed, and a running case waiting for the CSP chair's decision (no deadline yet)."""
    web.deploy(PROCESSES)
    world = World(web.db, web.clock)
    world.reload_users()
    web.clock.set(START)
    case = Dhr(world)
    case.drive(base_policy, {}, until=lambda x: x.find("decide_on_review") is not None)
    assert world.case(case.reference).deadline_on is None
    httpd = make_server("127.0.0.1", 0, web.app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", case
    httpd.shutdown()


def _trial_deadline(page: Any) -> date:  # noqa: F811
    page.get_by_test_id("trial-run").click()
    page.locator('[data-testid="trial-panel"][data-state="done"]').wait_for(timeout=LONG)
    row = page.locator('[data-testid="trial-event"][data-kind="deadline"][data-element="deadline_passed"]')
    assert row.count() == 1, page.get_by_test_id("trial-results").inner_text()[:2000]
    return date.fromisoformat(str(row.get_attribute("data-day")))


def test_a_process_owner_moves_the_deadline_to_twelve_months_and_a_running_case_with_it(
        web: Web, journey: tuple[str, Dhr], page: Any) -> None:  # noqa: F811
    base, case = journey
    today = web.clock.now().astimezone(LONDON).date()
    _sign_in(page, base, "owner")
    page.goto(f"{base}/processes")
    page.get_by_test_id("version-link").first.click()
    page.get_by_test_id("edit-dhr_review.bpmn").click()
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()

    # the trial as deployed: six calendar months from the decision
    page.get_by_test_id("trial-until").select_option("12 months")
    page.get_by_text("Example answers (optional)").click()
    page.get_by_test_id("trial-data").fill(AT_ONCE)
    assert _trial_deadline(page) == add_months(today, 6)

    # the script that starts the clock, selected on the canvas and changed in the properties panel
    _select(page, "start_six_month_clock")
    script = page.locator("#bio-properties-panel-dhr-script")
    script.fill(script.input_value().replace("add_months(clock_start_date, 6)", "add_months(clock_start_date, 12)"))
    page.locator('[data-testid="modeler-form"][data-synced="true"]').wait_for()
    assert _trial_deadline(page) == add_months(today, 12)  # the trial's deadline moved by six months

    page.get_by_test_id("validate").click()
    page.locator('[data-testid="studio-problems"][data-state="done"]').wait_for()
    assert page.get_by_test_id("studio-problems").get_attribute("data-errors") == "0"
    page.get_by_test_id("deploy").click()
    page.get_by_test_id("flash").wait_for()
    assert "Deployed as version 2" in page.get_by_test_id("flash").inner_text()

    # what changed, in words, then the running case moved onto version 2
    page.get_by_test_id("diff-link").click()
    assert page.get_by_test_id("diff-added").inner_text() == "+ completion_due_date = add_months(clock_start_date, 12)"
    page.go_back()
    page.get_by_test_id("migrate-link").click()
    card = page.get_by_test_id("migrate-case").filter(has_text=case.reference)
    assert "start_six_month_clock" in card.inner_text()
    assert _axe(page) == []
    card.get_by_test_id("migrate-button").click()
    page.get_by_test_id("flash").wait_for()
    assert f"{case.reference} now runs on version 2" in page.get_by_test_id("flash").inner_text()

    # the CSP chair decides (the engine's own doors, as the chair's form would); the case page shows the new deadline
    case.drive(base_policy, {}, until=lambda x: x.world.case(x.reference).deadline_on is not None)
    moved = case.world.case(case.reference)
    with web.db.sessions() as s:
        decided = next(t.data["clock_start_date"] for t in runtime.load_workflow(moved, s).get_tasks()
                       if "clock_start_date" in t.data)
    assert moved.version_id == 2
    assert moved.deadline_on == add_months(date.fromisoformat(str(decided)), 12)
    page.goto(f"{base}/cases/{moved.id}")
    assert page.get_by_test_id("report-due").inner_text().startswith(long_date(moved.deadline_on))
