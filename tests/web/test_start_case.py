"""The Community Safety Team starts a case from the web: the same engine function (and rule) as
`dhr cases start`; the notification form then does not ask again for the pseudonym and year."""

from __future__ import annotations

from uuid import UUID

import pytest

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.errors import NotAllowed
from engine.platform.models import Case
from engine.platform.users import find_user
from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import PROCESSES, Web

# the start form's rules; starting a case runs on PostgreSQL in test_read_models and test_register
pytestmark = POSTGRES_IN_SECOND_STEP


def test_the_community_safety_team_records_a_new_notification_and_lands_on_its_form(web: Web) -> None:
    web.deploy(PROCESSES)
    cst = web.as_user("cst")
    assert 'data-testid="start-case"' in cst.get("/cases").get_data(as_text=True)
    page = cst.get("/cases/new").get_data(as_text=True)
    assert "Record a new notification" in page and 'name="pseudonym"' in page and 'value="2026"' in page
    response = cst.post("/cases/new", {"pseudonym": " Hazel ", "year": "2026"})
    assert response.status_code == 302 and "/tasks/" in response.headers["Location"]
    with web.db.sessions() as s:
        case = s.query(Case).filter_by(reference="Hazel/2026").one()
        assert (case.pseudonym, case.year, case.process_id) == ("Hazel", 2026, "dhr_review")
    form = cst.get(response.headers["Location"]).get_data(as_text=True)
    assert "Hazel/2026 is started. Now record the notification." in form
    assert "Record the notification of a death" in form
    assert 'name="case_pseudonym"' not in form and 'name="case_year"' not in form
    assert 'name="victim_name"' in form


def test_the_notification_form_names_the_case_from_the_start_page(web: Web) -> None:
    web.deploy(PROCESSES)
    cst = web.as_user("cst")
    task_url = cst.post("/cases/new", {"pseudonym": "Hazel", "year": "2026"}).headers["Location"]
    response = cst.post(task_url, {
        "victim_name": "Alex Example", "victim_date_of_birth.day": "4", "victim_date_of_birth.month": "3",
        "victim_date_of_birth.year": "1980", "date_of_death.day": "20", "date_of_death.month": "8",
        "date_of_death.year": "2026", "victim_age": "46", "notification_date.day": "31",
        "notification_date.month": "8", "notification_date.year": "2026", "notifying_officer": "DS Example",
        "relationship": "Former intimate partner", "same_household": "no", "suspected_suicide": "no",
        "parallel_processes": "_none", "circumstances": "A factual summary."})
    assert response.status_code == 302, response.get_data(as_text=True)
    with web.db.sessions() as s:
        case_id = s.query(Case).filter_by(reference="Hazel/2026").one().id
    screening = web.task(case_id, "screen_case")
    with web.db.sessions() as s:  # the diagram names the case from the pseudonym and year it was started with
        case = s.get(Case, case_id)
        data = runtime.load_workflow(case, s).get_task_from_id(UUID(screening.id)).data
        assert data["case_name"] == "Hazel/2026" and data["parallel_processes"] == []


@pytest.mark.parametrize(("typed", "field", "message"), [
    ({"pseudonym": "", "year": "2026"}, "pseudonym", "Enter case pseudonym"),
    ({"pseudonym": "Hazel", "year": "twenty"}, "year", "Year of the review must be a number"),
    ({"pseudonym": "Hazel", "year": "2027"}, "year", "The year must be 2026 or earlier"),
    ({"pseudonym": "Ha/zel", "year": "2026"}, "pseudonym", "without &#39;/&#39;"),
    ({"pseudonym": "Rosemary", "year": "2026"}, "pseudonym", "A case called Rosemary/2026 already exists"),
])
def test_a_start_the_engine_refuses_is_shown_by_its_field(web: Web, typed: dict[str, str], field: str,
                                                           message: str) -> None:
    web.deploy(PROCESSES)
    web.start("Rosemary", process="dhr_review")
    response = web.as_user("cst").post("/cases/new", typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "There is a problem" in page
    assert f'data-testid="error-{field}"' in page and message in page
    with web.db.sessions() as s:
        assert s.query(Case).count() == 1  # nothing half applied


@pytest.mark.parametrize("username", ["chair", "panel", "owner", "admin"])
def test_only_the_community_safety_team_starts_cases(web: Web, username: str) -> None:
    web.deploy(PROCESSES)
    other = web.as_user(username)
    assert 'data-testid="start-case"' not in other.get("/cases").get_data(as_text=True)
    assert other.get("/cases/new").status_code == 403
    assert other.post("/cases/new", {"pseudonym": "Hazel", "year": "2026"}).status_code == 403


def test_the_engine_refuses_a_person_without_the_power_whatever_the_door(web: Web) -> None:
    web.deploy(PROCESSES)
    with unit_of_work(web.db.sessions) as s, pytest.raises(NotAllowed, match="only the Community Safety Team"):
        runtime.start_case(s, process_id="dhr_review", pseudonym="Hazel", year=2026, data={},
                           actor=find_user(s, "chair"), clock=web.clock)
    with unit_of_work(web.db.sessions) as s:
        case = runtime.start_case(s, process_id="dhr_review", pseudonym="Hazel", year=2026, data={},
                                  actor=find_user(s, "cst"), clock=web.clock)
        assert case.reference == "Hazel/2026"


def test_with_no_process_deployed_the_page_says_so(web: Web) -> None:
    page = web.as_user("cst").get("/cases/new").get_data(as_text=True)
    assert 'data-testid="no-process"' in page
