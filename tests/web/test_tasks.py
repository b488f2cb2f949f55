"""The inbox and task forms: validation, values kept, completion, someone else first, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.users import find_user
from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import Web

# the task form's validation and messages; completing a task runs on PostgreSQL in test_units_of_work
pytestmark = POSTGRES_IN_SECOND_STEP


def _fill_notification(day: str = "20", month: str = "8", year: str = "2026") -> dict[str, str]:
    return {"notified_on.day": day, "notified_on.month": month, "notified_on.year": year, "suspected_suicide": "no"}


def test_inbox_lists_my_roles_tasks_soonest_first_with_overdue_marked(web: Web) -> None:
    web.deploy()
    first, second = web.start("Hazel"), web.start("Iris")
    cst = web.as_user("cst")
    cst.post(f"/tasks/{web.task(second, 'record_notification').id}", _fill_notification("1", "8", "2026"))
    chair = web.as_user("chair")
    page = chair.get("/inbox").get_data(as_text=True)
    assert "Decide whether to hold a review" in page and "Iris/2026" in page
    web.clock.advance(timedelta(days=60))
    page = chair.get("/inbox").get_data(as_text=True)
    assert 'data-testid="overdue"' in page
    page = cst.get("/inbox").get_data(as_text=True)
    assert "Hazel/2026" in page and "Decide whether" not in page
    assert "Iris/2026" not in cst.get(f"/inbox?case={first}").get_data(as_text=True).split("inbox-table")[-1]


def test_a_form_with_errors_shows_them_and_keeps_what_was_typed(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    task = web.task(case_id, "record_notification")
    page = cst.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="notified_on.day"' in page and "Is suicide suspected? (optional)" in page
    response = cst.post(f"/tasks/{task.id}", _fill_notification("31", "2", "2026"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page and 'href="#notified_on-day"' in page
    assert "Date the police notified the CSP must be a real date" in page
    assert 'value="31"' in page and 'value="no" checked' in page
    response = cst.post(f"/tasks/{task.id}", {"notified_on.day": "", "notified_on.month": "",
                                              "notified_on.year": ""})
    assert "Enter date the police notified the CSP" in response.get_data(as_text=True)
    assert len(web.tasks(case_id)) == 1  # nothing moved


def test_completing_a_task_moves_the_case_on(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    response = cst.post(f"/tasks/{web.task(case_id, 'record_notification').id}", _fill_notification())
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case_id}")
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "is done for Rosemary/2026" in page
    assert "Decide whether to hold a review" in page and "chair" in page  # who holds it


def test_enum_and_schema_errors_from_the_engine_are_shown_by_the_field(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    web.as_user("cst").post(f"/tasks/{web.task(case_id, 'record_notification').id}", _fill_notification())
    chair = web.as_user("chair")
    task = web.task(case_id, "decide")
    response = chair.post(f"/tasks/{task.id}", {"outcome": "Something else", "reason": "typed text"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="outcome-error"' in page and "typed text" in page
    response = chair.post(f"/tasks/{task.id}", {"reason": "typed text"})
    assert "Select decision" in response.get_data(as_text=True)


def test_submitting_a_task_someone_else_completed_says_who_and_when_and_keeps_the_answers(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    task = web.task(case_id, "record_notification")
    cst = web.as_user("cst")
    with unit_of_work(web.db.sessions) as s:
        other = find_user(s, "cst")
        runtime.complete_task(s, task.id, {"notified_on": "2026-08-01"}, user=other, clock=web.clock)
    response = cst.post(f"/tasks/{task.id}", _fill_notification("19", "8", "2026"))
    page = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "cst completed" in page and "31 August 2026, 09:00" in page
    assert cst.get(f"/tasks/{task.id}").status_code == 410


def test_already_completed_while_the_form_was_open_shows_the_typed_answers(web: Web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    web.deploy()
    case_id = web.start()
    task = web.task(case_id, "record_notification")
    cst = web.as_user("cst")
    from engine.platform.errors import TaskAlreadyCompleted

    def first_wins(*_args: object, **_kwargs: object) -> None:
        raise TaskAlreadyCompleted("Record the notification", "chair", datetime(2026, 8, 31, 8, 5, tzinfo=UTC))

    monkeypatch.setattr(runtime, "complete_task", first_wins)
    response = cst.post(f"/tasks/{task.id}", _fill_notification("19", "8", "2026"))
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "chair completed this task on 31 August 2026, 09:05" in page
    assert "2026-08-19" in page and "Your answers" in page


def test_a_user_of_another_lane_sees_the_task_but_cannot_complete_it(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    task = web.task(case_id, "record_notification")
    chair = web.as_user("chair")
    assert 'data-testid="not-yours"' in chair.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert chair.post(f"/tasks/{task.id}", _fill_notification()).status_code == 403


def test_typed_markup_is_shown_escaped_everywhere(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    web.as_user("cst").post(f"/tasks/{web.task(case_id, 'record_notification').id}", _fill_notification())
    chair = web.as_user("chair")
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    task = web.task(case_id, "decide")
    response = chair.post(f"/tasks/{task.id}", {"outcome": "Nonsense", "reason": payload})
    assert payload not in response.get_data(as_text=True)
    assert "&lt;script&gt;" in response.get_data(as_text=True)
    chair.post(f"/tasks/{task.id}", {"outcome": "DHR", "reason": payload})
    for url in (f"/cases/{case_id}", f"/cases/{case_id}/history"):
        page = chair.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert" in chair.get(f"/cases/{case_id}/history").get_data(as_text=True)


def test_task_ids_that_are_not_ids_are_not_found(web: Web) -> None:
    cst = web.as_user("cst")
    assert cst.get("/tasks/not-a-uuid").status_code == 404
    assert cst.get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


def test_instructions_render_over_the_task_data_in_a_sandbox() -> None:
    from webforms.instructions import render

    assert render("Decide on {{ case_name }} by {{ due }}.", {"case_name": "Rosemary/2026", "due": "1 May"}) == \
        "Decide on Rosemary/2026 by 1 May."
    assert render("{{ ''.__class__.__mro__ }}", {}) == "{{ ''.__class__.__mro__ }}"  # refused: shown as written
    assert render("{{ broken", {}) == "{{ broken"  # shown as written
    assert render("<b>{{ x }}</b>", {"x": "<i>"}) == "<b><i></b>"  # plain text: the page escapes it all


def test_opening_a_task_page_is_an_audited_read_of_its_case(web: Web) -> None:
    """A task page shows case data, so someone who sees every case without being a member (an
    auditor) leaves a CASE_VIEWED entry in the view log, as on the case's own pages, which the
    case's history shows."""
    from sqlalchemy import select

    from engine.platform.models import CaseView

    web.deploy()
    case_id = web.start()
    task = web.task(case_id, "record_notification")
    auditor = web.as_user("auditor")
    assert auditor.get(f"/tasks/{task.id}").status_code == 200
    with web.db.sessions() as s:
        viewed = list(s.scalars(select(CaseView).where(CaseView.case_id == case_id)))
    assert [(e.actor, e.details["page"]) for e in viewed] == [("auditor", "tasks.show")]
    history = web.as_user("cst").get(f"/cases/{case_id}/history?what=CASE_VIEWED").get_data(as_text=True)
    assert "Case read by someone not on it" in history and "Page read: a task" in history
