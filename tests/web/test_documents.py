"""Uploads through the task form: stored once in the document table, kept by id, downloaded by members."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import select

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.documents import Document
from engine.platform.models import Case, CaseView, TaskDraft
from engine.platform.users import find_user
from tests.web.conftest import Web

DOCS = Path(__file__).resolve().parents[1] / "documents"
FIVE_MB = 5 * 1024 * 1024


def documents(web: Web) -> list[Document]:
    with web.db.sessions() as s:
        return list(s.scalars(select(Document).order_by(Document.id)))


def kept_id(page: str, field: str = "report") -> str:
    match = re.search(rf'name="{re.escape(field)}\.kept" value="([^"]*)"', page)
    assert match, f"no kept {field} on the page"
    return match.group(1)


def upload_case(web: Web, pseudonym: str = "Rosemary") -> tuple[int, str]:
    case_id = web.start(pseudonym, process="papers")
    return case_id, web.task(case_id, "upload").id


def test_a_5_mb_upload_is_stored_once_and_listed_and_downloaded_from_the_table(web: Web) -> None:
    web.deploy(DOCS)
    case_id, task_id = upload_case(web)
    cst = web.as_user("cst")
    content = b"%PDF" + bytes(FIVE_MB - 4)
    response = cst.post(f"/tasks/{task_id}", {"summary": "The report", "report": (io.BytesIO(content), "IMR.pdf")})
    assert response.status_code == 302
    [row] = documents(web)
    assert (row.name, row.size, row.uploaded_by, row.field) == ("IMR.pdf", FIVE_MB, "cst", "report")
    with web.db.sessions() as s:
        case = s.get(Case, case_id)
        assert case is not None and len(case.state) < 60_000 and "base64," not in case.state

    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="documents"' in page and "IMR.pdf" in page
    download = cst.get(f"/cases/{case_id}/documents/{row.id}")
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Disposition"] == 'attachment; filename="IMR.pdf"'
    assert download.mimetype == "application/pdf"

    # The next task's form keeps the document by id; submitting it again stores nothing new.
    check = web.task(case_id, "check").id
    form = cst.get(f"/tasks/{check}").get_data(as_text=True)
    assert kept_id(form) == str(row.id) and "Uploaded: IMR.pdf" in form and "base64" not in form
    assert cst.post(f"/tasks/{check}", {"report.kept": str(row.id), "checked": "yes"}).status_code == 302
    assert [d.id for d in documents(web)] == [row.id]


def test_the_same_file_twice_on_a_case_is_one_row(web: Web) -> None:
    web.deploy(DOCS)
    case_id, task_id = upload_case(web)
    cst = web.as_user("cst")
    same = b"%PDF-1.4 twice"
    response = cst.post(f"/tasks/{task_id}", {
        "summary": "Twice", "report": (io.BytesIO(same), "report.pdf"),
        "appendices.0._item": "1", "appendices.0.title": "Copy", "appendices.0.file": (io.BytesIO(same), "copy.pdf")})
    assert response.status_code == 302
    assert len(documents(web)) == 1


def test_a_form_shown_again_keeps_its_file_by_id_never_its_bytes(web: Web) -> None:
    web.deploy(DOCS)
    case_id, task_id = upload_case(web)
    cst = web.as_user("cst")
    response = cst.post(f"/tasks/{task_id}", {"summary": "", "report": (io.BytesIO(b"%PDF kept"), "kept.pdf")})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Enter summary" in page
    assert "Uploaded: kept.pdf" in page and "base64" not in page
    held = kept_id(page)
    [row] = documents(web)
    assert str(row.id) == held and row.attached_at is None  # held for the form, not yet on the case page
    assert 'data-testid="no-documents"' in cst.get(f"/cases/{case_id}").get_data(as_text=True)

    assert cst.post(f"/tasks/{task_id}", {"summary": "Now complete", "report.kept": held}).status_code == 302
    [row] = documents(web)
    assert row.attached_at is not None
    assert "kept.pdf" in cst.get(f"/cases/{case_id}").get_data(as_text=True)


def test_a_forged_kept_value_is_a_field_error(web: Web) -> None:
    web.deploy(DOCS)
    other_id, other_task = upload_case(web, "Hazel")
    case_id, task_id = upload_case(web)
    cst = web.as_user("cst")
    theirs_form = {"summary": "Theirs", "report": (io.BytesIO(b"%PDF other case"), "other.pdf")}
    assert cst.post(f"/tasks/{other_task}", theirs_form).status_code == 302
    [theirs] = documents(web)
    for forged in ("data:text/html;name=x.txt;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", str(theirs.id),
                   "999999"):
        response = cst.post(f"/tasks/{task_id}", {"summary": "Forged", "report.kept": forged})
        page = response.get_data(as_text=True)
        assert response.status_code == 400, forged
        assert "The file uploaded before could not be found on this case" in page and 'href="#report"' in page
        assert 'name="report.kept"' not in page and "other.pdf" not in page
    assert len(documents(web)) == 1 and [t.bpmn_id for t in web.tasks(case_id)] == ["upload"]
    # Saving a draft is held to the same rule.
    response = cst.post(f"/tasks/{task_id}", {"summary": "Draft", "report.kept": str(theirs.id),
                                              "_action": "save-draft"})
    assert response.status_code == 400 and "could not be found on this case" in response.get_data(as_text=True)
    with web.db.sessions() as s:
        assert s.scalars(select(TaskDraft)).all() == []


def test_a_draft_keeps_its_file_as_a_document_id(web: Web) -> None:
    web.deploy(DOCS)
    case_id, task_id = upload_case(web)
    cst = web.as_user("cst")
    response = cst.post(f"/tasks/{task_id}", {"summary": "Half done", "report": (io.BytesIO(b"%PDF draft"), "d.pdf"),
                                              "_action": "save-draft"})
    assert response.status_code == 302
    [row] = documents(web)
    with web.db.sessions() as s:
        [draft] = s.scalars(select(TaskDraft)).all()
        assert draft.values["report"]["kept"] == str(row.id) and "base64" not in str(draft.values)
    page = cst.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert kept_id(page) == str(row.id) and "Uploaded: d.pdf" in page
    assert cst.post(f"/tasks/{task_id}", {"summary": "Done", "report.kept": str(row.id)}).status_code == 302
    assert "d.pdf" in cst.get(f"/cases/{case_id}").get_data(as_text=True)


def test_a_download_is_refused_to_a_non_member_and_audited_for_a_case_wide_reader(web: Web) -> None:
    web.deploy(DOCS)
    case_id, task_id = upload_case(web)
    other_id, _ = upload_case(web, "Hazel")
    with unit_of_work(web.db.sessions) as s:
        runtime.complete_task(s, task_id, {"summary": "x", "report": "data:text/plain;name=n.txt;base64,SU1S"},
                              user=find_user(s, "cst"), clock=web.clock)
    [row] = documents(web)
    link = f"/cases/{case_id}/documents/{row.id}"
    panel = web.as_user("panel")
    assert panel.get(link).status_code == 404  # not a member: the case is not there for them
    assert web.as_user("cst").get(f"/cases/{other_id}/documents/{row.id}").status_code == 404  # another case's id
    web.add_member(case_id, "panel")
    assert panel.get(link).data == b"IMR"

    assert web.as_user("auditor").get(link).status_code == 200  # a case-wide role, not a member: audited
    with web.db.sessions() as s:
        viewed = s.scalars(select(CaseView).where(CaseView.actor == "auditor")).all()
    assert [e.details["page"] for e in viewed] == ["cases.document"]
