"""In Debian's chromium, at 1280 and 390 px: the Community Safety Team starts a case from the web
(Enter in a field submits) and lands on the notification form; a question is revealed only by the
answer it depends on (an IMR's recommendations, not asked of a nil return)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.bpmn.library import read_folder
from tests.conftest import SQLITE_ONLY
from tests.web.conftest import PROCESSES, Web, new_page, screenshot
from tests.web.test_browser import _axe, _sign_in
from tests.web.test_hostile_input import all_forms_diagram

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = SQLITE_ONLY  # the browser path is backend-blind
WIDTHS = [1280, 390]


@pytest.fixture
def server(web: Web, tmp_path: Path) -> Iterator[str]:
    files = read_folder(PROCESSES)
    files["all_forms.bpmn"] = all_forms_diagram(["imr.schema.json"])  # a case waiting on an IMR at once
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    web.deploy(tmp_path)
    httpd = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def page(request: pytest.FixtureRequest, chromium: Any) -> Iterator[Any]:
    with new_page(chromium, request.param) as page:
        yield page


def _fits(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def _shot(page: Any, name: str) -> None:
    screenshot(page, f"{name}-{page.viewport_size['width']}", full_page=True)


def test_the_community_safety_team_starts_a_case_from_the_web(server: str, page: Any) -> None:
    _sign_in(page, server, "cst")
    page.goto(f"{server}/cases")
    page.get_by_test_id("start-case").click()
    page.get_by_test_id("start-case-form").wait_for()
    assert _axe(page) == [] and _fits(page)
    page.get_by_label("Domestic Homicide Review").check()
    page.get_by_test_id("field-pseudonym").fill("Hazel")
    page.get_by_test_id("field-year").fill("2027")
    page.get_by_test_id("field-year").press("Enter")  # Enter submits: the engine refuses a year to come
    page.get_by_test_id("error-summary").wait_for()
    assert "The year must be 2026 or earlier" in page.get_by_test_id("error-year").inner_text()
    assert page.get_by_test_id("field-pseudonym").input_value() == "Hazel"  # what was typed stays
    assert _axe(page) == [] and _fits(page)
    _shot(page, "start-case-error")
    page.get_by_test_id("field-year").fill("2026")
    page.get_by_test_id("field-year").press("Enter")
    page.get_by_test_id("task-form").wait_for()
    assert page.get_by_test_id("task-title").inner_text() == "Record the notification of a death"
    assert "Hazel/2026 is started" in page.get_by_test_id("flash").inner_text()
    assert page.get_by_test_id("task-case").inner_text().startswith("Hazel/2026")
    assert page.locator('[name="case_pseudonym"], [name="case_year"]').count() == 0
    assert page.get_by_test_id("instructions").count() == 1 and page.get_by_test_id("form-description").count() == 0
    none = page.get_by_test_id("field-parallel_processes-none")
    page.get_by_test_id("field-parallel_processes-0").check()
    none.check()  # "None known so far" clears the others
    assert not page.get_by_test_id("field-parallel_processes-0").is_checked()
    assert _axe(page) == [] and _fits(page)
    _shot(page, "notification-form")


def test_a_question_is_revealed_only_by_the_answer_it_depends_on(server: str, page: Any, web: Web) -> None:
    case_id = web.start("Iris", process="all_forms")
    task = web.task(case_id, "form_0")
    _sign_in(page, server, "cst")
    page.goto(f"{server}/tasks/{task.id}")
    recommendations = page.get_by_test_id("conditional-agency_recommendations")
    assert recommendations.is_hidden()  # nothing chosen yet
    page.get_by_label("Individual Management Review (IMR)").check()
    assert recommendations.is_visible()
    assert _axe(page) == [] and _fits(page)
    _shot(page, "imr-revealed")
    page.get_by_test_id("field-agency_recommendations-0").fill("Typed before the answer changed")
    page.get_by_label("No involvement (nil return)").check()
    assert recommendations.is_hidden()
    _shot(page, "imr-nil-return")
    page.get_by_test_id("field-report_author").fill("A. Author, Head of Safeguarding")
    page.get_by_test_id("field-author_independent-0").check()
    page.get_by_test_id("field-report_summary").fill("No contact with the victim or the perpetrator.")
    for part, value in (("day", "30"), ("month", "8"), ("year", "2026")):
        page.get_by_test_id(f"field-report_submitted_on-{part}").fill(value)
    page.get_by_test_id("field-report_submitted_on-year").press("Enter")  # submits; adds no recommendation
    page.get_by_test_id("case-title").wait_for()
    assert "is done for Iris/2026" in page.get_by_test_id("flash").inner_text()
