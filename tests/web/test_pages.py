"""Every page, by role: who gets it, who does not, and what it shows."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import PROCESSES, ROLE_USERS, Web, dhr_case

# who gets which page; the pages' queries run on PostgreSQL in test_read_models and test_page_statements
pytestmark = POSTGRES_IN_SECOND_STEP

CASE_WIDE = {"cst", "chair", "steering", "owner", "auditor"}


def _pages(case_id: int, version_id: int) -> dict[str, set[str]]:
    """URL -> the users who may open it (everyone else: 403 or 404)."""
    everyone = set(ROLE_USERS)
    return {
        "/inbox": everyone,
        "/cases": everyone,
        f"/cases/{case_id}": CASE_WIDE | {"panel"},
        f"/cases/{case_id}/history": CASE_WIDE | {"panel"},
        f"/cases/{case_id}/history.csv": CASE_WIDE | {"panel"},
        f"/cases/{case_id}/diagram": CASE_WIDE | {"panel"},
        "/processes": {"owner"},
        f"/processes/{version_id}": {"owner"},
        "/admin/users": {"admin"},
        "/admin/agencies": {"admin"},
    }


def test_role_by_page_matrix(web: Web) -> None:
    version_id = web.deploy()
    case_id = web.start()
    web.start("Hazel")
    web.add_member(case_id, "panel")
    for username in ROLE_USERS:
        client = web.as_user(username)
        for url, allowed in _pages(case_id, version_id).items():
            status = client.get(url).status_code
            expected = {200} if username in allowed else {403, 404}
            assert status in expected, f"{username} {url}: {status}"


def test_a_panel_member_cannot_open_another_case_by_changing_the_url(web: Web) -> None:
    web.deploy()
    mine, other = web.start("Rosemary"), web.start("Hazel")
    web.add_member(mine, "panel")
    panel = web.as_user("panel")
    assert panel.get(f"/cases/{mine}").status_code == 200
    for url in (f"/cases/{other}", f"/cases/{other}/history", f"/cases/{other}/history.csv",
                f"/cases/{other}/diagram", f"/cases/{other}/diagram.bpmn?file=review_demo.bpmn",
                f"/tasks/{web.task(other, 'record_notification').id}"):
        assert panel.get(url).status_code == 404, url
    listing = panel.get("/cases").get_data(as_text=True)
    assert "Rosemary/2026" in listing and "Hazel/2026" not in listing


def test_membership_is_managed_on_the_case_page(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    user_id = re.search(r'<option value="(\d+)">panel \(Panel', page)
    assert user_id
    assert cst.post(f"/cases/{case_id}/members", {"user_id": user_id.group(1)}).status_code == 302
    assert web.as_user("panel").get(f"/cases/{case_id}").status_code == 200
    assert web.as_user("chair").post(f"/cases/{case_id}/members", {"user_id": user_id.group(1)}).status_code == 403
    assert cst.post(f"/cases/{case_id}/members/{user_id.group(1)}/remove").status_code == 302
    assert web.as_user("panel").get(f"/cases/{case_id}").status_code == 404


def test_case_page_shows_stage_tasks_holders_timers_in_london_time(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    cst.post(f"/tasks/{web.task(case_id, 'record_notification').id}",
             {"notified_on.day": "20", "notified_on.month": "8", "notified_on.year": "2026"})
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="case-stage"' in page
    tasks = page.split('data-testid="open-tasks"')[1].split("</table>")[0]
    assert "Decide whether to hold a review" in tasks and ">CSP Chair<" in tasks and ">chair<" in tasks
    timers = page.split('data-testid="timers"')[1]
    assert "Times are UK time" in timers and re.search(r"\d{1,2} \w+ 2026, \d\d:\d\d", timers)


def test_history_lists_every_event_with_old_and_new_values_and_exports_csv(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    cst.post(f"/tasks/{web.task(case_id, 'record_notification').id}",
             {"notified_on.day": "20", "notified_on.month": "8", "notified_on.year": "2026"})
    page = cst.get(f"/cases/{case_id}/history").get_data(as_text=True)
    assert "Case started" in page and "Task completed" in page
    assert "Date the police notified the CSP: (empty) → 2026-08-20" in page
    filtered = cst.get(f"/cases/{case_id}/history?what=TASK_COMPLETED").get_data(as_text=True)
    assert "Case started" not in filtered.split("history-table")[1]
    response = cst.get(f"/cases/{case_id}/history.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # a byte order mark: Excel reads "→" right
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["event", "when (London)", "who", "what"]
    assert any(r[3] == "Task completed" and r[2] == "cst" for r in rows[1:])


def test_csv_cells_that_a_spreadsheet_would_run_are_defused() -> None:
    from webforms.history import HistoryRow, to_csv

    text = to_csv([HistoryRow(1, "now", "=cmd()", "x", "+y", ["-z"])]).decode("utf-8-sig")
    assert "'=cmd()" in text and "'+y" in text and "'-z" in text


@pytest.fixture
def dhr(request: pytest.FixtureRequest, web: Web) -> tuple[Web, int, int]:
    return web, *dhr_case(request, web)


def test_case_diagram_highlights_completed_and_current_elements(dhr: tuple[Web, int, int]) -> None:
    web, _, case_id = dhr
    cst = web.as_user("cst")
    task = web.tasks(case_id)[0]
    page = cst.get(f"/cases/{case_id}/diagram").get_data(as_text=True)
    marks = re.search(r'data-marks="([^"]+)"', page)
    assert marks and task.bpmn_id in marks.group(1)
    chosen = re.search(r'data-xml-url="([^"]+)"', page)
    assert chosen
    xml = cst.get(chosen.group(1).replace("&amp;", "&"))
    assert xml.mimetype == "text/plain" and f'id="{task.bpmn_id}"' in xml.get_data(as_text=True)


def test_highlights_count_completions_by_element_or_by_name() -> None:
    from engine.platform.models import AuditEvent
    from webforms.diagram import highlights

    xml = ('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p">'
           '<userTask id="a" name="Do A"/><userTask id="b" name="Do B"/></process></definitions>')
    events = [AuditEvent(event_type="TASK_COMPLETED", task_name="Do A", details={}),
              AuditEvent(event_type="TASK_COMPLETED", task_name="Do A", details={"bpmn_id": "a"}),
              AuditEvent(event_type="TASK_CREATED", task_name="Do B", details={})]
    marks = highlights({"p.bpmn": xml}, events, ["b"]).for_file("p.bpmn")
    assert marks == {"completed": {"a": 2}, "current": ["b"]}


def test_process_owner_edits_a_diagram_and_deploys_it(dhr: tuple[Web, int, int]) -> None:
    web, version_id, _ = dhr
    owner = web.as_user("owner")
    page = owner.get(f"/processes/{version_id}/edit?path=commissioning.bpmn").get_data(as_text=True)
    assert 'data-testid="modeler"' in page
    xml = (PROCESSES / "commissioning.bpmn").read_text()
    renamed = xml.replace('name="Record the notification of a death"', 'name="Record the police notification"', 1)
    response = owner.post(f"/processes/{version_id}/edit", {"path": "commissioning.bpmn", "xml": renamed})
    assert response.status_code == 302
    new_page = owner.get(response.headers["Location"]).get_data(as_text=True)
    new_id = re.search(r"Process version (\d+)", new_page)
    assert new_id and int(new_id.group(1)) > version_id and "Deployed as version" in new_page
    diff = owner.get(f"/processes/diff?from={version_id}&to={new_id.group(1)}").get_data(as_text=True)
    assert "commissioning.bpmn: changed" in diff and "record_notification" in diff
    assert "dhr_review.bpmn" not in diff


def test_an_invalid_diagram_is_not_deployed_and_the_edit_is_kept(dhr: tuple[Web, int, int]) -> None:
    web, version_id, _ = dhr
    owner = web.as_user("owner")
    broken = (PROCESSES / "commissioning.bpmn").read_text().replace("</bpmn:definitions>", "<oops>")
    response = owner.post(f"/processes/{version_id}/edit", {"path": "commissioning.bpmn", "xml": broken})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "commissioning.bpmn" in page and "not well-formed XML" in page
    assert "&lt;oops&gt;" in page  # the edit, kept in the form
    assert len(re.findall(r'data-testid="version-row"', owner.get("/processes").get_data(as_text=True))) == 1


def test_process_files_can_be_uploaded(web: Web) -> None:
    version_id = web.deploy()
    owner = web.as_user("owner")
    form = Path(__file__).parents[1] / "diagrams" / "forms" / "decision.schema.json"
    changed = form.read_text().replace('"Reason"', '"Why"').encode()
    response = owner.post(f"/processes/{version_id}/upload",
                          {"files": (io.BytesIO(changed), "forms/decision.schema.json")},
                          content_type="multipart/form-data")
    assert response.status_code == 302
    new_id = response.headers["Location"].rsplit("/", 1)[-1]
    assert int(new_id) > version_id
    assert b'"Why"' in owner.get(f"/processes/{new_id}/file?path=forms/decision.schema.json").data
    response = owner.post(f"/processes/{version_id}/upload", {"files": (io.BytesIO(b"x"), "notes.txt")},
                          content_type="multipart/form-data")
    assert response.status_code == 400 and "only .bpmn and .json" in response.get_data(as_text=True)


def test_admin_adds_users_and_agencies(web: Web) -> None:
    admin = web.as_user("admin")
    assert admin.post("/admin/agencies", {"name": "Probation Service"}).status_code == 302
    assert "Probation Service" in admin.get("/admin/agencies").get_data(as_text=True)
    assert admin.post("/admin/agencies", {"name": "Probation Service"}).status_code == 400
    response = admin.post("/admin/users", {"username": "", "role": "", "password": "short"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Enter a user name" in page and "Select a role" in page
    response = admin.post("/admin/users", {"username": "officer2", "role": "Panel", "agency": "Probation Service",
                                           "password": "long-enough-password"})
    assert response.status_code == 302
    assert web.sign_in("officer2", "long-enough-password").status_code == 302


def test_the_studio_gives_a_timers_example_date_for_the_draft(dhr: tuple[Web, int, int]) -> None:
    web, version_id, _ = dhr
    owner = web.as_user("owner")
    page = owner.get(f"/processes/{version_id}/edit?path=dhr_review.bpmn").get_data(as_text=True)
    assert "resume_review.schema.json" in page and "add_working_days" in page  # the panel's form files, helpers
    assert re.search(r'<textarea[^>]*id="xml"[^>]*readonly', page)
    xml = (PROCESSES / "dhr_review.bpmn").read_text(encoding="utf-8")
    answer = owner.post(f"/processes/{version_id}/timer-example",
                        {"path": "dhr_review.bpmn", "xml": xml, "element": "deadline_passed"}).get_json()
    edited = owner.post(f"/processes/{version_id}/timer-example",
                        {"path": "dhr_review.bpmn", "element": "deadline_passed",
                         "xml": xml.replace("add_months(clock_start_date, 6)", "add_months(clock_start_date, 9)")})
    assert answer["ok"] and edited.get_json()["ok"] and answer["fires_at"] < edited.get_json()["fires_at"]
    assert web.get(f"/processes/{version_id}/timer-example").status_code == 405
    assert web.as_user("cst").post(f"/processes/{version_id}/timer-example",
                                   {"path": "dhr_review.bpmn", "element": "deadline_passed"}).status_code == 403
