"""What a person does, in Debian's chromium: sign in, inbox, a form with an error, the case, the
diagram, the modeler; and axe-core on each main page (no serious or critical violations)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import SQLITE_ONLY
from tests.web.conftest import CHROMIUM, PASSWORD, Web, dhr_case, new_page, seed_001_world

if not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true":
    pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = SQLITE_ONLY  # the browser path is backend-blind


@pytest.fixture
def server(request: pytest.FixtureRequest, web: Web) -> Iterator[str]:
    dhr_case(request, web)
    httpd = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    with new_page(chromium) as page:
        yield page


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("signed-in-as").wait_for()


def _axe(page: Any) -> list[str]:
    # served by the app itself, so the page's Content-Security-Policy allows it
    origin = "/".join(page.url.split("/")[:3])
    page.add_script_tag(url=f"{origin}/vendor/axe-core/axe.min.js")
    result = page.evaluate("async () => (await axe.run(document)).violations"
                           ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                           ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    return list(result)


def test_a_person_completes_a_task_after_a_validation_error_and_sees_the_case(server: str, page: Any) -> None:
    _sign_in(page, server, "cst")
    assert _axe(page) == []
    page.get_by_test_id("task-link").first.click()
    page.get_by_test_id("task-form").wait_for()
    assert _axe(page) == []
    page.get_by_test_id("submit").click()
    page.get_by_test_id("error-summary").wait_for()
    assert _axe(page) == []
    # fill every text, date and choice so the form passes; what was typed stays on the page
    form = page.get_by_test_id("task-form")
    for box in form.locator("input.govuk-date-input__input").all():
        name = box.get_attribute("name") or ""
        box.fill({"day": "20", "month": "8", "year": "2026"}[name.rsplit(".", 1)[-1]])
    for box in form.locator("input.govuk-input:not(.govuk-date-input__input)").all():
        kind, name = box.get_attribute("type"), box.get_attribute("name") or ""
        if box.get_attribute("inputmode") in ("numeric", "decimal"):
            box.fill("2026" if "year" in name else "30")
        else:
            box.fill("officer@example.org" if kind == "email" else "Police")
    for area in form.locator("textarea").all():
        area.fill("Details")
    for radio_name in set(form.locator("input.govuk-radios__input").evaluate_all("els => els.map(e => e.name)")):
        form.locator(f'input[name="{radio_name}"]').first.check()
    for select in form.locator("select").all():
        select.select_option(index=1)
    for name in set(form.locator("input.govuk-checkboxes__input").evaluate_all("els => els.map(e => e.name)")):
        form.locator(f'input[name="{name}"]').first.check()
    page.get_by_test_id("submit").click()
    assert page.get_by_test_id("error-summary").count() == 0, page.get_by_test_id("error-summary").inner_text()
    page.get_by_test_id("case-title").wait_for()
    assert "is done for" in page.get_by_test_id("flash").inner_text()
    assert _axe(page) == []
    page.get_by_test_id("diagram-link").click()
    page.locator('[data-testid="diagram"][data-ready="true"]').wait_for()
    assert page.locator(".djs-element.dhr-current").count() >= 1
    assert page.locator(".djs-element.dhr-completed").count() >= 1
    assert _axe(page) == []
    page.goto(f"{server}/cases")
    assert _axe(page) == []
    page.get_by_test_id("case-link").first.click()
    page.get_by_test_id("history-link").click()
    page.get_by_test_id("history-table").wait_for()
    assert _axe(page) == []


def test_a_process_owner_edits_a_diagram_in_the_modeler_and_deploys_it(server: str, page: Any) -> None:
    _sign_in(page, server, "owner")
    page.goto(f"{server}/processes")
    assert _axe(page) == []
    page.get_by_test_id("version-link").first.click()
    page.get_by_test_id("edit-commissioning.bpmn").click()
    page.locator('[data-testid="modeler"][data-ready="true"]').wait_for()
    assert _axe(page) == []
    page.evaluate("""() => {
        const m = window.dhrModeler, reg = m.get('elementRegistry');
        m.get('modeling').updateLabel(reg.get('record_notification'), 'Record the police notification');
    }""")
    page.locator('[data-testid="modeler-form"][data-synced="true"]').wait_for()
    page.get_by_test_id("deploy").click()
    page.get_by_test_id("flash").wait_for()
    assert "Deployed as version 2" in page.get_by_test_id("flash").inner_text()
    page.get_by_test_id("diff-link").click()
    assert "record_notification" in page.get_by_test_id("diff-elements").inner_text()


def _chart_texts(page: Any, chart: str) -> list[dict[str, Any]]:
    """Every text of a chart as drawn: its words, its label, its lines' boxes and the chart's box."""
    return list(page.locator(f'svg[data-chart="{chart}"] text').evaluate_all("""texts => texts.map(t => {
        const chart = t.ownerSVGElement.getBoundingClientRect();
        const lines = [...t.querySelectorAll('tspan')].map(s => s.getBoundingClientRect());
        const box = t.getBoundingClientRect();
        return {text: t.textContent, label: t.dataset.label || null, left: box.left - chart.left,
                right: chart.right - box.right, heights: lines.length ? lines.map(l => l.height) : [box.height]};
    })"""))


def test_the_steering_group_opens_the_report_and_sees_its_charts_drawn(request: pytest.FixtureRequest, web: Web,
                                                                       server: str, page: Any) -> None:
    from datetime import UTC, datetime

    from engine.review.register import THEMES

    seed_001_world(request, web)
    web.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))  # the period below has ended
    _sign_in(page, server, "steering")
    page.get_by_test_id("nav-reports").click()
    page.get_by_test_id("period-form").wait_for()
    for part, value in (("day", "1"), ("month", "4"), ("year", "2024")):
        page.get_by_test_id(f"field-start-{part}").fill(value)
    for part, value in (("day", "31"), ("month", "3"), ("year", "2026")):
        page.get_by_test_id(f"field-end-{part}").fill(value)
    page.get_by_test_id("show-period").click()
    page.get_by_test_id("report-period").wait_for()
    assert "1 April 2024 to 31 March 2026" in page.get_by_test_id("report-period").inner_text()
    widths = {}
    for chart in ("status", "theme", "agency"):
        svg = page.locator(f'svg[data-chart="{chart}"]')
        assert svg.is_visible()
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50
        bars = svg.locator("rect.dhr-chart__bar")
        widths[chart] = {bars.nth(i).get_attribute("data-label"): bars.nth(i).bounding_box()["width"]
                         for i in range(bars.count())}
    status = widths["status"]  # drawn to scale: 47, 13 and 24 recommendations
    assert status["Completed"] > status["Awaiting feedback"] > status["Part completed / in progress"] > 0
    assert abs(status["Awaiting feedback"] / status["Completed"] - 24 / 47) < 0.02
    assert len(widths["theme"]) == 8  # the five agencies with the most, then all the others together (seed 001)
    assert list(widths["agency"])[:2] == ["Kent Police", "Kent and Medway CCGs"] and len(widths["agency"]) == 6
    assert list(widths["agency"])[-1] == "All other agencies"
    fills = {bar.get_attribute("data-label"): bar.get_attribute("fill")
             for bar in page.locator('svg[data-chart="status"] rect.dhr-chart__bar').all()}
    assert fills == {"Completed": "#cce2d8", "Part completed / in progress": "#bbd4ea",  # as the status tags
                     "Awaiting feedback": "#fcd6c3"}
    assert {bar.get_attribute("fill") for bar in page.locator('svg[data-chart="theme"] rect').all()} == {"#1d70b8"}
    assert _axe(page) == []

    page.set_viewport_size({"width": 375, "height": 812})  # a phone: every label whole, inside its chart, readable
    for chart in ("status", "theme", "agency"):
        texts = _chart_texts(page, chart)
        labels = [t for t in texts if t["label"] is not None]
        assert [t["text"] for t in labels] == [t["label"] for t in labels] == list(widths[chart])
        for text in texts:
            assert text["left"] >= 0 and text["right"] >= 0, (chart, text["text"])
            assert min(text["heights"]) >= 14, (chart, text["text"])  # text of about 15px, not 6
    theme_labels = [t["text"] for t in _chart_texts(page, "theme") if t["label"]]
    assert theme_labels == list(THEMES)
    assert "Awareness and Training for Healthcare Professionals" in theme_labels  # not cut short with "…"
    page.set_viewport_size({"width": 1280, "height": 720})

    with page.expect_download() as download:
        page.get_by_test_id("download-xlsx").click()
    assert download.value.suggested_filename == "dhr-steering-group-report-2024-04-01-to-2026-03-31.xlsx"
    page.emulate_media(media="print")
    assert not page.get_by_test_id("period-form").is_visible()  # the printed page is the report alone
    assert page.locator('svg[data-chart="status"]').is_visible()
    assert page.get_by_test_id("awaiting-list").is_visible()  # the list prints: no details to open
    assert page.get_by_test_id("awaiting-row").count() == 24


def test_the_steering_group_pages_pass_axe(request: pytest.FixtureRequest, web: Web, server: str, page: Any) -> None:
    seed_001_world(request, web)
    _sign_in(page, server, "cst")
    page.get_by_test_id("nav-register").click()
    page.get_by_test_id("register-table").wait_for()
    assert _axe(page) == []
    page.get_by_test_id("filter-agency").select_option("Kent Police")
    page.get_by_test_id("filter-status").select_option("awaiting_feedback")
    page.get_by_test_id("filter").click()
    assert page.get_by_test_id("register-count").inner_text().startswith("8 recommendations")
    page.get_by_test_id("rec-link").first.click()
    page.get_by_test_id("rec-history").wait_for()
    assert _axe(page) == []
    page.get_by_test_id("nav-dashboard").click()
    page.get_by_test_id("deadlines").wait_for()
    assert _axe(page) == []
    page.get_by_test_id("nav-meetings").click()
    page.get_by_test_id("record-meeting").click()
    page.get_by_test_id("field-attendees").fill("Sam Example, Kent Police\nno organisation here")
    page.get_by_test_id("submit").click()
    page.get_by_test_id("error-summary").wait_for()
    assert "Line 2 must be" in page.get_by_test_id("error-attendees").inner_text()
    assert _axe(page) == []
    page.get_by_test_id("nav-costs").click()
    page.get_by_test_id("budget-form").wait_for()
    assert _axe(page) == []
