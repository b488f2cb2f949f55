"""Shared fixtures: a real database per test (SQLite and PostgreSQL), a settable clock, diagrams."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn import runtime
from engine.bpmn.library import read_folder
from engine.platform import access
from engine.platform.clock import SettableClock
from engine.platform.db import make_engine, session_factory, unit_of_work, upgrade
from engine.platform.models import AuditHead, Case, OpenTask, Timer, User
from engine.platform.settings import caches_kept
from engine.platform.users import add_user

# Every step of every test runs as a new process would: diagrams parsed anew, the case loaded from
# its stored state (DHR_RESTART_EACH_STEP=0 runs the suite with the caches a server keeps).
os.environ.setdefault("DHR_RESTART_EACH_STEP", "1")

DIAGRAMS = Path(__file__).parent / "diagrams"
POSTGRES_URL = os.environ.get("DHR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [b.strip() for b in os.environ.get("DHR_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]


def _postgres_available() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # the reason is shown in the skip message
        return str(exc).splitlines()[0]


_PG_PROBLEM: str | None = _postgres_available() if "postgresql" in BACKENDS else "not selected"
# For a test that cannot tell the databases apart (each use says why): it runs on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
# For a file whose tests reach the database only through reads and writes that the files run on both
# databases in `make test` already make there (each use says why): its tests' PostgreSQL runs are in
# CI's second step with the long tests (`make test-long`; `make test-all` runs every test).
POSTGRES_IN_SECOND_STEP = pytest.mark.postgres_in_second_step


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `second_step` the PostgreSQL runs of the files marked `postgres_in_second_step`."""
    for item in items:
        params = getattr(item, "callspec", None)
        if (item.get_closest_marker("postgres_in_second_step") and params is not None
                and params.params.get("db") == "postgresql"):
            item.add_marker(pytest.mark.second_step)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep Python's cycle collector off what is loaded for good (modules, the collected tests) and let
    it run less often: restoring a case creates tens of thousands of objects, and each full collection
    walked every object of the test process; the suite took a fifth longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@dataclass
class Db:
    """One test's database: its URL (usable by a subprocess too), engine and sessions."""

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def _require_postgres() -> None:
    if _PG_PROBLEM:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unavailable: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unavailable: {_PG_PROBLEM}")


def _schema_url(schema: str) -> str:
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def _new_schema() -> Iterator[str]:
    """A PostgreSQL schema of its own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class _PostgresSchema:
    """The PostgreSQL schema of one test session: migrated once, put back as migrated before each test.

    Running the migrations for every test cost more than most tests themselves (about a second on
    each database). Emptying the tables and copying back the rows of a snapshot takes milliseconds,
    and unlike a rolled-back transaction the test still works on a real, committed database that
    subprocesses, threads and other connections see. tests/test_migrations.py runs the migrations
    from empty.
    """

    def __init__(self, schema: str) -> None:
        self.schema, self.url = schema, _schema_url(schema)
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        metadata = MetaData()
        metadata.reflect(self.engine)
        self.tables = [t.name for t in metadata.sorted_tables if t.name != "alembic_version"]  # parents first
        self.snapshots: list[str] = []
        self.migrated = self.save()

    def save(self) -> str:
        """Copy every table's rows into a schema of their own; returns the SQL that puts them back."""
        copy = f"s_{uuid.uuid4().hex[:12]}"
        self.snapshots.append(copy)
        with self.engine.begin() as conn:
            conn.exec_driver_sql("; ".join([f'CREATE SCHEMA "{copy}"'] + [
                f'CREATE TABLE "{copy}"."{t}" AS TABLE "{self.schema}"."{t}"' for t in self.tables]))
            sequences = conn.execute(text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :s"),
                                     {"s": self.schema}).all()
        return "; ".join(
            # a lock left by a test that did not end its transaction fails the next test instead of hanging it
            ["SET LOCAL lock_timeout = '10s'"]
            + [f'DELETE FROM "{self.schema}"."{t}"' for t in reversed(self.tables)]
            + [f'INSERT INTO "{self.schema}"."{t}" OVERRIDING SYSTEM VALUE SELECT * FROM "{copy}"."{t}"'
               for t in self.tables]
            + [f"SELECT setval('\"{self.schema}\".\"{name}\"', {last or 1}, {'true' if last else 'false'})"
               for name, last in sequences])

    def restore(self, snapshot: str) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(snapshot)

    def drop_snapshots(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql("; ".join(f'DROP SCHEMA "{copy}" CASCADE' for copy in self.snapshots))
        self.engine.dispose()


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[_PostgresSchema]:
    with _new_schema() as schema:
        session_schema = _PostgresSchema(schema)
        try:
            yield session_schema
        finally:
            session_schema.drop_snapshots()


@pytest.fixture(scope="session")
def _sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, built once per test session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("migrated") / "dhr.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing moves the WAL into the file and removes it
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A migrated, empty database on each backend: a copy of the session's SQLite file, or the
    session's PostgreSQL schema put back as migrated."""
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "dhr.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_file"), path)
        url = f"sqlite:///{path}"
    else:
        _require_postgres()
        session_schema: _PostgresSchema = request.getfixturevalue("_postgres_schema")
        session_schema.restore(session_schema.migrated)
        url = session_schema.url
    engine = make_engine(url)
    try:
        yield Db(backend, url, engine, session_factory(engine))
    finally:
        engine.dispose()


