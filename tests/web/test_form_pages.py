"""The DHR task forms on the page: a future date of a past event is refused by the field, a hidden
question is not asked for, the instructions are shown once, and Enter submits the form."""

from __future__ import annotations

from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import PROCESSES, Web

# the forms' fields and validation, in Python
pytestmark = POSTGRES_IN_SECOND_STEP

NOTIFICATION = {
    "victim_name": "Alex Example", "victim_date_of_birth.day": "4", "victim_date_of_birth.month": "3",
    "victim_date_of_birth.year": "1980", "date_of_death.day": "20", "date_of_death.month": "8",
    "date_of_death.year": "2026", "victim_age": "46", "notification_date.day": "31", "notification_date.month": "8",
    "notification_date.year": "2026", "notifying_officer": "DS Example", "relationship": "Former intimate partner",
    "same_household": "no", "suspected_suicide": "no", "parallel_processes": "Inquest",
    "circumstances": "A factual summary.",
}


def _notification_url(web: Web) -> str:
    web.deploy(PROCESSES)
    case_id = web.start("Hazel", process="dhr_review")
    return f"/tasks/{web.task(case_id, 'record_notification').id}"


def test_a_past_event_dated_tomorrow_is_refused_next_to_its_field(web: Web) -> None:
    url, cst = _notification_url(web), web.as_user("cst")
    response = cst.post(url, {**NOTIFICATION, "notification_date.day": "1", "notification_date.month": "9",
                              "date_of_death.day": "21", "date_of_death.month": "8"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Date the police notified the CSP chair must be today or in the past" in page
    assert 'data-testid="error-notification_date"' in page and 'href="#notification_date-day"' in page
    response = cst.post(url, NOTIFICATION)
    assert response.status_code == 302


def test_the_instructions_are_shown_once(web: Web) -> None:
    page = web.as_user("cst").get(_notification_url(web)).get_data(as_text=True)
    assert page.count("Record what the police have told the CSP chair") == 1
    assert 'data-testid="form-description"' not in page


def test_enter_in_a_field_submits_the_form_before_any_add_another_button(web: Web) -> None:
    page = web.as_user("cst").get(_notification_url(web)).get_data(as_text=True)
    form = page[page.index('data-testid="task-form"'):]
    first_button = form[form.index("<button"):]
    assert first_button.startswith('<button type="submit" class="govuk-visually-hidden" tabindex="-1"')
    assert 'name="_action"' not in first_button[:first_button.index(">")]
