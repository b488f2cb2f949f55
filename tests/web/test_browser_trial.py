"""The studio's "Try it" panel in Debian's chromium: a process owner changes the six-month rule to twelve in the
modeler, tries the draft and sees the completion deadline move by six months, marked on the diagram."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import SQLITE_ONLY
from tests.web import test_browser
from tests.web.conftest import screenshot
from tests.web.test_browser import _axe, _sign_in

pytestmark = SQLITE_ONLY
server, page = test_browser.server, test_browser.page  # the fixtures, shared
AT_ONCE = json.dumps({"record_notification": {"@after": "P0D"}, "screen_case": {"@after": "P0D"},
                      "decide_on_review": {"@after": "P0D"}})
LONG = 600_000  # a trial replays months of a case in the scratch database: give it time on a busy machine


def _try(page: Any) -> str:
    page.get_by_test_id("trial-run").click()
    page.locator('[data-testid="trial-panel"][data-state="done"]').wait_for(timeout=LONG)
    deadline = page.locator('[data-testid="trial-event"][data-kind="deadline"][data-element="deadline_passed"]')
    assert deadline.count() == 1, page.get_by_test_id("trial-results").inner_text()[:2000]
    return str(deadline.get_attribute("data-day"))


def test_a_process_owner_tries_a_twelve_month_rule_and_sees_the_deadline_move(server: str, page: Any) -> None:
    _sign_in(page, server, "owner")
    page.goto(f"{server}/processes/1/edit?path=dhr_review.bpmn")
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()
    page.get_by_test_id("trial-until").select_option("12 months")
    page.get_by_text("Example answers (optional)").click()
    page.get_by_test_id("trial-data").fill(AT_ONCE)
    # the app's clock says 31 August 2026, the day the trial decides: six calendar months on is 28 February
    assert _try(page) == "2027-02-28"
    row = page.locator('[data-testid="trial-event"][data-kind="deadline"]')
    assert row.get_by_test_id("trial-date").inner_text() == "28 February 2027"
    assert page.locator(".djs-element.dhr-trial-passed").count() >= 3  # the stages and the clock it went through
    assert page.locator('.djs-element.dhr-trial-passed[data-element-id="stage_commissioning"]').count() == 1

    page.evaluate("""() => {
        const m = window.dhrModeler, el = m.get('elementRegistry').get('start_six_month_clock');
        const six = 'add_months(clock_start_date, 6)', twelve = 'add_months(clock_start_date, 12)';
        m.get('modeling').updateProperties(el, {script: el.businessObject.script.replace(six, twelve)});
    }""")
    page.locator('[data-testid="modeler-form"][data-synced="true"]').wait_for()
    assert _try(page) == "2027-08-31"
    reminder = page.locator('[data-testid="trial-event"][data-kind="timer"][data-element="deadline_month_away"]')
    assert reminder.first.get_attribute("data-day") == "2027-07-31"

    # a row, hovered, highlights its element on the diagram
    page.locator('[data-testid="trial-event"][data-element="stage_commissioning"]').first.hover()
    assert page.locator('.djs-element.dhr-trial-current[data-element-id="stage_commissioning"]').count() == 1
    assert _axe(page) == []
    screenshot(page, "trial-1280", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the rows stack, nothing scrolls sideways
    table = page.get_by_test_id("trial-timeline")
    box = table.bounding_box()
    assert box is not None and box["width"] <= 390
    assert table.locator("tbody tr").first.evaluate("r => getComputedStyle(r).display") == "block"
    top = page.get_by_test_id("trial-panel").evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    screenshot(page, "trial-390", full_page=True, clip={"x": 0, "y": top, "width": 390, "height": 1800})
