"""The migrations, run from an empty database on each backend (every other test gets a copy of a
database migrated once per test session: see the `db` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select

from engine.platform.db import alembic_config, unit_of_work, upgrade
from engine.platform.models import AuditHead, Base, User
from engine.platform.users import add_user

from .conftest import Db, _sqlite_backup, _sqlite_path, build_once


def _revision(db: Db) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_the_migrations_build_the_whole_schema_from_an_empty_database(empty_db: Db) -> None:
    import engine.platform.heartbeat  # noqa: F401
    import engine.platform.notifications  # noqa: F401
    import engine.review.chasing  # noqa: F401  (every module with tables)
    import engine.review.costs  # noqa: F401
    import engine.review.meetings  # noqa: F401
    import engine.review.stage_summary  # noqa: F401

    assert _revision(empty_db) is None
    upgrade(empty_db.engine)
    head = ScriptDirectory.from_config(alembic_config(empty_db.engine)).get_current_head()
    assert _revision(empty_db) == head
    with empty_db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    with empty_db.sessions() as s:
        assert [(h.last_id, h.last_hash) for h in s.scalars(select(AuditHead))] == [(0, "0" * 64)]
    upgrade(empty_db.engine)  # at the head already: nothing to do
    assert _revision(empty_db) == head


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_the_session_schema_is_put_back_as_migrated_between_tests(db: Db, request: pytest.FixtureRequest,
                                                                  clock) -> None:
    def add_carol() -> int:
        with unit_of_work(db.sessions) as s:
            return add_user(s, "carol", role="Community Safety Team", agency=None, password=None, actor="test",
                            clock=clock).id

    first = add_carol()
    with db.sessions() as s:
        assert s.scalar(select(AuditHead.last_id)) != 0
    session_schema = request.getfixturevalue("_postgres_schema")
    session_schema.restore(session_schema.migrated)
    with db.sessions() as s:
        assert list(s.scalars(select(User))) == []
        assert [(h.last_id, h.last_hash) for h in s.scalars(select(AuditHead))] == [(0, "0" * 64)]
    assert add_carol() == first == 1  # the sequences start again too


def test_a_fixture_built_once_is_put_back_as_it_left_the_database_and_the_clock(
        db: Db, clock, request: pytest.FixtureRequest) -> None:
    start = clock.now()

    def build() -> None:
        with unit_of_work(db.sessions) as s:
            add_user(s, "carol", role="Community Safety Team", agency=None, password=None, actor="test", clock=clock)
        clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))

    def state() -> tuple[object, ...]:
        with db.sessions() as s:
            return tuple((u.id, u.username, u.created_at) for u in s.scalars(select(User))), clock.now()

    build_once(request, db, clock, "a test of build_once", build)
    built = state()
    assert built == (((1, "carol", start),), datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    # back to the empty database, as the next test would find it
    if db.backend == "sqlite":
        _sqlite_backup(request.getfixturevalue("_sqlite_file"), _sqlite_path(db))
    else:
        session_schema = request.getfixturevalue("_postgres_schema")
        session_schema.restore(session_schema.migrated)
    clock.set(start)
    assert state() == ((), start)

    def again() -> None:
        pytest.fail("built twice from the same state")

    build_once(request, db, clock, "a test of build_once", again)
    assert state() == built


@pytest.mark.long
def test_0017_fills_the_stays_lengths_and_the_stages_counts_as_the_unit_of_work_keeps_them(
        empty_db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic import command

    from engine.platform.models import CaseStage
    from engine.platform.settings import Settings
    from engine.review.demo import seed
    from engine.review.stage_summary import StageSummary

    monkeypatch.setenv("DHR_CLOCK", "simulated")
    upgrade(empty_db.engine)
    list(seed(empty_db.sessions, Settings(database_url=empty_db.url)))  # cases at five stages, one completed

    def kept() -> tuple[list[tuple[int, int | None]], list[tuple[str, int, int, int]]]:
        with empty_db.sessions() as s:
            return ([(r.id, r.stay_us) for r in s.scalars(select(CaseStage).order_by(CaseStage.id))],
                    sorted((r.stage, r.cases, r.running, r.finished) for r in s.scalars(select(StageSummary))))

    by_the_unit_of_work = kept()
    assert sum(1 for _, length in by_the_unit_of_work[0] if length is not None) >= 5
    command.downgrade(alembic_config(empty_db.engine), "0016")
    command.upgrade(alembic_config(empty_db.engine), "head")
    assert kept() == by_the_unit_of_work
