"""The append-only audit trail, chained by hashes so that an edited or deleted row shows."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64
_NEW = "dhr.audit.new"


class AuditType(enum.StrEnum):
    PROCESS_DEPLOYED = "PROCESS_DEPLOYED"
    CASE_STARTED = "CASE_STARTED"
    CASE_COMPLETED = "CASE_COMPLETED"
    CASE_STALLED = "CASE_STALLED"
    CASE_RESUMED = "CASE_RESUMED"
    CASE_RETRIED = "CASE_RETRIED"
    CASE_UPGRADED = "CASE_UPGRADED"
    TASK_CREATED = "TASK_CREATED"
    TASK_COMPLETED = "TASK_COMPLETED"
    TASK_CANCELLED = "TASK_CANCELLED"
    TASK_CLAIMED = "TASK_CLAIMED"
    TASK_RELEASED = "TASK_RELEASED"
    TIMER_SET = "TIMER_SET"
    TIMER_RESCHEDULED = "TIMER_RESCHEDULED"
    TIMER_FIRED = "TIMER_FIRED"
    TIMER_CANCELLED = "TIMER_CANCELLED"
    TIMER_FAILED = "TIMER_FAILED"
    TIMER_STUCK = "TIMER_STUCK"
    TIMER_RETRIED = "TIMER_RETRIED"
    MESSAGE_RECEIVED = "MESSAGE_RECEIVED"
    USER_ADDED = "USER_ADDED"
    USER_CHANGED = "USER_CHANGED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    SESSIONS_ENDED = "SESSIONS_ENDED"
    SECOND_FACTOR_ENROLLED = "SECOND_FACTOR_ENROLLED"
    SECOND_FACTOR_RESET = "SECOND_FACTOR_RESET"
    RECOVERY_CODE_USED = "RECOVERY_CODE_USED"
    AGENCY_ADDED = "AGENCY_ADDED"
    MEMBER_ADDED = "MEMBER_ADDED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    CASE_VIEWED = "CASE_VIEWED"
    CLOCK_CHANGED = "CLOCK_CHANGED"
    RECOMMENDATION_ADDED = "RECOMMENDATION_ADDED"
    RECOMMENDATION_REVISED = "RECOMMENDATION_REVISED"
    RECOMMENDATION_REQUESTED = "RECOMMENDATION_REQUESTED"
    RECOMMENDATION_UPDATED = "RECOMMENDATION_UPDATED"
    RECOMMENDATION_WITHDRAWN = "RECOMMENDATION_WITHDRAWN"
    UPDATES_REQUESTED = "UPDATES_REQUESTED"
    MEETING_RECORDED = "MEETING_RECORDED"
    COST_ADDED = "COST_ADDED"
    COST_REMOVED = "COST_REMOVED"
    BUDGET_SET = "BUDGET_SET"
    DOCUMENT_UPLOADED = "DOCUMENT_UPLOADED"


def _plain(value: Any) -> Any:
    """Return `value` as JSON would give it back, so the stored row hashes as it was hashed."""
    return json.loads(json.dumps(value, default=str))


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    body = {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "type": event.event_type,
        "case": event.case_id,
        "task": event.task_id,
        "task_name": event.task_name,
        "details": event.details,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def record(
    session: Session,
    event_type: AuditType,
    *,
    actor: str,
    at: datetime,
    case_id: int | None = None,
    task_id: str | None = None,
    task_name: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain (inside the caller's transaction, flushed with it)."""
    head = _locked_head(session)
    event = AuditEvent(
        id=head.last_id + 1,
        at=at,
        actor=actor,
        event_type=event_type.value,
        case_id=case_id,
        task_id=task_id,
        task_name=task_name,
        details=_plain(details or {}),
        prev_hash=head.last_hash,
        hash="",
    )
    event.hash = event_hash(head.last_hash, event)
    head.last_id, head.last_hash = event.id, event.hash
    session.add(event)
    session.info.setdefault(_NEW, []).append(event)
    return event


def take_new(session: Session) -> list[AuditEvent]:
    """Return the events recorded in this session since the last call, and forget them."""
    events: list[AuditEvent] = session.info.pop(_NEW, [])
    return events


def _locked_head(session: Session) -> AuditHead:
    """The chain's head, locked once per transaction: concurrent writers queue here, never fork it."""
    transaction = session.get_transaction()
    cached = session.info.get("audit_head")
    if cached is not None and cached[0] is transaction:
        return cached[1]
    head = session.scalars(
        select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    ).one()
    session.info["audit_head"] = (transaction, head)
    return head


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    message: str

    def __str__(self) -> str:
        return f"event {self.event_id}: {self.message}"


def verify(session: Session, batch: int = 1000) -> tuple[int, list[ChainProblem]]:
    """Check every event's hash and link; return how many were read and what is wrong."""
    problems: list[ChainProblem] = []
    prev_hash, expected_id, count = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            count += 1
            if event.id != expected_id:
                problems.append(ChainProblem(expected_id, f"missing (the next event is {event.id})"))
            if event.prev_hash != prev_hash:
                problems.append(ChainProblem(event.id, "does not follow the event before it"))
            if event_hash(event.prev_hash, event) != event.hash:
                problems.append(ChainProblem(event.id, "was changed after it was written"))
            prev_hash, expected_id, last_id = event.hash, event.id + 1, event.id
        session.expunge_all()
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1)).one()
    if head.last_id != last_id or head.last_hash != prev_hash:
        problems.append(ChainProblem(head.last_id, "the newest event(s) are missing"))
    return count, problems


def events_for_case(session: Session, case_id: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)))


def task_closed_event(session: Session, task_id: str) -> AuditEvent | None:
    """The event that closed a task that is no longer open (completed or cancelled), if it was ever open."""
    return session.scalars(
        select(AuditEvent).where(AuditEvent.task_id == task_id, AuditEvent.event_type.in_(
            [AuditType.TASK_COMPLETED.value, AuditType.TASK_CANCELLED.value])).order_by(AuditEvent.id.desc())
    ).first()
