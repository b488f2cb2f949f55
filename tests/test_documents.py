"""Uploaded documents live in their own table: stored once per case, referenced from task data."""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.bpmn import claims, runtime
from engine.cli import cli
from engine.platform import audit, documents
from engine.platform.documents import Document
from engine.platform.errors import DhrError, FormDataInvalid
from engine.platform.models import AuditEvent, TaskDraft

from .conftest import World

DOCS = Path(__file__).parent / "documents"
FIVE_MB = 5 * 1024 * 1024
migration = importlib.import_module("engine.migrations.versions.0011_documents")


def data_url(content: bytes, name: str = "report.pdf", kind: str = "application/pdf") -> str:
    return f"data:{kind};name={name};base64,{base64.b64encode(content).decode()}"


@pytest.fixture
def papers(world: World) -> World:
    world.deploy(DOCS)
    return world


def start(w: World, pseudonym: str = "Rosemary") -> str:
    with w.uow() as s:
        return runtime.start_case(s, process_id="papers", pseudonym=pseudonym, year=2026, data={}, actor="test",
                                  clock=w.clock).reference


def rows(w: World) -> list[Document]:
    with w.db.sessions() as s:
        return list(s.scalars(select(Document).order_by(Document.id)))


def task_data(w: World, reference: str, bpmn_id: str) -> dict[str, Any]:
    """The data an open task sees, from the case's stored state."""
    task_id = UUID(w.task(bpmn_id, reference).id)
    with w.db.sessions() as s:
        workflow = runtime.load_workflow(runtime.get_case(s, reference), s)
        return dict(workflow.get_task_from_id(task_id).data)


def test_a_5_mb_upload_is_stored_once_and_the_case_state_stays_small(papers: World) -> None:
    w = papers
    ref = start(w)
    content = bytes(range(256)) * (FIVE_MB // 256)  # exactly the largest file the forms accept
    w.complete("upload", {"summary": "The report", "report": data_url(content)}, "carol", reference=ref)

    [row] = rows(w)
    assert (row.name, row.media_type, row.size, row.uploaded_by) == ("report.pdf", "application/pdf", FIVE_MB, "carol")
    assert row.field == "report" and row.task_id is not None and row.attached_at is not None
    with w.db.sessions() as s:
        assert documents.content_of(s.get(Document, row.id)) == content
        state = runtime.get_case(s, ref).state
        completed = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "TASK_COMPLETED")).one()
        biggest_event = max(len(json.dumps(e.details)) for e in s.scalars(select(AuditEvent)))
    assert len(state) < 60_000 and "base64," not in state  # not 7 MB of base64, re-written on every save
    assert biggest_event < 2_000
    reference = {"document_id": row.id, "sha256": row.sha256, "name": "report.pdf", "media_type": "application/pdf",
                 "size": FIVE_MB}
    assert completed.details["changed"]["report"] == [None, reference]
    assert task_data(w, ref, "check")["report"] == reference  # what the next task sees

    # The next task keeps the document by its id: still one row.
    w.complete("check", {"report": f"document:{row.id}", "checked": True}, "carol", reference=ref)
    assert [r.id for r in rows(w)] == [row.id]
    with w.db.sessions() as s:
        assert audit.verify(s)[1] == []


def test_the_same_file_twice_on_a_case_is_one_row_but_another_case_has_its_own(papers: World) -> None:
    w = papers
    first, second = start(w, "Rosemary"), start(w, "Hazel")
    same = b"%PDF-1.4 the same bytes"
    w.complete("upload", {"summary": "Twice", "report": data_url(same, "report.pdf"),
                          "appendices": [{"title": "Copy", "file": data_url(same, "copy.pdf")}]}, "carol",
               reference=first)
    [row] = rows(w)
    data = task_data(w, first, "check")
    assert data["report"]["document_id"] == data["appendices"][0]["file"]["document_id"] == row.id
    assert data["appendices"][0]["file"]["name"] == "copy.pdf"  # each reference keeps the name it was given
    w.complete("upload", {"summary": "Again", "report": data_url(same)}, "carol", reference=second)
    assert [r.case_id for r in rows(w)] == [row.case_id, w.case(second).id]
    with w.db.sessions() as s:
        uploaded = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "DOCUMENT_UPLOADED")).all()
    assert len(uploaded) == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("report", "data:text/html;name=page.html;base64,PGgxPg==", "must be a PDF, Word, ODT, RTF or text document"),
    ("report", "data:application/pdf;name=r.pdf;base64,not base64!", "not valid base64"),
    ("report", "data:application/pdf;name=r.pdf;base64,", "The selected file is empty"),
    ("report", "document:data:text/html;base64,PGgxPg==", "could not be found on this case"),
    ("report", "just some text", "could not be found on this case"),
    ("appendices", [{"file": "document:999999"}], "could not be found on this case"),
])
def test_a_file_the_forms_would_refuse_is_a_field_error_and_nothing_is_stored(
        papers: World, field: str, value: Any, message: str) -> None:
    w = papers
    ref = start(w)
    with pytest.raises(FormDataInvalid) as refused:
        w.complete("upload", {"summary": "x", "report": data_url(b"%PDF ok"), field: value}, "carol", reference=ref)
    [(name, text)] = refused.value.errors.items()
    assert name == ("appendices.0.file" if field == "appendices" else "report") and message in text
    assert rows(w) == [] and w.open_names(ref) == ["upload"]


