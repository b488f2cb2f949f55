"""Letters the process produces (to the Home Office, the family, agencies, the Steering Group, chief
executives): written into the case's documents when the task that sends them is created.

A user task names its letter in the diagram, like its form:
`<spiffworkflow:property name="letterTemplate" value="chief_executive_letter"/>` renders
`templates/letters/chief_executive_letter.txt` over the task's data. The letter is stored as text and
downloaded as PDF or as an editable Word document. Letters use the case's pseudonym, never a name:
confidential form values (`x-confidential`) are not given to the templates at all.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, Undefined
from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..bpmn import confidential, trial
from ..platform import events
from ..platform.calendar import london_day, long_date, parse_day
from ..platform.exports import Pdf, printable
from ..platform.models import Base, Case, OpenTask
from ..platform.settings import PROJECT_ROOT

LETTER_PROPERTY = "letterTemplate"
_jinja = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates")), autoescape=False,
                     undefined=Undefined, keep_trailing_newline=True)


class Letter(Base):
    """A letter written for a case, kept as text; rendered to PDF or DOCX on download."""

    __tablename__ = "letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


def _date(value: Any) -> str:
    day = parse_day(value)
    return long_date(day) if day else str(value or "")


def _add(value: Any, days: Any) -> str:
    try:
        return (date.fromisoformat(str(value)[:10]) + timedelta(days=int(days))).isoformat()
    except (TypeError, ValueError):
        return ""


def subscribe() -> None:
    """Letters are written when the task that sends them opens."""
    events.subscribe(events.CaseSaved, lambda saved: write_letters(saved.session, saved.case, saved.workflow,
                                                                  saved.created, saved.now))
    trial.add_timeline_source(_trial_letters)


def _trial_letters(session: Session, case_id: int, task_elements: dict[str, str]) -> list[trial.TrialEvent]:
    """A trial's timeline shows each letter written, on the task that sends it."""
    return [trial.TrialEvent(letter.created_at, "letter", f"Letter: {letter.title}", task_elements.get(letter.task_id),
                             None, f"{letter.kind} (kept in the trial)") for letter in letters_for(session, case_id)]


def write_letters(session: Session, case: Case, workflow: Any, created: list[str], now: datetime) -> list[Letter]:
    """Write the letters of newly created tasks (engine task ids) whose diagram names a template."""
    written = []
    secret: confidential.Confidential | None = None
    for task_id in created:
        task = workflow.get_task_from_id(UUID(task_id))
        kind = task.task_spec.extensions.get("properties", {}).get(LETTER_PROPERTY) if task else None
        if not kind:
            continue
        opened = session.get(OpenTask, task_id)  # its title says which one ("... R3 (Borough Council)")
        title = (opened.title if opened else task.task_spec.bpmn_name or task.task_spec.bpmn_id)[:200]
        secret = secret or confidential.deployed(session)
        data = secret.without(dict(task.data))
        request = data.get("chase_request") if isinstance(data.get("chase_request"), dict) else {}
        text = _jinja.get_template(f"letters/{kind}.txt").render(
            reference=case.reference, council="Community Safety Partnership", data=data, request=request,
            today=long_date(london_day(now)), date=_date, add=_add)
        letter = Letter(case_id=case.id, task_id=task_id, kind=kind, title=title, text=text.strip() + "\n",
                        created_at=now)
        session.add(letter)
        written.append(letter)
    return written


def letters_for(session: Session, case_id: int) -> list[Letter]:
    return list(session.scalars(select(Letter).where(Letter.case_id == case_id).order_by(Letter.id)))


def as_pdf(letter: Letter) -> bytes:
    """The letter as a PDF (A4, plain text, in a Unicode font)."""
    doc = Pdf(margin=25)
    doc.fpdf.add_page()
    doc.font(11)
    for paragraph in doc.text(letter.text, one_line=False).split("\n"):
        doc.fpdf.multi_cell(0, 6, paragraph or " ", new_x="LMARGIN", new_y="NEXT")
    return doc.output()


def as_docx(letter: Letter) -> bytes:
    """The letter as an editable Word document (whatever Word cannot hold replaced, never refused)."""
    from docx import Document

    document = Document()
    for paragraph in printable(letter.text).split("\n"):
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
