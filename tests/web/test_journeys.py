"""One journey per role on the demo data (overdue tasks, escalations and recommendations awaiting
feedback present), in Debian's chromium: every kind of page the role can reach from its menu, at
1280 and 390 px, with axe-core (no serious or critical violation) and nothing wider than the screen
(tables scroll in their own container; header and footer full width). DHR_SCREENSHOTS keeps the
pictures to look at."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.platform.settings import Settings
from engine.review.demo import DEMO_PASSWORD, seed
from tests.conftest import SQLITE_ONLY
from tests.web.conftest import PASSWORD, ROLE_USERS, Web
from tests.web.test_browser import _axe, page  # noqa: F401  (the chromium page fixture)

pytestmark = SQLITE_ONLY  # the browser path is backend-blind
WIDTHS = (1280, 390)
DEMO_NOW = datetime.fromisoformat("2026-06-01T09:00:00+01:00")  # the demo's day (engine/review/demo.py)
# Links that are not pages: downloads, and actions that change something.
NOT_PAGES = re.compile(r"\.(csv|pdf|docx|xlsx)(\?|$)|/documents/|/letters/|/sign-out|/fmt/|/file\b|download|format=")
MOST_PAGES = 25  # kinds of page per role: a bound, so a page listing many links cannot make the test run away


@pytest.fixture
def demo(request: pytest.FixtureRequest, web: Web) -> Iterator[str]:
    """The demo data on the test database (built once per session), served on a real port."""
    from tests.conftest import build_once

    web.clock.set(DEMO_NOW)

    def build() -> None:
        for _ in seed(web.db.sessions, Settings()):
            pass

    build_once(request, web.db, web.clock, "the demo", build)
    httpd = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _kind(path: str) -> str:
    """A page's kind: its path with ids and file names made general (/cases/{id}/history)."""
    path = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}", "/{id}", path)
    return re.sub(r"/\d+", "/{id}", path.split("?")[0].split("#")[0])


def _problems_at_each_width(page: Any, shots: Path | None, name: str) -> list[str]:  # noqa: F811
    """What is wrong with the page as it is: axe's serious and critical findings and anything wider
    than the screen, at each width (the page is photographed at each width if `shots` is set)."""
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        if shots is not None:
            page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        layout = page.evaluate("""() => {
            const doc = document.documentElement;
            const full = el => !el || Math.round(el.getBoundingClientRect().width) === doc.clientWidth;
            return {wide: doc.scrollWidth > doc.clientWidth,
                    header: full(document.querySelector('header')), footer: full(document.querySelector('footer'))};
        }""")
        if layout["wide"]:
            problems.append(f"{name}: wider than the screen at {width} px")
        if not (layout["header"] and layout["footer"]):
            problems.append(f"{name}: header or footer not full width at {width} px")
        problems += [f"{name} at {width} px: {finding}" for finding in _axe(page)]
    page.set_viewport_size({"width": 1280, "height": 900})
    return problems


def _links(page: Any, base: str) -> list[str]:  # noqa: F811
    hrefs = page.evaluate("""() => [...document.querySelectorAll('header a[href], nav a[href], main a[href]')]
                                  .map(a => a.getAttribute('href'))""")
    return [base + h for h in hrefs if h.startswith("/") and not NOT_PAGES.search(h)]


def _walk(page: Any, base: str, username: str, shots: Path | None) -> tuple[list[str], list[str], int]:  # noqa: F811
    """Sign in as `username`, open its inbox's first task and submit it empty (the error state), then
    every kind of page reachable from its menu, two links deep. Return (kinds seen, problems, how
    many of the pages showed something overdue)."""
    page.goto(f"{base}/sign-in")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD if username in ROLE_USERS else DEMO_PASSWORD)  # the fixture's own
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("signed-in-as").wait_for()
    problems: list[str] = []
    if page.get_by_test_id("task-link").count() and username not in ("process.owner", "auditor"):
        with page.expect_navigation():  # waits for the task page's load event before anything is asked of it
            page.get_by_test_id("task-link").first.click()
        if page.get_by_test_id("submit").count():
            with page.expect_navigation():
                page.get_by_test_id("submit").click()
            page.get_by_test_id("error-summary").wait_for()
            problems += _problems_at_each_width(page, shots, f"{username}-task-error")
    seen: dict[str, str] = {}
    overdue = 0
    queue = [(url, 0) for url in _links(page, base)]
    while queue and len(seen) < MOST_PAGES:
        url, depth = queue.pop(0)
        kind = _kind(url[len(base):])
        if kind in seen:
            continue
        seen[kind] = url
        response = page.goto(url)
        assert response is not None and response.status < 500, (username, url)
        if response.status >= 400:  # a link a role may not follow is its page's business, not this test's
            continue
        name = f"{username}-{re.sub(r'[^a-z0-9]+', '-', kind.lower()).strip('-') or 'home'}"
        problems += _problems_at_each_width(page, shots, name)
        overdue += page.locator(".dhr-row--overdue, .dhr-overdue").count() > 0
        if depth < 2:
            queue += [(link, depth + 1) for link in _links(page, base)]
    return list(seen), problems, overdue


ROLES = {  # demo user -> kinds of page its journey must reach (the walk reaches more)
    "cst.officer": {"/inbox", "/cases", "/cases/{id}", "/cases/{id}/history", "/cases/{id}/diagram", "/dashboard",
                    "/register", "/register/{id}", "/reports/steering-group", "/meetings", "/meetings/{id}",
                    "/costs", "/tasks/{id}"},
    "csp.chair": {"/inbox", "/tasks/{id}", "/dashboard", "/cases/{id}"},
    "independent.chair": {"/inbox", "/cases/{id}", "/register"},
    "panel.police": {"/inbox", "/cases", "/cases/{id}"},
    "family.liaison": {"/inbox", "/cases/{id}"},
    "steering.chair": {"/inbox", "/tasks/{id}", "/dashboard", "/register", "/reports/steering-group", "/meetings"},
    "action.police": {"/inbox", "/tasks/{id}", "/register", "/register/{id}"},
    "process.owner": {"/processes", "/processes/{id}"},
    "auditor": {"/cases", "/cases/{id}", "/cases/{id}/history", "/reports/steering-group"},
    "admin": {"/admin/users", "/admin/agencies", "/admin/timers", "/account"},
}


SEE_OVERDUE = ("cst.officer", "csp.chair", "steering.chair")  # Iris/2026: the chair's decision is overdue


@pytest.mark.long  # the demo, then some twenty pages photographed and checked twice: over a minute a role
@pytest.mark.parametrize("username", list(ROLES))
def test_each_role_walks_its_pages_at_1280_and_390_px_and_axe_finds_nothing_serious(
        demo: str, page: Any, username: str, tmp_path: Path) -> None:  # noqa: F811
    folder = os.environ.get("DHR_SCREENSHOTS")
    shots = Path(folder) if folder else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    kinds, problems, overdue = _walk(page, demo, username, shots)
    assert ROLES[username] <= set(kinds), sorted(ROLES[username] - set(kinds))
    if username in SEE_OVERDUE:
        assert overdue, "the demo's overdue decision should show as overdue"
    assert not problems, "\n".join(problems)