@dataclass(frozen=True)
class _Snapshot:
    saved: Path | str  # a SQLite file, or the SQL that puts a PostgreSQL snapshot back
    clock: datetime


@pytest.fixture(scope="session")
def _snapshots() -> dict[tuple[Any, ...], _Snapshot]:
    return {}


def _fingerprint(db: Db) -> tuple[Any, ...]:
    """What the database holds, closely enough to tell whether a build would start from the same state:
    each table's row count, the audit chain's head and the users."""
    with db.engine.connect() as conn:
        tables = sorted(conn.scalars(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if db.backend == "sqlite"
            else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")))
        counts = tuple(conn.execute(text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables))).one())
        head = tuple(conn.execute(select(AuditHead.last_id, AuditHead.last_hash)).one())
        users = tuple(tuple(r) for r in conn.execute(
            select(User.username, User.role, User.agency, User.active).order_by(User.username)))
    return counts, head, users


def build_once(request: pytest.FixtureRequest, db: Db, clock: SettableClock, name: str,
               build: Callable[[], object]) -> None:
    """Run `build` on the test's database or, when an earlier test of the session ran it from the
    same state, put the database and the clock back as it left them.

    A fixture that drives many cases through the engine (seed 001) takes seconds; copying its rows
    back takes milliseconds. `build` must change nothing but the database and the clock.
    """
    snapshots: dict[tuple[Any, ...], _Snapshot] = request.getfixturevalue("_snapshots")
    # the audit key too: a trail sealed under one key would not verify under another a test sets
    key = (name, db.backend, clock.now(), _fingerprint(db), os.environ.get("DHR_AUDIT_KEY", ""))
    found = snapshots.get(key)
    if found is not None:
        _restore(request, db, found.saved)
        clock.set(found.clock)
        return
    # a fixture's build is setup, not a step under test: it runs with the caches a server keeps (seed
    # 001's build a third faster), and the test's own steps start from emptied caches
    with caches_kept():
        build()
    _empty_caches()
    snapshots[key] = _Snapshot(_save(request, db), clock.now())


def _sqlite_path(db: Db) -> str:
    database = make_url(db.url).database
    assert database
    return database


def _save(request: pytest.FixtureRequest, db: Db) -> Path | str:
    if db.backend == "postgresql":
        return request.getfixturevalue("_postgres_schema").save()
    copy = request.config._tmp_path_factory.mktemp("snapshot") / "dhr.sqlite3"  # type: ignore[attr-defined]
    _sqlite_backup(_sqlite_path(db), copy)
    return copy


def _restore(request: pytest.FixtureRequest, db: Db, saved: Path | str) -> None:
    if isinstance(saved, str):
        request.getfixturevalue("_postgres_schema").restore(saved)
        return
    db.engine.dispose()
    _sqlite_backup(saved, _sqlite_path(db))


