"""Steering Group meetings: who was there, whether it was quorate, the report tabled, decisions.

The terms of reference (seed 000): a meeting is quorate if 4 or more members of the group,
representing different organisations, are present. Two people from one organisation count once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..platform.access import name_key, tidy_name
from ..platform.audit import AuditType, record
from ..platform.calendar import london_day
from ..platform.checks import future_problems, period_problems, refuse
from ..platform.errors import FormDataInvalid
from ..platform.models import Base
from .reporting import steering_report

QUORUM = 4


class Meeting(Base):
    __tablename__ = "steering_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    held_on: Mapped[date] = mapped_column(Date)
    report_from: Mapped[date | None] = mapped_column(Date)  # the period of the report tabled
    report_to: Mapped[date | None] = mapped_column(Date)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the report's figures as tabled
    decisions: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime]
    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="meeting", order_by="Attendee.id", lazy="selectin", cascade="all, delete-orphan")

    @property
    def organisations(self) -> set[str]:
        return organisations(self.attendees)

    @property
    def quorate(self) -> bool:
        return is_quorate(self.attendees)


class Attendee(Base):
    __tablename__ = "steering_meeting_attendee"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("steering_meeting.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    meeting: Mapped[Meeting] = relationship(back_populates="attendees")


def organisations(attendees: list[Attendee]) -> set[str]:
    """The different organisations present (case and spacing do not make a new one)."""
    return {name_key(a.organisation) for a in attendees if a.organisation.strip()}


def is_quorate(attendees: list[Attendee]) -> bool:
    """4 or more members present, each from a different organisation."""
    return len(organisations(attendees)) >= QUORUM


def parse_attendees(text: str) -> list[Attendee]:
    """Read 'Name, Organisation' lines (blank lines ignored).

    Raises:
        FormDataInvalid: on `attendees`, naming the first line that is not 'Name, Organisation'.
    """
    found: list[Attendee] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, organisation = line.partition(",")
        if not name.strip() or not organisation.strip():
            raise FormDataInvalid({"attendees": f"Line {number} must be 'Name, Organisation'"})
        if len(name.strip()) > 200 or len(organisation.strip()) > 200:
            raise FormDataInvalid({"attendees": f"Line {number} is too long (200 characters at most each)"})
        found.append(Attendee(name=name.strip(), organisation=tidy_name(organisation)))
    if not found:
        raise FormDataInvalid({"attendees": "Enter the members present, one 'Name, Organisation' per line"})
    return found


def record_meeting(
    session: Session, *, held_on: date, attendees: list[Attendee] | str, decisions: str,
    report_from: date | None, report_to: date | None, actor: str, at: datetime,
) -> Meeting:
    """Record a meeting held on or before today (London, at `at`) with the Steering Group's report
    for the period tabled (its figures as they stand now), and audit it. `attendees` may be the
    'Name, Organisation' lines as typed.

    Raises:
        FormDataInvalid: on every field with a problem at once (`problems`).
    """
    today = london_day(at)
    found, present = _checked(held_on, attendees, report_from, report_to, today)
    refuse(found)
    report = (steering_report(session, report_from, report_to, today=today).as_dict()
              if report_from and report_to else None)
    meeting = Meeting(held_on=held_on, attendees=present, decisions=decisions.strip(), report_from=report_from,
                      report_to=report_to, report=report, recorded_by=actor, recorded_at=at)
    session.add(meeting)
    session.flush()
    record(session, AuditType.MEETING_RECORDED, actor=actor, at=at,
           details={"meeting": meeting.id, "held_on": held_on.isoformat(), "present": len(present),
                    "organisations": len(meeting.organisations), "quorate": meeting.quorate})
    return meeting


def problems(*, held_on: date | None, attendees: list[Attendee] | str | None, report_from: date | None,
             report_to: date | None, today: date) -> dict[str, str]:
    """What `record_meeting` would refuse, by field, of the values given (None: not given, or not
    readable, which is the form's to say): attendees that are not 'Name, Organisation' lines, a day
    in the future, only one day of the report's period, a period that ends before it starts. A form
    with problems of its own shows these with them."""
    return _checked(held_on, attendees, report_from, report_to, today)[0]


def _checked(held_on: date | None, attendees: list[Attendee] | str | None, report_from: date | None,
             report_to: date | None, today: date) -> tuple[dict[str, str], list[Attendee]]:
    found = future_problems(today, {"held_on": ("Date of the meeting", held_on),
                                    "report_from": ("The first day of the report tabled", report_from),
                                    "report_to": ("The last day of the report tabled", report_to)})
    present: list[Attendee] = attendees if isinstance(attendees, list) else []
    if isinstance(attendees, str):
        try:
            present = parse_attendees(attendees)
        except FormDataInvalid as exc:
            found.update(exc.errors)
    if (report_from is None) != (report_to is None):
        found["report_to" if report_from else "report_from"] = "Give both days of the report's period, or neither"
    elif not found.keys() & {"report_from", "report_to"}:
        found.update(period_problems(report_from, report_to, today, fields=("report_from", "report_to"),
                                     what="The report's period"))
    return found, present


def meetings(session: Session) -> list[Meeting]:
    return list(session.scalars(select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc())))
