"""The database tables: process versions, cases and their projections, timers, audit, users."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back timezone-aware, on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class ProcessVersion(Base):
    """An immutable, content-hashed set of BPMN and form files, as deployed."""

    __tablename__ = "process_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    process_ids: Mapped[list[Any]]
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(120))
    files: Mapped[list[ProcessFile]] = relationship(
        back_populates="version", order_by="ProcessFile.path", lazy="selectin"
    )


class ProcessFile(Base):
    __tablename__ = "process_file"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    version: Mapped[ProcessVersion] = relationship(back_populates="files")


class ProcessVersionSpec(Base):
    """A deployed version's diagrams as parsed, written when it is deployed, so that a process that
    loads the version restores them instead of parsing its XML again (engine/bpmn/library.py,
    `stored_specs`). One row per process (`name` is its id: its specs serialized, the version's
    `pristine`), and the row named "" with the version's index (which file defines each process, its
    forms). `format` says what wrote them: rows of another format are ignored and the XML parsed."""

    __tablename__ = "process_version_spec"

    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    format: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)


class Case(Base):
    """A review: one process instance, pinned to the process version it started on."""

    __tablename__ = "case_instance"
    __table_args__ = (  # the case list (newest first) and the dashboard (soonest deadline first, in its order)
        Index("ix_case_instance_status_started", "status", "started_at"),
        Index("ix_case_instance_status_deadline", "status", "deadline_on", "started_at", "id"),
        Index("ix_case_instance_status_id", "status", "id"),  # the open cases, from the index alone
        Index("ix_case_instance_stalled", "stalled_at"),  # the dashboard's few stalled cases
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(120))
    year: Mapped[int]
    process_id: Mapped[str] = mapped_column(String(200))
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    status: Mapped[str] = mapped_column(String(20))  # open | completed
    stage: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # The case's deadline (e.g. the six-month completion date): the date that the diagram's waiting
    # timer marked `caseDeadlineDate` names; None while no such timer waits (paused, or done).
    deadline_on: Mapped[date | None]
    # Projection of the case variables that reports read (`engine.review.facts.FACT_VARIABLES`), as the live
    # branches of the instance last had them.
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Set when a unit of work leaves the case open with nothing a person, a timer or a message can
    # do (engine/runtime.py `_save`): since when, and what it was left waiting on, in plain words.
    stalled_at: Mapped[datetime | None] = mapped_column(default=None)
    stalled_reason: Mapped[str | None] = mapped_column(Text, default=None)

    # Optimistic locking: every save is `UPDATE ... WHERE revision = <the revision read>`.
    __mapper_args__ = {"version_id_col": revision}


class CaseStage(Base):
    """Projection: when a case entered and left each stage (the process its diagram calls)."""

    __tablename__ = "case_stage"
    # a stage's finished stays by length (its median), then its running ones by entry (the longest),
    # with the times their days are counted from (read from the index alone)
    __table_args__ = (Index("ix_case_stage_stage_stay", "stage", "stay_us", "entered_at", "left_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    stage: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    stay_us: Mapped[int | None] = mapped_column(BigInteger)  # left_at - entered_at in microseconds, once left


def stay_us(entered_at: datetime, left_at: datetime) -> int:
    """A stay's length in whole microseconds (exact, as the stay's `stay_us` keeps it)."""
    return (left_at - entered_at) // timedelta(microseconds=1)


class OpenTask(Base):
    """Projection: a user task waiting for someone, as pages and the inbox read it."""

    __tablename__ = "open_task"
    __table_args__ = (Index("ix_open_task_lane_due", "lane", "due_at"),
                      # the inbox (a lane, any capitalisation, in its order) and the dashboard's "due soon"
                      Index("ix_open_task_lane_key_due", func.lower(text("lane")), "due_at", "created_at", "id"),
                      Index("ix_open_task_due", "due_at", "id", "case_id"))  # counted from the index alone

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[str | None] = mapped_column(String(500))
    instructions: Mapped[str | None] = mapped_column(Text)
    process_name: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(120))  # a username: only they may complete it
    claimed_at: Mapped[datetime | None]


class TaskDraft(Base):
    """What someone typed into a task's form and saved without submitting."""

    __tablename__ = "task_draft"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(120), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    values: Mapped[dict[str, Any]]
    saved_at: Mapped[datetime]


class Timer(Base):
    """Projection and work queue: a timer the case is waiting on, with its due time in UTC."""

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_status_due", "status", "due_at"),
                      Index("ix_timer_due", "due_at", "id", "case_id", "attached_to"))  # the dashboard counts from it

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    attached_to: Mapped[str | None] = mapped_column(String(36))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | stuck
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed firings so far
    next_attempt_at: Mapped[datetime | None]  # after a failure: not before this time
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only history; each row carries the hash of the one before it."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_case_id_id", "case_id", "id"),)  # a case's history, in order

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    event_type: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"))
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    task_name: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last audit event, locked by every writer so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(120))
    agency: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class SimulatedTime(Base):
    """One row: the time of the simulated clock (`DHR_CLOCK=simulated`)."""

    __tablename__ = "simulated_time"

    id: Mapped[int] = mapped_column(primary_key=True)
    now: Mapped[datetime]


class CaseView(Base):
    """A read of a case's pages by someone who is not a member of it: a log of its own, appended to
    without the audit chain's lock, each row keyed-hashed as written and sealed into the chain in
    batches (`audit.seal_views`). It reads like an audit event (`event_type`, `details`)."""

    __tablename__ = "case_view"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    page: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(120))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_in: Mapped[int | None] = mapped_column(Integer, index=True)  # the VIEWS_SEALED event, once sealed

    event_type = "CASE_VIEWED"
    task_id = None
    task_name = None

    @property
    def details(self) -> dict[str, Any]:
        return {"page": self.page, "role": self.role}