def test_a_file_over_5_mb_is_refused(papers: World) -> None:
    ref = start(papers)
    with pytest.raises(FormDataInvalid, match="must be smaller than 5 MB"):
        papers.complete("upload", {"summary": "x", "report": data_url(b"x" * (FIVE_MB + 1))}, "carol", reference=ref)


def test_a_kept_document_of_another_case_is_a_field_error(papers: World) -> None:
    w = papers
    mine, other = start(w, "Rosemary"), start(w, "Hazel")
    w.complete("upload", {"summary": "Theirs", "report": data_url(b"%PDF other case")}, "carol", reference=other)
    [theirs] = rows(w)
    with pytest.raises(FormDataInvalid) as refused:
        w.complete("upload", {"summary": "x", "report": f"document:{theirs.id}"}, "carol", reference=mine)
    assert refused.value.errors == {"report": "The file uploaded before could not be found on this case: "
                                              "choose the file again"}
    with w.uow() as s:  # the same rule when a form is shown again or saved as a draft
        held, errors = claims.hold_uploads(s, w.task("upload", mine).id, {"report": f"document:{theirs.id}"},
                                           user=w.users["carol"], clock=w.clock)
    assert held == {} and "could not be found on this case" in errors["report"]


def test_a_draft_holds_its_files_by_id_only(papers: World) -> None:
    w = papers
    ref = start(w)
    task_id = w.task("upload", ref).id
    with w.uow() as s:
        held, errors = claims.hold_uploads(s, task_id, {"report": data_url(b"%PDF draft")}, user=w.users["carol"],
                                           clock=w.clock)
        assert errors == {} and held["report"].attached_at is None  # not listed until a task submits it
        with pytest.raises(DhrError, match="document id only"):
            claims.save_draft(s, task_id, {"report": {"data_url": data_url(b"%PDF draft")}}, user=w.users["carol"],
                              clock=w.clock)
    with w.db.sessions() as s:
        assert documents.for_case(s, runtime.get_case(s, ref).id) == []
    w.complete("upload", {"summary": "x", "report": f"document:{held['report'].id}"}, "carol", reference=ref)
    with w.db.sessions() as s:
        assert [d.id for d in documents.for_case(s, runtime.get_case(s, ref).id)] == [held["report"].id]


def test_the_command_line_goes_through_the_same_checks(papers: World, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    w = papers
    ref = start(w)
    monkeypatch.setenv("DHR_DATABASE_URL", w.db.url)
    runner = CliRunner()
    task_id = w.task("upload", ref).id

    bad = runner.invoke(cli, ["tasks", "complete", task_id, "--as", "carol", "--data",
                              json.dumps({"summary": "x", "report": "data:text/html;name=x.html;base64,PGgxPg=="})])
    assert bad.exit_code == 1 and "must be a PDF, Word, ODT, RTF or text document" in bad.output
    assert "Traceback" not in bad.output and rows(w) == []

    content = b"%PDF" + bytes(FIVE_MB - 4)  # too long for a command line: given as @FILE
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"summary": "From the CLI", "report": data_url(content)}))
    done = runner.invoke(cli, ["tasks", "complete", task_id, "--as", "carol", "--data", f"@{answers}"])
    assert done.exit_code == 0, done.output
    [row] = rows(w)
    assert row.size == FIVE_MB and row.uploaded_by == "carol"
    assert len(w.case(ref).state) < 60_000
    missing = runner.invoke(cli, ["tasks", "complete", w.task("check", ref).id, "--as", "carol", "--data",
                                  f"@{tmp_path / 'nothing.json'}"])
    assert missing.exit_code == 1 and "cannot be read" in missing.output


