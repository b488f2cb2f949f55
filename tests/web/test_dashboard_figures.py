"""The dashboard's figures read from what the unit of work keeps (the stages' counts in
`stage_summary`, a stay's length in `case_stage.stay_us`) equal the same figures counted directly
from every case's rows, as cases move: tasks completed, timers fired, stages entered and left, a
case completed (issue #15)."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import case as when_then
from sqlalchemy import distinct, func, literal, select
from sqlalchemy.orm import Session

from engine.platform import deadlines
from engine.platform.models import Case, CaseStage, OpenTask, Timer, UTCDateTime
from engine.review import pages, stage_summary
from engine.review.register import OPEN, Recommendation
from engine.review.reporting import StageTime, _days, _float
from engine.review.stage_summary import StageSummary
from tests.conftest import World
from tests.dhr_driver import Dhr, base_policy


def _scanned_stage_times(s: Session, now: Any, order: list[str]) -> list[StageTime]:
    """The stage figures as the dashboard counted them before 0017: every stay, at every request."""
    days = _days(s, CaseStage.entered_at, func.coalesce(CaseStage.left_at, literal(now, UTCDateTime())))
    running = CaseStage.left_at.is_(None)
    summary = s.execute(select(CaseStage.stage, func.count(distinct(CaseStage.case_id)),
                               func.sum(when_then((running, 1), else_=0)), func.max(when_then((running, days))))
                        .group_by(CaseStage.stage)).all()
    ranked = (select(CaseStage.stage, days.label("days"),
                     func.row_number().over(partition_by=CaseStage.stage, order_by=days).label("rank"),
                     func.count().over(partition_by=CaseStage.stage).label("stays"))
              .where(CaseStage.left_at.is_not(None)).subquery())
    middle = ranked.c.rank.in_([(ranked.c.stays + 1) // 2, (ranked.c.stays + 2) // 2])
    medians = dict(s.execute(select(ranked.c.stage, func.avg(ranked.c.days)).where(middle)
                             .group_by(ranked.c.stage)).all())
    found = {stage: (cases, open_now or 0, longest) for stage, cases, open_now, longest in summary}
    names = [n for n in order if n in found] + sorted(set(found) - set(order))
    return [StageTime(n, found[n][0], int(found[n][1]), _float(medians.get(n)), _float(found[n][2])) for n in names]


def _check(world: World, checked: list[int]) -> None:
    """The dashboard's figures now equal a direct count over every row."""
    now = world.clock.now()
    with world.db.sessions() as s:
        board = pages.dashboard(s, None, now)
        stays = list(s.scalars(select(CaseStage)))
        cases = list(s.scalars(select(Case)))
        open_ids = {c.id for c in cases if c.status == "open"}
        # the stages, counted here in Python
        by_stage: dict[str, list[CaseStage]] = {}
        for stay in stays:
            by_stage.setdefault(stay.stage, []).append(stay)
        got = {t.stage: t for t in board.stage_times}
        assert set(got) == set(by_stage)
        for stage, rows in by_stage.items():
            ended = [(r.left_at - r.entered_at).total_seconds() / 86400 for r in rows if r.left_at is not None]
            running = [(now - r.entered_at).total_seconds() / 86400 for r in rows if r.left_at is None]
            figure = got[stage]
            assert (figure.cases, figure.open_now) == (len({r.case_id for r in rows}), len(running)), stage
            assert all(r.stay_us == (None if r.left_at is None else (r.left_at - r.entered_at) // timedelta(
                microseconds=1)) for r in rows)
            for shown, direct in ((figure.median_days, statistics.median(ended) if ended else None),
                                  (figure.longest_open_days, max(running) if running else None)):
                assert (shown is None) == (direct is None) and (direct is None or abs(shown - direct) < 1e-6), stage
        # and exactly as the database counted them at each request before
        assert board.stage_times == _scanned_stage_times(s, now, [t.stage for t in board.stage_times])
        kept = {r.stage: (r.cases, r.running, r.finished) for r in s.scalars(select(StageSummary))}
        stage_summary.fill(s)  # counted afresh from the stays
        assert kept == {r.stage: (r.cases, r.running, r.finished) for r in s.scalars(select(StageSummary))}
        s.rollback()
        # the open cases by stage, and what falls due within 30 London days (overdue included)
        assert dict(board.by_stage) == dict(Counter(c.stage or pages.NO_STAGE for c in cases if c.status == "open"))
        assert board.open_count == len(open_ids)
        before, last_day = deadlines.due_within_before(now, pages.DASHBOARD_DAYS), deadlines.today(now) + timedelta(
            days=pages.DASHBOARD_DAYS)
        tasks = list(s.scalars(select(OpenTask)))
        task_ids = {t.id for t in tasks}
        due = (sum(1 for t in tasks if t.case_id in open_ids and t.due_at is not None and t.due_at < before)
               + sum(1 for t in s.scalars(select(Timer))
                     if t.case_id in open_ids and t.due_at < before and t.attached_to not in task_ids)
               + sum(1 for r in s.scalars(select(Recommendation))
                     if r.case_id in open_ids and r.status in OPEN and r.target_date is not None
                     and r.target_date <= last_day))
        assert board.due.total == due
    checked.append(len(stays))


def test_the_dashboard_figures_equal_a_direct_count_as_cases_move(dhr: World) -> None:
    world = dhr
    checked: list[int] = []
    _check(world, checked)  # no case yet: no figures

    def checking(until: Any) -> Any:
        def check(d: Dhr) -> bool:
            _check(world, checked)
            return bool(until(d))
        return check

    first = Dhr(world, "Rosemary")  # through every stage to the end, two days a task, timers fired on the way
    first.drive(base_policy, {}, step=timedelta(days=2), until=checking(lambda d: d.status() == "completed"))
    world.clock.advance(timedelta(days=3))
    second = Dhr(world, "Hazel")  # a stage or two, a task a week
    second.drive(base_policy, {}, step=timedelta(days=7),
                 until=checking(lambda d: d.find("draft_terms_of_reference") is not None))
    world.clock.advance(timedelta(days=1, hours=5))
    third = Dhr(world, "Iris")  # waiting in its first stage while time passes
    third.drive(base_policy, {}, step=timedelta(days=1),
                until=checking(lambda d: d.find("decide_on_review") is not None))
    world.clock.advance(timedelta(days=40))
    _check(world, checked)
    with world.db.sessions() as s:
        assert {r.stage for r in s.scalars(select(StageSummary)) if r.finished > 1}, "no stage with stays to rank"
    assert len(checked) > 10 and checked[-1] >= 8, checked  # every case checked after every step
