"""Letters: written when the task that sends them is created, downloaded as PDF and Word."""

from __future__ import annotations

import io

import docx
import pypdf

from engine.review import letters

from .conftest import POSTGRES_IN_SECOND_STEP, World
from .dhr_driver import START, Dhr, base_policy

# letters drawn from the case's data; the outbox on PostgreSQL is in test_notifications
pytestmark = POSTGRES_IN_SECOND_STEP


def test_the_chief_executive_letter_names_the_agency_and_what_it_owes_since_when(dhr: World) -> None:
    case = Dhr(dhr)

    def nhs(task) -> bool:
        return task.bpmn_id == "secure_records_and_nominate" and case.agency(task) == "NHS Trust"

    case.drive(base_policy, {}, step=None, hold=nhs,
               until=lambda d: d.find("secure_records_and_nominate") is not None)
    police = next(t for t in case.all("secure_records_and_nominate") if case.agency(t) == "Police")
    case.complete(police)
    while case.find("write_to_chief_executive") is None:
        chase = [t for t in case.open() if t.bpmn_id in ("send_reminder", "escalate_non_response")]
        for task in chase:
            case.complete(task)
        if not chase:
            assert case.next_timer()
    with dhr.db.sessions() as s:
        written = letters.letters_for(s, dhr.case(case.reference).id)
    kinds = [letter.kind for letter in written]
    assert kinds.count("agency_request") == 2  # one request to each agency
    assert "home_office_decision" in kinds and "reminder" in kinds and "steering_group_escalation" in kinds
    [letter] = [letter for letter in written if letter.kind == "chief_executive_letter"]
    requested = START.date().strftime("%-d %B %Y")  # the requests went out on 31 August 2025
    assert "To: the Chief Executive, NHS Trust" in letter.text and f"We asked for it on {requested}" in letter.text
    assert case.reference in letter.text and "Alex Example" not in letter.text  # the pseudonym, never the name

    pdf_text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(letters.as_pdf(letter))).pages)
    assert "NHS Trust" in pdf_text and case.reference in pdf_text
    paragraphs = [p.text for p in docx.Document(io.BytesIO(letters.as_docx(letter))).paragraphs]
    assert "To: the Chief Executive, NHS Trust" in paragraphs
