"""In Debian's chromium, at 1280 and 390 px: a process owner breaks a diagram in the studio, validates it
and sees the problem marked on its element and listed (deploying is off), fixes it and validates clean;
then edits a form's question and sees the preview drawn as staff will see it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SQLITE_ONLY
from tests.web.conftest import screenshot
from tests.web.test_browser import _axe, _sign_in, page, server  # noqa: F401  (fixtures)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = SQLITE_ONLY  # the browser path is backend-blind

BREAK = """() => {
    const m = window.dhrModeler, task = m.get('elementRegistry').get('set_decision_deadline');
    m.get('modeling').updateProperties(task, {script: 'decision_due = add_months(notified_on, 1'});
}"""
FIX = """() => {
    const m = window.dhrModeler, reg = m.get('elementRegistry');
    m.get('modeling').updateProperties(reg.get('set_decision_deadline'), {script: 'decision_due = 1'});
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_a_process_owner_sees_problems_on_the_canvas_and_previews_a_form(server: str, page: Any,  # noqa: F811
                                                                          width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in(page, server, "owner")
    page.goto(f"{server}/processes/1/edit?path=commissioning.bpmn")
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()
    panel = page.get_by_test_id("studio-problems")
    deploy = page.get_by_test_id("deploy")

    page.evaluate(BREAK)
    page.get_by_test_id("validate").click()
    page.locator('[data-testid="studio-problems"][data-state="done"]').wait_for()
    assert panel.get_attribute("data-errors") == "1"
    item = page.locator('[data-testid="problem-item"][data-element="set_decision_deadline"]')
    assert "cannot run" in item.inner_text()
    assert page.locator('.djs-element.dhr-problem-error[data-element-id="set_decision_deadline"]').count() == 1
    assert page.get_by_test_id("problem-marker-set_decision_deadline").is_visible()
    assert deploy.is_disabled()
    item.locator("a").click()  # selects and centres the element
    assert page.evaluate("() => window.dhrModeler.get('selection').get().map(e => e.id)") == ["set_decision_deadline"]
    box, canvas = (page.locator('[data-element-id="set_decision_deadline"]').first.bounding_box(),
                   page.get_by_test_id("modeler").bounding_box())
    assert box and canvas
    assert abs(box["x"] + box["width"] / 2 - (canvas["x"] + canvas["width"] / 2)) < 30
    assert _axe(page) == []
    screenshot(page.get_by_test_id("modeler"), f"studio-marker-{width}")
    screenshot(page, f"studio-problems-{width}", full_page=True)

    page.evaluate(FIX)
    page.get_by_test_id("validate").click()
    page.locator('[data-testid="studio-problems"][data-state="done"]').wait_for()
    assert panel.get_attribute("data-errors") == "0"
    assert "No errors found" in page.get_by_test_id("problems-status").inner_text()
    assert page.locator(".djs-element.dhr-problem-error").count() == 0
    assert not deploy.is_disabled()

    # a user task opens its form; a question's new title shows in the preview at once
    page.evaluate("""() => {
        const m = window.dhrModeler;
        m.get('selection').select(m.get('elementRegistry').get('screen_case'));
    }""")
    preview = page.get_by_test_id("form-preview")
    page.locator('[data-testid="form-preview"][data-state="ready"]').wait_for()
    assert page.get_by_test_id("form-file").input_value() == "screening.schema.json"
    assert "Does the death meet the statutory definition of a DHR?" in preview.inner_text()
    text = page.get_by_test_id("form-text")
    text.fill(text.input_value().replace("Does the death meet the statutory definition of a DHR?",
                                         "Is this death within the statutory definition?"))
    page.wait_for_function("() => document.querySelector('[data-testid=\"form-preview\"]').innerText"
                           ".includes('Is this death within the statutory definition?')")
    assert "screening.schema.json" in page.get_by_test_id("draft-files").input_value()
    page.get_by_test_id("form-preview").scroll_into_view_if_needed()
    screenshot(page, f"studio-forms-{width}", full_page=True)

    # example answers are checked as a submission would be: the errors beside the fields
    page.get_by_test_id("studio-forms").locator(".govuk-details__summary").click()
    page.get_by_test_id("check-answers").click()
    page.locator('[data-testid="form-preview"][data-state="checked"]').wait_for()
    assert preview.get_by_test_id("error-summary").is_visible()
    assert preview.get_by_test_id("error-definition_met").is_visible()
    assert _axe(page) == []

    # broken JSON: the preview says where; validating lists the form's problem
    text.fill('{\n  "title": "Screening",\n  "type" "object"\n}')
    page.locator('[data-testid="form-preview"][data-state="invalid"]').wait_for()
    assert "line 3, column 10" in preview.inner_text()
    assert "line 3, column 10" in page.get_by_test_id("form-text-error").inner_text()  # and next to the box
    assert _axe(page) == []
    screenshot(page.get_by_test_id("studio-forms"), f"studio-form-error-{width}")
    page.get_by_test_id("validate").click()
    page.locator('[data-testid="studio-problems"][data-state="done"]').wait_for()
    assert "screening.schema.json" in page.get_by_test_id("problems-errors").inner_text()
    assert deploy.is_disabled()


def test_a_draft_refused_on_deploying_comes_back_with_its_problems_marked(server: str, page: Any) -> None:  # noqa: F811
    _sign_in(page, server, "owner")
    page.goto(f"{server}/processes/1/edit?path=commissioning.bpmn")
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()
    page.evaluate(BREAK)
    page.locator('[data-testid="modeler-form"][data-synced="true"]').wait_for()
    page.get_by_test_id("deploy").click()  # not validated first: the server refuses it
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()
    page.locator('.djs-element.dhr-problem-error[data-element-id="set_decision_deadline"]').wait_for()
    assert page.locator('[data-testid="problem-item"][data-element="set_decision_deadline"]').count() == 1
    assert page.get_by_test_id("deploy").is_disabled()
    assert _axe(page) == []


def test_bpmnlints_rules_run_in_the_browser_with_the_engines_checks(server: str, page: Any) -> None:  # noqa: F811
    _sign_in(page, server, "owner")
    page.goto(f"{server}/processes/1/edit?path=commissioning.bpmn")
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()
    page.get_by_test_id("validate").click()
    page.locator('[data-testid="studio-problems"][data-state="done"]').wait_for()
    assert page.get_by_test_id("studio-problems").get_attribute("data-errors") == "0"
    page.evaluate("""() => {  // an unnamed task joined to nothing, in the commissioning lane
        const m = window.dhrModeler, reg = m.get('elementRegistry'), lane = reg.get('set_decision_deadline').parent;
        const task = m.get('bpmnFactory').create('bpmn:Task', {id: 'loose_task'});
        m.get('modeling').createShape({type: 'bpmn:Task', businessObject: task}, {x: 1200, y: 400}, lane);
    }""")
    # once validated, the lint follows each change at once
    item = page.locator('[data-testid="problem-item"][data-element="loose_task"]').first
    item.wait_for()
    assert "bpmnlint" in item.inner_text() and item.get_attribute("data-severity") == "error"
    assert page.locator('.djs-element.dhr-problem-error[data-element-id="loose_task"]').count() == 1
    assert page.get_by_test_id("deploy").is_disabled()
    assert "validate again" in page.get_by_test_id("problems-status").inner_text()