def _sqlite_backup(source: Path | str, target: Path | str) -> None:
    """Copy a SQLite database page by page (SQLite's backup API: consistent even in WAL mode)."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A database with no tables at all on each backend, for the migrations themselves."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        engine = make_engine(url)
        yield Db("sqlite", url, engine, session_factory(engine))
        engine.dispose()
        return
    _require_postgres()
    with _new_schema() as schema:
        engine = make_engine(_schema_url(schema))
        try:
            yield Db("postgresql", _schema_url(schema), engine, session_factory(engine))
        finally:
            engine.dispose()


@pytest.fixture
def clock() -> SettableClock:
    """31 August 2026, 09:00 in London (BST)."""
    return SettableClock(datetime(2026, 8, 31, 8, 0, tzinfo=UTC))


def _empty_caches() -> None:
    """Forget the workflows and diagrams this process has loaded, as a new process would start."""
    runtime.WORKFLOWS.clear()
    runtime._bundles.clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    _empty_caches()
    yield
    _empty_caches()


class World:
    """Drives the test diagrams through the real engine, one unit of work per call."""

    def __init__(self, db: Db, clock: SettableClock) -> None:
        self.db, self.clock = db, clock
        self.users: dict[str, User] = {}

    def uow(self) -> Any:
        return unit_of_work(self.db.sessions)

    def reload_users(self) -> None:
        """Every user in the database, by name (after `build_once` put a database back)."""
        with self.db.sessions() as s:
            self.users = {u.username: u for u in s.scalars(select(User))}

    def deploy(self, folder: Path = DIAGRAMS) -> int:
        with self.uow() as s:
            version, _ = runtime.deploy(s, read_folder(folder), actor="test", clock=self.clock)
            return version.id

    def user(self, name: str, role: str, agency: str | None = None) -> User:
        with self.uow() as s:
            self.users[name] = add_user(s, name, role=role, agency=agency, password=None, actor="test",
                                        clock=self.clock)
        return self.users[name]

    def start(self, pseudonym: str = "Rosemary", year: int = 2026, process: str = "review_demo") -> str:
        with self.uow() as s:
            return runtime.start_case(s, process_id=process, pseudonym=pseudonym, year=year, data={},
                                      actor="test", clock=self.clock).reference

    def tasks(self, reference: str | None = None) -> list[OpenTask]:
        query = select(OpenTask).order_by(OpenTask.created_at, OpenTask.bpmn_id)
        if reference is not None:
            query = query.where(OpenTask.case_id == self.case(reference).id)
        with self.db.sessions() as s:
            return list(s.scalars(query))

    def task(self, bpmn_id: str, reference: str = "Rosemary/2026") -> OpenTask:
        matches = [t for t in self.tasks(reference) if t.bpmn_id == bpmn_id]
        assert len(matches) == 1, f"expected one open {bpmn_id}, found {[t.bpmn_id for t in self.tasks(reference)]}"
        return matches[0]

    def complete(self, bpmn_id: str, data: dict[str, Any], as_user: str, reference: str = "Rosemary/2026") -> None:
        task = self.task(bpmn_id, reference)
        self.join(as_user, reference)
        with self.uow() as s:
            runtime.complete_task(s, task.id, data, user=self.users[as_user], clock=self.clock)

    def join(self, username: str, reference: str) -> bool:
        """Make a user who sees only their own cases a member of this one, as a CST officer would;
        True if they were not one already."""
        user = self.users[username]
        with self.uow() as s:
            case = runtime.get_case(s, reference)
            if access.may_see_case(s, user, case.id):
                return False
            access.add_member(s, case, user, actor="test", at=self.clock.now())
            return True

    def leave(self, username: str, reference: str) -> None:
        with self.uow() as s:
            access.remove_member(s, runtime.get_case(s, reference), self.users[username], actor="test",
                                 at=self.clock.now())

    def timers(self, reference: str = "Rosemary/2026") -> list[Timer]:
        query = select(Timer).where(Timer.case_id == self.case(reference).id).order_by(Timer.due_at)
        with self.db.sessions() as s:
            return list(s.scalars(query))

    def case(self, reference: str = "Rosemary/2026") -> Case:
        with self.db.sessions() as s:
            return runtime.get_case(s, reference)

    def open_names(self, reference: str = "Rosemary/2026") -> list[str]:
        return sorted(t.bpmn_id for t in self.tasks(reference))


@pytest.fixture
def world(request: pytest.FixtureRequest, db: Db, clock: SettableClock) -> World:
    w = World(db, clock)

    def build() -> None:
        w.deploy()
        w.user("carol", "Community Safety Team")
        w.user("chair", "CSP Chair")
        w.user("pat", "Panel")

    build_once(request, db, clock, "world", build)
    w.reload_users()
    return w


@pytest.fixture
def dhr(request: pytest.FixtureRequest, world: World) -> World:
    """The DHR process (processes/) deployed, a user for every lane, the clock at the start of a review."""
    from .dhr_driver import AGENCY_HOLDERS, LANE_USERS, PROCESSES, START

    def build() -> None:
        world.deploy(PROCESSES)
        agency_of = {name: agency for agency, name in AGENCY_HOLDERS.items()}
        everyone = {name: lane for lane, name in LANE_USERS.items()}
        everyone |= dict.fromkeys(AGENCY_HOLDERS.values(), "Action Holder")
        for name, lane in everyone.items():
            if name not in world.users:
                world.user(name, lane, agency=agency_of.get(name))
        world.clock.set(START)

    build_once(request, world.db, world.clock, "dhr", build)
    world.reload_users()
    return world


@pytest.fixture
def seeded(request: pytest.FixtureRequest, world: World) -> World:
    """Seed 001's reviews and recommendations, run through the engine (tests/seed_001.py)."""
    from . import seed_001

    def build() -> None:
        world.user("holder", "Action Holder")
        seed_001.build(world, cst="carol", holder="holder")

    build_once(request, world.db, world.clock, "seed 001", build)
    world.reload_users()
    return world
