"""The quick start's demo data: cases at several stages, one overdue, on the simulated clock."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.demo import seed
from engine.models import Case, OpenTask, SimulatedTime
from engine.settings import Settings

from .conftest import Db


def test_demo_seeds_cases_at_several_stages_once(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_CLOCK", "simulated")
    lines = list(seed(db.sessions, Settings()))
    assert "case Rosemary/2026" in lines
    with db.sessions() as s:
        cases = {c.reference: c for c in s.scalars(select(Case))}
        assert {c.status for c in cases.values()} == {"open", "completed"}
        assert {c.stage for c in cases.values() if c.status == "open"} == {"Test review", "Panel work"}
        tasks = {t.title for t in s.scalars(select(OpenTask))}
        assert "Decide (overdue)" in tasks
        assert s.get(SimulatedTime, 1) is not None
    assert list(seed(db.sessions, Settings()))[0].startswith("the database already has cases")
