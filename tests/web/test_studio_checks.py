"""The studio's checks over the web: validate a draft (JSON problems, nothing stored) and preview a form
drawn as the task page draws it; process owners only."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from engine.bpmn.library import read_folder
from engine.platform.models import AuditEvent, ProcessFile, ProcessVersion
from tests.conftest import DIAGRAMS, POSTGRES_IN_SECOND_STEP
from tests.web.conftest import Web

# diagrams checked in Python before anything is stored; deploying on PostgreSQL is in test_cli
pytestmark = POSTGRES_IN_SECOND_STEP

BROKEN_SCRIPT = ("decision_due_date = add_months(notified_on, 1)", "decision_due_date = add_months(notified_on, 1")


def _counts(web: Web) -> tuple[int, int, int]:
    with web.db.sessions() as s:
        return (s.scalar(select(func.count()).select_from(ProcessVersion)) or 0,
                s.scalar(select(func.count()).select_from(ProcessFile)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_validate_returns_the_drafts_problems_and_stores_nothing(web: Web) -> None:
    version_id = web.deploy()
    owner = web.as_user("owner")
    xml = read_folder(DIAGRAMS)["review_demo.bpmn"]
    before = _counts(web)
    response = owner.post(f"/processes/{version_id}/validate", {"path": "review_demo.bpmn", "xml": xml})
    assert response.status_code == 200 and response.get_json() == {"path": "review_demo.bpmn", "problems": []}

    broken = xml.replace(*BROKEN_SCRIPT)
    form = '{"type": "object", "properties": {"x": {"type": "strin"}}}'
    response = owner.post(f"/processes/{version_id}/validate", {
        "path": "review_demo.bpmn", "xml": broken, "draft_files": json.dumps({"forms/decision.schema.json": form})})
    problems = response.get_json()["problems"]
    assert response.status_code == 200
    script = next(p for p in problems if p["element"] == "compute_due")
    assert script["file"] == "review_demo.bpmn" and script["line"] and script["severity"] == "error"
    assert "cannot run" in script["message"]
    assert any(p["file"] == "forms/decision.schema.json" and p["element"] == "decide" for p in problems)
    assert _counts(web) == before  # no version, no file, no audit event
    # deploying the same draft is refused with the same problems
    response = owner.post(f"/processes/{version_id}/edit", {"path": "review_demo.bpmn", "xml": broken})
    assert response.status_code == 400 and "compute_due" in response.get_data(as_text=True)
    marked = re.search(r'data-problems="([^"]*)"', response.get_data(as_text=True))  # for the canvas markers
    assert marked and json.loads(html.unescape(marked.group(1)))[0]["element"] == "compute_due"


@pytest.mark.parametrize("who", ["cst", "chair", "panel", "auditor", "admin"])
def test_only_process_owners_may_use_the_studio_checks(web: Web, who: str) -> None:
    version_id = web.deploy()
    other = web.as_user(who)
    data = {"path": "review_demo.bpmn", "form": "forms/decision.schema.json"}
    assert other.post(f"/processes/{version_id}/validate", data).status_code == 403
    assert other.post(f"/processes/{version_id}/form-preview", data).status_code == 403


def test_the_checks_need_the_csrf_token(web: Web) -> None:
    version_id = web.deploy()
    owner = web.as_user("owner")
    response = owner.client.post(f"/processes/{version_id}/validate", data={"path": "review_demo.bpmn"})
    assert response.status_code == 400
    assert owner.post(f"/processes/{version_id}/validate", {"path": "nothing.bpmn"}).status_code == 404


def test_a_form_preview_draws_the_drafts_form_with_the_task_pages_fields(web: Web) -> None:
    version_id = web.deploy()
    owner = web.as_user("owner")
    form = read_folder(DIAGRAMS)["forms/decision.schema.json"].replace('"title": "Reason"', '"title": "Why"')
    data = {"path": "review_demo.bpmn", "form": "forms/decision.schema.json",
            "draft_files": json.dumps({"forms/decision.schema.json": form})}
    page = owner.post(f"/processes/{version_id}/form-preview", data).get_data(as_text=True)
    assert 'data-testid="field-reason"' in page and "Why (optional)" in page
    assert 'class="govuk-radios__input"' in page and "There is a problem" not in page

    checked = owner.post(f"/processes/{version_id}/form-preview", {**data, "check": "1", "answers": "{}"})
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "There is a problem" in text
    assert 'data-testid="error-outcome"' in text

    wrong = owner.post(f"/processes/{version_id}/form-preview", {**data, "check": "1", "answers": '{"reason": 1'})
    assert wrong.status_code == 400 and "not valid JSON" in wrong.get_data(as_text=True)


def test_a_form_that_is_not_json_is_shown_with_its_line_and_column(web: Web) -> None:
    version_id = web.deploy()
    owner = web.as_user("owner")
    broken = '{\n  "title": "Decision",\n  "type" "object"\n}'
    data = {"path": "review_demo.bpmn", "form": "forms/decision.schema.json",
            "draft_files": json.dumps({"forms/decision.schema.json": broken})}
    response = owner.post(f"/processes/{version_id}/form-preview", data)
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and 'data-testid="preview-problem"' in text
    assert "line 3, column 10" in text
    missing = owner.post(f"/processes/{version_id}/form-preview", {**data, "form": "forms/none.schema.json"})
    assert missing.status_code == 400 and "does not exist" in missing.get_data(as_text=True)


def test_the_editor_page_has_the_problems_and_forms_panels(web: Web) -> None:
    version_id = web.deploy()
    page = web.as_user("owner").get(f"/processes/{version_id}/edit?path=review_demo.bpmn").get_data(as_text=True)
    assert 'data-testid="validate"' in page and 'data-testid="studio-forms"' in page
    assert '<option value="forms/decision.schema.json">' in page
