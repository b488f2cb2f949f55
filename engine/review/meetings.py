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
from ..platform.errors import FormDataInvalid
from ..platform.models import Base

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
    session: Session, *, held_on: date, attendees: list[Attendee], decisions: str,
    report_from: date | None, report_to: date | None, report: dict[str, Any] | None, actor: str, at: datetime,
) -> Meeting:
    """Record a meeting with the report tabled (its figures as they stood) and audit it."""
    meeting = Meeting(held_on=held_on, attendees=attendees, decisions=decisions.strip(), report_from=report_from,
                      report_to=report_to, report=report, recorded_by=actor, recorded_at=at)
    session.add(meeting)
    session.flush()
    record(session, AuditType.MEETING_RECORDED, actor=actor, at=at,
           details={"meeting": meeting.id, "held_on": held_on.isoformat(), "present": len(attendees),
                    "organisations": len(meeting.organisations), "quorate": meeting.quorate})
    return meeting


def meetings(session: Session) -> list[Meeting]:
    return list(session.scalars(select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc())))
