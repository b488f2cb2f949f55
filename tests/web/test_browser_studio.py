"""The process owner's studio in Debian's chromium: the properties panel edits what the engine reads
(a script, a form file, a timer's example date), the read-only XML follows, and saving deploys it."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest

from engine.platform.calendar import LONDON, add_months, long_date
from tests.conftest import SQLITE_ONLY
from tests.web.conftest import Web, screenshot
from tests.web.test_browser import CHROMIUM, _axe, _sign_in, page, server  # noqa: F401 - the fixtures

if not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true":
    pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped", allow_module_level=True)
pytestmark = SQLITE_ONLY  # the browser path is backend-blind



def _open_studio(page: Any, base: str, path: str) -> None:  # noqa: F811 - page is the fixture
    _sign_in(page, base, "owner")
    page.goto(f"{base}/processes")
    page.get_by_test_id("version-link").first.click()
    page.get_by_test_id(f"edit-{path}").click()
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()


def _select(page: Any, element_id: str) -> None:  # noqa: F811
    """Click the element's shape on the canvas, as a person does (after scrolling it into view)."""
    page.evaluate("id => window.dhrStudio.reveal(id)", element_id)
    page.locator(f'.djs-element[data-element-id="{element_id}"]').first.click()
    page.locator(f'[data-testid="modeler"][data-selected="{element_id}"]').wait_for()


def test_a_process_owner_changes_a_script_in_the_panel_and_deploys_it(web: Web, server: str,  # noqa: F811
                                                                      page: Any) -> None:  # noqa: F811
    _open_studio(page, server, "dhr_review.bpmn")
    assert page.get_by_test_id("xml").get_attribute("readonly") is not None
    screenshot(page.locator('[data-testid="modeler"]'), "studio-opened")

    # the breach timer's example: six calendar months after an example decision today, the morning after
    today = web.clock.now().astimezone(LONDON).date()
    _select(page, "deadline_passed")
    example = page.get_by_test_id("timer-example")
    page.locator('[data-testid="timer-example"][data-status="ok"]').wait_for()
    screenshot(page.get_by_test_id("studio"), "studio-timer")
    assert long_date(add_months(today, 6) + timedelta(days=1)) in example.inner_text()

    _select(page, "start_six_month_clock")
    script = page.locator("#bio-properties-panel-dhr-script")
    assert "add_months(clock_start_date, 6)" in script.input_value()
    assert "add_working_days(day, days)" in page.get_by_test_id("panel-helpers").inner_text()
    assert "monospace" in script.evaluate("e => getComputedStyle(e).fontFamily")  # code, set as code
    screenshot(page.get_by_test_id("studio"), "studio-script")
    script.fill(script.input_value().replace("add_months(clock_start_date, 6)", "add_months(clock_start_date, 12)"))
    page.wait_for_function("() => document.getElementById('xml').value.includes('add_months(clock_start_date, 12)')")

    _select(page, "deadline_passed")
    page.wait_for_function("t => document.querySelector('[data-testid=timer-example]').textContent.includes(t)",
                           arg=long_date(add_months(today, 12) + timedelta(days=1)))

    # a gateway: each outgoing path's condition, edited in place
    _select(page, "more_reports_gw")
    limit = page.locator("#bio-properties-panel-dhr-condition-Flow_more_reports_gw_to_progress_merge")
    assert limit.input_value() == "progress_report_number < max_progress_reports"
    limit.fill("progress_report_number < max_progress_reports - 1")
    page.wait_for_function("() => document.getElementById('xml').value.includes("
                           "'progress_report_number &lt; max_progress_reports - 1')")

    # a message's payload variable
    _select(page, "review_paused_caught")
    assert page.locator("#bio-properties-panel-dhr-message-variable").input_value() == "pause"

    # a user task: its lane and form file, from the diagram
    _select(page, "resume_review")
    assert page.get_by_test_id("panel-lane").inner_text() == "Community Safety Team"
    assert page.locator("#bio-properties-panel-dhr-form").input_value() == "resume_review.schema.json"
    assert _axe(page) == []
    if os.environ.get("DHR_SCREENSHOTS"):
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.evaluate("id => window.dhrStudio.reveal(id)", "resume_review")
            screenshot(page, f"studio-{width}", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

    # typed and saved at once: the panel's last keystrokes are in what is deployed
    page.locator("#bio-properties-panel-dhr-taskDueDate").fill("deadline_reminder_at")
    page.get_by_test_id("deploy").click()
    page.get_by_test_id("flash").wait_for()
    assert "Deployed as version 2" in page.get_by_test_id("flash").inner_text()
    page.goto(f"{server}/processes/2/file?path=dhr_review.bpmn")
    deployed = page.locator("body").inner_text()
    assert "completion_due_date = add_months(clock_start_date, 12)" in deployed
    assert re.search(r'name="formJsonSchemaFilename" value="resume_review.schema.json" />\s*'
                     r'<spiffworkflow:property name="taskDueDate" value="deadline_reminder_at" />', deployed)


def test_the_panel_gives_a_new_task_its_form_and_one_undo_takes_it_back(server: str, page: Any) -> None:  # noqa: F811
    _open_studio(page, server, "commissioning.bpmn")
    page.evaluate("""() => {
        const m = window.dhrModeler, source = m.get('elementRegistry').get('record_notification');
        const task = m.get('modeling').appendShape(source, {type: 'bpmn:UserTask'},
                                                   {x: source.x + 60, y: source.y + 200});
        m.get('modeling').updateProperties(task, {id: 'new_check'});
    }""")
    _select(page, "new_check")
    assert page.get_by_test_id("panel-lane").inner_text() != "No lane"  # created inside a lane
    page.locator("#bio-properties-panel-dhr-form").select_option("screening.schema.json")
    page.locator("#bio-properties-panel-dhr-instructions").fill("Check the notification.")
    page.wait_for_function("() => document.getElementById('xml').value.includes('Check the notification.')")
    xml = page.get_by_test_id("xml").input_value()
    task = xml[xml.index('<bpmn:userTask id="new_check"'):]
    task = task[:task.index("</bpmn:userTask>")]
    assert '<spiffworkflow:property name="formJsonSchemaFilename" value="screening.schema.json" />' in task
    assert ("<spiffworkflow:instructionsForEndUser>Check the notification.</spiffworkflow:instructionsForEndUser>"
            in task)
    # emptying a field takes its element away; undo brings it back
    page.locator("#bio-properties-panel-dhr-instructions").fill("")
    page.wait_for_function("() => !document.getElementById('xml').value.includes('Check the notification.')")
    page.evaluate("() => window.dhrModeler.get('commandStack').undo()")
    page.wait_for_function("() => document.getElementById('xml').value.includes('Check the notification.')")