def test_documents_can_live_in_a_folder_named_by_sha256(papers: World, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    w = papers
    monkeypatch.setenv("DHR_DOCUMENTS_DIR", str(tmp_path / "files"))
    ref = start(w)
    w.complete("upload", {"summary": "x", "report": data_url(b"%PDF in a folder")}, "carol", reference=ref)
    [row] = rows(w)
    with w.db.sessions() as s:
        stored = s.get(Document, row.id)
        assert stored is not None and stored.content is None
        assert (tmp_path / "files" / row.sha256).read_bytes() == b"%PDF in a folder"
        assert documents.content_of(stored) == b"%PDF in a folder"
        (tmp_path / "files" / row.sha256).write_bytes(b"changed")
        with pytest.raises(DhrError, match="does not match its SHA-256"):
            documents.content_of(stored)


def test_the_migration_moves_embedded_files_out_of_an_old_state_and_drafts(papers: World,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    w = papers
    ref = start(w)
    old_file, draft_file = b"%PDF embedded in the state", b"%PDF embedded in a draft"
    upload_id = w.task("upload", ref).id
    with monkeypatch.context() as first_release:  # which kept the submitted data URL as it was
        first_release.setattr(documents, "take_uploads", lambda session, case_id, schema, data, **_: data)
        w.complete("upload", {"summary": "Before documents had a table", "report": data_url(old_file, "old.pdf")},
                   "carol", reference=ref)
    check_id = w.task("check", ref).id
    assert data_url(old_file, "old.pdf") in w.case(ref).state and rows(w) == []
    with w.uow() as s:  # what the first release could hold too: a file in the workflow's data, and in a draft
        case = runtime.get_case(s, ref)
        state = json.loads(case.state)
        state["data"]["summary_pack"] = [data_url(old_file, "old.pdf")]
        case.state = json.dumps(state)
        s.add(TaskDraft(task_id=check_id, username="carol", case_id=case.id, saved_at=w.clock.now(),
                        values={"report": {"data_url": data_url(draft_file, "draft.pdf"), "error": ""},
                                "checked": "yes"}))
    runtime.WORKFLOWS.clear()

    with w.db.engine.begin() as connection:
        assert migration.move_embedded_documents(connection) == 3
    with w.db.engine.begin() as connection:
        assert migration.move_embedded_documents(connection) == 0  # nothing left to move

    moved, drafted = rows(w)
    assert (moved.name, moved.size, moved.field, moved.task_id) == ("old.pdf", len(old_file), "report", upload_id)
    assert moved.uploaded_by == "carol"  # from the audit event of the completion that submitted it
    assert moved.attached_at is not None and drafted.attached_at is None and drafted.uploaded_by == "carol"
    with w.db.sessions() as s:
        assert "base64," not in runtime.get_case(s, ref).state
        assert documents.content_of(s.get(Document, moved.id)) == old_file
        draft = s.get(TaskDraft, (check_id, "carol"))
        assert draft is not None and draft.values["report"]["kept"] == str(drafted.id)
        assert "base64," not in json.dumps(draft.values)
        assert [d.id for d in documents.for_case(s, runtime.get_case(s, ref).id)] == [moved.id]
    assert task_data(w, ref, "check")["report"]["document_id"] == moved.id  # the case loads and runs on
    w.complete("check", {"report": f"document:{moved.id}", "checked": True}, "carol", reference=ref)
    assert w.case(ref).status == "completed"
    with w.db.sessions() as s:
        assert audit.verify(s)[1] == []  # old events keep what they held: the chain is untouched


def test_a_downgrade_puts_the_files_back_and_the_upgrade_moves_them_out_again(papers: World) -> None:
    from alembic import command

    from engine.platform.db import alembic_config, upgrade

    w = papers
    ref = start(w)
    w.complete("upload", {"summary": "x", "report": data_url(b"%PDF round trip", "trip.pdf")}, "carol",
               reference=ref)
    command.downgrade(alembic_config(w.db.engine), "0010")
    assert data_url(b"%PDF round trip", "trip.pdf") in w.case(ref).state
    upgrade(w.db.engine)
    [row] = rows(w)
    assert row.name == "trip.pdf" and "base64," not in w.case(ref).state
    assert task_data(w, ref, "check")["report"]["document_id"] == row.id
