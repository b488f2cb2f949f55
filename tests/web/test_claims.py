"""Claiming and releasing a role task, and saving a form as a draft, in the browser's terms."""

from __future__ import annotations

from engine.platform.db import unit_of_work
from engine.platform.users import add_user
from tests.web.conftest import PASSWORD, Web


def test_claim_release_and_the_inbox_shows_who_has_it(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    with unit_of_work(web.db.sessions) as s:
        add_user(s, "cst2", role="Community Safety Team", agency=None, password=PASSWORD, actor="test",
                 clock=web.clock)
    task = web.task(case_id, "record_notification")
    cst, other = web.as_user("cst"), web.as_user("cst2")
    assert 'data-testid="claim-button"' in cst.get(f"/tasks/{task.id}").get_data(as_text=True)
    response = cst.post(f"/tasks/{task.id}/claim")
    assert response.status_code == 302
    assert "only you can complete it" in cst.get(f"/tasks/{task.id}").get_data(as_text=True)
    page = other.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "cst is dealing with this task" in page and 'data-testid="task-form"' not in page
    assert ">cst<" in other.get("/inbox").get_data(as_text=True)
    page = other.post(f"/tasks/{task.id}/claim", follow_redirects=True).get_data(as_text=True)
    assert "was claimed by cst" in page
    assert other.post(f"/tasks/{task.id}", {"notified_on.day": "1"}).status_code == 403
    cst.post(f"/tasks/{task.id}/release")
    assert 'data-testid="task-form"' in other.get(f"/tasks/{task.id}").get_data(as_text=True)


def test_save_draft_keeps_the_answers_without_submitting(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    task = web.task(case_id, "record_notification")
    response = cst.post(f"/tasks/{task.id}", {"notified_on.day": "31", "notified_on.month": "13",
                                              "notified_on.year": "2026", "_action": "save-draft"})
    assert response.status_code == 302
    page = cst.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'data-testid="draft-note"' in page and 'value="31"' in page and 'value="13"' in page
    assert [t.bpmn_id for t in web.tasks(case_id)] == ["record_notification"]  # nothing submitted
    chair_page = web.as_user("chair").get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'value="31"' not in chair_page  # a draft is its author's alone
