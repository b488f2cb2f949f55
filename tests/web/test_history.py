"""A case's history in words (every kind of event named, repeated reads made one row, who was added
said), documents listed by the field they were uploaded into, and the audit trail checked from a page."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text as sql

from engine.platform.audit import AuditType, head
from engine.platform.db import unit_of_work
from tests.conftest import POSTGRES_IN_SECOND_STEP
from webforms.history import EVENT_WORDS

from .conftest import Web

# the trail put in words; the trail's queries on PostgreSQL are in test_audit and test_audit_views
pytestmark = POSTGRES_IN_SECOND_STEP

DOCS = Path(__file__).resolve().parents[1] / "documents"


def words(response: object) -> str:
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def rows(response: object) -> list[str]:
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    found = re.findall(r'data-testid="history-row"[^>]*>(.*?)</tr>', body, re.S)
    return [html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).strip() for row in found]


def test_every_kind_of_event_has_words() -> None:
    assert set(EVENT_WORDS) == {t.value for t in AuditType}
    assert all(label and "_" not in label and label[0].isupper() for label in EVENT_WORDS.values())


def test_the_history_says_who_was_added_and_groups_repeated_reads(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    assert cst.post(f"/cases/{case_id}/members", {"user_id": "4"}).status_code == 302  # panel (the 4th user)
    auditor = web.as_user("auditor")
    for _ in range(3):
        assert auditor.get(f"/cases/{case_id}").status_code == 200
        web.clock.advance(timedelta(minutes=5))
    history = cst.get(f"/cases/{case_id}/history")
    shown = rows(history)
    added = [r for r in shown if "Added panel (Panel) to the case" in r]
    assert len(added) == 1 and "cst" in added[0]
    reads = [r for r in shown if "Case read by someone not on it" in r and "auditor" in r]
    assert len(reads) == 1 and "(3 times, the last at 09:10)" in reads[0]
    assert "Page read: the case page" in reads[0] and "Their role: Auditor" in reads[0]
    assert "bpmn_id" not in history.get_data(as_text=True)
    assert not re.search(r"\b[A-Z]+_[A-Z]+\b", " ".join(shown))  # no CASE_VIEWED, MEMBER_ADDED...
    # the CSV keeps every event, one a row
    csv_text = cst.get(f"/cases/{case_id}/history.csv").get_data(as_text=True)
    assert csv_text.count("Case read by someone not on it,,Page read: the case page; Their role: Auditor") == 3


def test_documents_are_listed_by_the_field_they_were_uploaded_into(web: Web) -> None:
    web.deploy(DOCS)
    case_id = web.start(process="papers")
    cst = web.as_user("cst")
    task_id = web.task(case_id, "upload").id
    response = cst.post(f"/tasks/{task_id}", {
        "summary": "The report", "report": (io.BytesIO(b"%PDF main"), "IMR.pdf"),
        "appendices.0._item": "1", "appendices.0.title": "Chronology",
        "appendices.0.file": (io.BytesIO(b"%PDF chronology"), "chronology.pdf")})
    assert response.status_code == 302
    page = cst.get(f"/cases/{case_id}")
    listed = words(page).split("Documents", 1)[1]
    assert "Report : IMR.pdf" in listed and "Appendices 1: File : chronology.pdf" in listed
    assert "(report)" not in listed and "appendices.0.file" not in listed


def test_an_auditor_checks_the_audit_trail_from_a_page(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    assert web.as_user("cst").get("/audit").status_code == 403
    auditor = web.as_user("auditor")
    assert 'data-testid="audit-link"' in auditor.get(f"/cases/{case_id}/history").get_data(as_text=True)
    first = auditor.get("/audit")
    assert first.status_code == 200 and "The audit trail is intact" not in words(first)  # checked only when asked
    checked = auditor.get("/audit?check=1")
    shown = words(checked)
    assert "The audit trail is intact" in shown
    anchor = re.search(r'data-testid="audit-anchor">([^<]+)<', checked.get_data(as_text=True))
    assert anchor
    with web.db.sessions() as s:
        assert anchor.group(1) == str(head(s))
    assert "unchanged up to anchored event" in words(auditor.get(f"/audit?check=1&anchor={anchor.group(1)}"))

    bad = auditor.get("/audit?check=1&anchor=12:nothex")
    assert bad.status_code == 400
    assert "is not an anchor" in words(bad) and 'id="anchor-error"' in bad.get_data(as_text=True)

    with unit_of_work(web.db.sessions) as s:  # someone with the database but not the key edits an event
        edited = s.execute(sql("SELECT min(id) FROM audit_event WHERE case_id = :c"), {"c": case_id}).scalar_one()
        s.execute(sql("UPDATE audit_event SET actor = 'someone else' WHERE id = :i"), {"i": edited})
    broken = auditor.get("/audit?check=1")
    assert "The audit trail has been tampered with" in words(broken)
    assert f"Event {edited} was changed after it was written" in words(broken)
