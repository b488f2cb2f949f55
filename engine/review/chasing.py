"""The Steering Group asks every action holder for an update at once (seed 001, 5.1).

Each case with open recommendations gets the message `action_updates_requested`; a case whose
action plan is being monitored (dissemination, waiting for its next quarter) starts its update
round now, through the non-response chase. Each case is its own unit of work, so one case that
fails leaves the others asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..bpmn import runtime
from ..platform.audit import AuditType, record
from ..platform.clock import Clock
from ..platform.db import unit_of_work
from ..platform.errors import DhrError, NothingWaiting
from ..platform.models import Case, OpenTask
from .register import OPEN, Recommendation, RecommendationEvent

MESSAGE = "action_updates_requested"


@dataclass
class RequestOutcome:
    asked: list[str] = field(default_factory=list)  # case references
    already_asked: list[str] = field(default_factory=list)  # a round of requests is running already
    not_waiting: list[str] = field(default_factory=list)  # not published yet, or its last round in review
    failed: dict[str, str] = field(default_factory=dict)


def cases_with_open_actions(session: Session) -> list[Case]:
    ids = select(Recommendation.case_id).where(Recommendation.status.in_(OPEN)).distinct()
    return list(session.scalars(select(Case).where(Case.id.in_(ids), Case.status == "open").order_by(Case.id)))


def request_updates(sessions: sessionmaker[Session], clock: Clock, *, actor: str) -> RequestOutcome:
    """Ask for updates on every open recommendation of every case that can be asked now."""
    outcome = RequestOutcome()
    with sessions() as session:
        cases = [c.reference for c in cases_with_open_actions(session)]
    for reference in cases:
        now = clock.now()
        try:
            with unit_of_work(sessions) as session:
                runtime.send_message(session, reference, MESSAGE,
                                     {"requested_by": actor, "requested_at": now.isoformat()}, actor=actor, clock=clock)
            outcome.asked.append(reference)
        except NothingWaiting:
            with sessions() as session:
                running = _being_asked(session, runtime.get_case(session, reference).id)
            (outcome.already_asked if running else outcome.not_waiting).append(reference)
        except DhrError as exc:
            outcome.failed[reference] = str(exc)
    with unit_of_work(sessions) as session:
        record(session, AuditType.UPDATES_REQUESTED, actor=actor, at=clock.now(),
               details={"asked": outcome.asked, "already_asked": outcome.already_asked,
                        "not_waiting": outcome.not_waiting, "failed": sorted(outcome.failed)})
    return outcome


def _being_asked(session: Session, case_id: int) -> bool:
    """Whether an action holder of the case has an update request open now."""
    requested = (select(RecommendationEvent.task_id).join(Recommendation)
                 .where(Recommendation.case_id == case_id, RecommendationEvent.kind == "requested"))
    return session.scalar(select(OpenTask.id).where(OpenTask.id.in_(requested)).limit(1)) is not None
