"""E-mail notifications: queued in the outbox in the unit of work that causes them, sent later.

When a task is created for a role (including the tasks a reminder, an escalation or a breached
deadline creates in the DHR diagrams), every active user of that role who may see the case and
has an e-mail address gets one message with the case reference and a link: never a personal name.
Sending claims each message first (`sending`, committed), then sends, then marks it `sent`: a
sender that dies mid-way leaves it `sending` for an administrator rather than ever sending twice.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from . import deadlines, events
from .access import may_see_case
from .audit import AuditType
from .clock import Clock
from .db import unit_of_work
from .events import work_refusal as feature_refusal
from .models import AuditEvent, Base, Case, OpenTask, User
from .roles import Power, in_lane, may
from .settings import Settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class OutboxMessage(Base):
    """An e-mail waiting to be sent (or sent), with the event that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


def subscribe() -> None:
    """E-mail the people a unit of work's events concern."""
    events.subscribe(events.EventsRecorded, lambda recorded: queue_for_events(recorded.session, recorded.case,
                                                                             recorded.events, recorded.now))


def queue_for_events(session: Session, case: Case, events: list[AuditEvent], now: datetime,
                     settings: Settings | None = None) -> int:
    """Queue the e-mails the unit of work's events call for; return how many."""
    settings = settings or Settings()
    created = [e for e in events if e.event_type == AuditType.TASK_CREATED.value and e.case_id == case.id]
    stalled = [e for e in events if e.event_type == AuditType.CASE_STALLED.value and e.case_id == case.id]
    if not created and not stalled:
        return 0
    people = list(session.scalars(select(User).where(User.active.is_(True), User.email.is_not(None))))
    queued = 0
    for event in stalled:  # the process owners: only a change of the diagram can move the case on
        stall = uuid.uuid4().hex  # the event has no id before its unit of work commits (the audit chain)
        for user in people:
            if not may(user, Power.RETRY_CASES):
                continue
            session.add(OutboxMessage(
                dedupe_key=f"stalled:{stall}:{user.id}", case_id=case.id, recipient=str(user.email),
                subject=f"Case {case.reference} has stalled",
                body=(f"Case {case.reference} is open but nothing can move it on.\n\n"
                      f"{(event.details or {}).get('reason', '')}\n\n"
                      f"See it: {settings.base_url.rstrip('/')}/cases/{case.id}\n\n"
                      "This message was sent by the DHR case system. Do not reply to it."),
                status="queued", attempts=0, created_at=now))
            queued += 1
    for event in created:
        lane = str((event.details or {}).get("lane") or "")
        due = (event.details or {}).get("due_at")
        task = session.get(OpenTask, event.task_id) if event.task_id else None
        for user in people:
            if not in_lane(user, lane) or not may_see_case(session, user, case.id):
                continue
            if task is not None and feature_refusal(session, user, task) is not None:
                continue  # a feature's rule keeps it from them (another agency's update, say)
            task_due = deadlines.due(datetime.fromisoformat(due), now) if due else None
            when = f"It is due by {task_due.when} (UK time).\n\n" if task_due else ""
            session.add(OutboxMessage(
                dedupe_key=f"task:{event.task_id}:{user.id}", case_id=case.id, recipient=str(user.email),
                subject=f"New task for the {lane}: {event.task_name} ({case.reference})",
                body=(f"A task is waiting for the {lane} on case {case.reference}: {event.task_name}.\n\n{when}"
                      f"Open it: {settings.base_url.rstrip('/')}/tasks/{event.task_id}\n\n"
                      "This message was sent by the DHR case system. Do not reply to it."),
                status="queued", attempts=0, created_at=now))
            queued += 1
    return queued


def _claim(sessions: sessionmaker[Session], now: datetime, limit: int) -> list[dict[str, Any]]:
    with unit_of_work(sessions) as session:
        rows = list(session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "queued",
                   or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)))
        for row in rows:
            row.status = "sending"
        return [{"id": r.id, "to": r.recipient, "subject": r.subject, "body": r.body, "key": r.dedupe_key}
                for r in rows]


def send_due(sessions: sessionmaker[Session], clock: Clock, settings: Settings, limit: int = 50) -> tuple[int, int]:
    """Send queued e-mails; return (sent, failed attempts). Safe to run from several processes."""
    sent = failed = 0
    for message in _claim(sessions, clock.now(), limit):
        error = None
        try:
            _deliver(message, settings)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        with unit_of_work(sessions) as session:
            row = session.get(OutboxMessage, message["id"])
            assert row is not None
            now = clock.now()
            if error is None:
                row.status, row.sent_at = "sent", now
                sent += 1
                continue
            failed += 1
            row.attempts += 1
            row.last_error = error[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.status, row.next_attempt_at = "queued", now + timedelta(minutes=2 ** row.attempts)
            log.warning("e-mail %s not sent (attempt %s): %s", row.id, row.attempts, error)
    return sent, failed


def _deliver(message: dict[str, Any], settings: Settings) -> None:
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = settings.mail_from, message["to"], message["subject"]
    email["Message-ID"] = f"<{message['key'].replace(':', '.')}@dhr>"  # the same message, the same id
    email.set_content(message["body"])
    if not settings.smtp_host:
        log.info("e-mail (no DHR_SMTP_HOST set) to %s: %s\n%s", message["to"], message["subject"], message["body"])
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(email)


def counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
