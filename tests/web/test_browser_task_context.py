"""In Debian's chromium, at a desktop's 1280 px and a phone's 390 px: the CSP chair opens the decision
and sees the screening answers above the form, nothing wider than the screen, no confidential value,
and axe-core finds nothing serious. Screenshots go to $DHR_SCREENSHOTS if set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import SQLITE_ONLY
from tests.web.conftest import Web, new_page, screenshot
from tests.web.test_browser import CHROMIUM, _axe, _sign_in  # noqa: F401 (skips the module without chromium)
from tests.web.test_task_context import screened_case

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = SQLITE_ONLY  # the browser path is backend-blind


@pytest.fixture
def decision(web: Web) -> Iterator[tuple[str, str]]:
    """The server's address and the path of the CSP chair's open decision on a screened case."""
    case_id = screened_case(web)
    task_id = web.task(case_id, "decide_on_review").id
    httpd = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", f"/tasks/{task_id}"
    httpd.shutdown()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_chair_sees_the_screening_answers_on_the_decision_page(decision: tuple[str, str], width: int,
                                                                   chromium: Any) -> None:
    base, path = decision
    with new_page(chromium, width) as page:
        _sign_in(page, base, "chair")
        page.goto(base + path)
        context = page.get_by_test_id("task-context")
        assert context.count() == 2  # the notification's dates, then the screening answers
        screening = context.nth(1)
        assert screening.is_visible()
        assert "Killed by a former partner after years of coercive control." in screening.inner_text()
        assert "coroner.officer@example.org" not in page.content() and "Alex Example" not in page.content()
        assert page.get_by_test_id("context-withheld").is_visible()
        # the answers come before the form the chair fills in
        assert screening.bounding_box()["y"] < page.get_by_test_id("task-form").bounding_box()["y"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert _axe(page) == []
        screenshot(page, f"task-context-{width}", full_page=True)
