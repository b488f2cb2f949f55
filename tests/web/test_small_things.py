"""The small things on every page (issue 13, item 12): the phase banner, a favicon, back links at
the top, the sign-in page's title, the agencies' wording and dates in instructions in words."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import Web
from tests.web.test_confidential_pages import notified_case

# page furniture; no query of its own
pytestmark = POSTGRES_IN_SECOND_STEP


def _title(body: str) -> str:
    match = re.search(r"<title>(.*?)</title>", body, re.S)
    assert match
    return " ".join(match.group(1).split())


def test_the_sign_in_page_is_titled_and_says_error_after_a_failure(web: Web) -> None:
    assert _title(web.get("/sign-in").get_data(as_text=True)) == "Sign in – Domestic Homicide Reviews"
    failed = web.sign_in("cst", "not the password")
    assert failed.status_code == 400
    assert _title(failed.get_data(as_text=True)) == "Error: Sign in – Domestic Homicide Reviews"


def test_every_page_has_the_phase_banner_and_the_favicon(web: Web) -> None:
    for body in (web.get("/sign-in").get_data(as_text=True), web.as_user("cst").get("/inbox").get_data(as_text=True)):
        assert 'data-testid="phase-banner"' in body and ">Beta</strong>" in body
        icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', body)
        assert icon
    favicon = web.get(icon.group(1))
    assert favicon.status_code == 200 and favicon.mimetype == "image/svg+xml"
    assert b"<svg" in favicon.get_data()


def test_back_links_are_at_the_top_of_the_page(web: Web) -> None:
    case_id = notified_case(web)
    cst = web.as_user("cst")
    task = web.task(case_id, "screen_case")
    for url, label, target in ((f"/cases/{case_id}", "Cases", "/cases"),
                               (f"/cases/{case_id}/diagram", "Iris/2026", f"/cases/{case_id}"),
                               (f"/tasks/{task.id}", "Inbox", "/inbox")):
        body = cst.get(url).get_data(as_text=True)
        back = re.search(r'<a class="govuk-back-link" href="([^"]+)" data-testid="back-link">([^<]+)</a>', body)
        assert back and (back.group(1), back.group(2)) == (target, label), url
        assert body.index("govuk-back-link") < body.index('id="main-content"'), url  # before the page's content


def test_the_agencies_page_says_add_an_agency(web: Web) -> None:
    body = web.as_user("admin").get("/admin/agencies").get_data(as_text=True)
    assert 'data-testid="add-agency">Add an agency</button>' in body


def test_dates_in_a_tasks_instructions_read_as_words(web: Web) -> None:
    case_id = notified_case(web)  # notified on 31 August 2026: the chair's decision is due a month later
    body = web.as_user("cst").get(f"/tasks/{web.task(case_id, 'screen_case').id}").get_data(as_text=True)
    instructions = re.search(r'data-testid="instructions">(.*?)</div>', body, re.S)
    assert instructions
    assert "The decision is due on 30 September 2026." in instructions.group(1)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", instructions.group(1))


def test_instructions_show_a_day_or_a_moment_in_words_and_leave_other_text_alone() -> None:
    from datetime import date

    from webforms.instructions import render

    text = "{{ day }} · {{ stored }} · {{ moment }} · {{ odd }} · {{ count }}"
    assert render(text, {"day": date(2026, 6, 28), "stored": "2026-06-28", "moment": "2026-06-28T08:00:00+00:00",
                         "odd": "2026-02-30", "count": 3}) == \
        "28 June 2026 · 28 June 2026 · 28 June 2026, 09:00 · 2026-02-30 · 3"


def test_an_add_another_button_says_an_before_a_vowel(app: Flask) -> None:
    from flask import render_template_string

    from webforms import schema_form

    def button(item: str) -> str:
        schema = {"type": "object", "properties": {"things": {
            "type": "array", "title": "Things", "items": {"type": "object", "title": item, "properties": {
                "name": {"type": "string", "title": "Name"}}}}}}
        fields, _ = schema_form.draw(schema, schema_form.state_from_data(schema, {}), {})
        with app.test_request_context():
            html = render_template_string('{% from "macros/fields.html" import field %}'
                                          '{% for f in fields %}{{ field(f) }}{% endfor %}', fields=fields)
        found = re.search(r'data-testid="add-[^"]+">([^<]+)</button>', html)
        assert found
        return found.group(1)

    assert button("Agency") == "Add an agency"
    assert button("Panel member") == "Add a panel member"


def test_screening_offers_the_agency_list_and_takes_another_agency_too(web: Web) -> None:
    admin = web.as_user("admin")
    for name in ("Kent Police", "Adult Social Care"):
        assert admin.post("/admin/agencies", {"name": name}).status_code == 302
    case_id = notified_case(web)
    task_url = f"/tasks/{web.task(case_id, 'screen_case').id}"
    body = web.as_user("cst").post(task_url, {"_action": "add:agencies"}).get_data(as_text=True)  # a first agency
    box = re.search(r'<input[^>]*name="agencies\.0\.agency"[^>]*>', body)
    assert box and 'list="agencies-0-agency-suggestions"' in box.group(0)
    offered = re.search(r'<datalist id="agencies-0-agency-suggestions"[^>]*>(.*?)</datalist>', body, re.S)
    assert offered
    assert re.findall(r'<option value="([^"]+)">', offered.group(1)) == ["Adult Social Care", "Kent Police"]
    assert "or type another agency" in body  # a datalist suggests; any agency typed is kept as typed
