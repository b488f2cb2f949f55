"""How many cases each stage has had, has now and has seen leave: the dashboard's "time in each
stage" counts, kept by the unit of work that moves a case, so the page reads a row per stage
instead of counting every case's stays (issue #15).

The runtime reports a case's move between stages (`CaseSaved.moved`); the listener here adds it to
the stage's row in the same transaction. Migration 0017 filled the rows from the stays already
recorded; `fill` does the same for rows written in bulk (bench/pages.py). The medians and the longest
running stay are read from `case_stage` itself, by index (`reporting.stage_times`).
"""

from __future__ import annotations

from sqlalchemy import Integer, String, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..platform import events
from ..platform.models import Base, Case, CaseStage


class StageSummary(Base):
    """One stage's counts over every case's stays in it."""

    __tablename__ = "stage_summary"

    stage: Mapped[str] = mapped_column(String(200), primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)  # cases that have been in it (once each)
    running: Mapped[int] = mapped_column(Integer)  # stays in it now
    finished: Mapped[int] = mapped_column(Integer)  # stays in it that have ended


def subscribe() -> None:
    """Count each case's move between stages in the unit of work that moves it."""
    events.subscribe(events.CaseSaved, lambda saved: moved(saved.session, saved.case, saved.moved))


def moved(session: Session, case: Case, move: events.StageMove | None) -> None:
    """Add `case`'s move (its stay rows already flushed) to the stages' counts."""
    if move is None:
        return
    changes: dict[str, dict[str, int]] = {}
    if move.left is not None:
        changes[move.left] = {"cases": 0, "running": -1, "finished": 1}
    if move.entered is not None:
        visits = session.scalar(select(func.count()).select_from(CaseStage)
                                .where(CaseStage.case_id == case.id, CaseStage.stage == move.entered)) or 0
        entered = changes.setdefault(move.entered, {"cases": 0, "running": 0, "finished": 0})
        entered["cases"] += 1 if visits == 1 else 0
        entered["running"] += 1
    for stage in sorted(changes):  # one order of row locks for every writer: no deadlock between two moves
        _add(session, stage, changes[stage])


def _add(session: Session, stage: str, change: dict[str, int]) -> None:
    """Add `change` to the stage's row (a new row for a stage never counted before), in one statement."""
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert(StageSummary) if dialect == "postgresql" else sqlite.insert(StageSummary)
    table = StageSummary.__table__.c
    session.execute(upsert.values(stage=stage, **change).on_conflict_do_update(
        index_elements=[table.stage],
        set_={name: table[name] + upsert.excluded[name] for name in change}))


def fill(session: Session) -> None:
    """Count every stage's stays afresh (for stays written without the unit of work)."""
    session.execute(delete(StageSummary))
    session.execute(insert(StageSummary).from_select(
        ["stage", "cases", "running", "finished"],
        select(CaseStage.stage, func.count(CaseStage.case_id.distinct()),
               func.count() - func.count(CaseStage.left_at), func.count(CaseStage.left_at))
        .group_by(CaseStage.stage)))
