"""Database engine, sessions, the unit-of-work boundary and schema migrations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from .errors import SettingsError

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
# An execution option: this engine's SQLite transactions begin deferred (see `read_mostly`).
READ_MOSTLY = "dhr_read_mostly"
MAX_ID = 2**63 - 1  # the largest id the databases' 64-bit integer keys can hold
_DEFERRED = "dhr_deferred"  # in a connection's info: its transaction has not taken the write lock yet
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT")


def as_id(value: object) -> int | None:
    """An id typed by someone (a form field, a query string): None unless it is a whole number a key
    could hold, so an odd value is "not found" rather than an overflow in the database driver."""
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and write-locking transactions.

    On SQLite every transaction takes the write lock when it begins (BEGIN IMMEDIATE), so two
    writers queue instead of failing, except those of `read_mostly` sessions: they begin deferred,
    read without waiting for a writer, and take the write lock just before their first write.

    Raises:
        SettingsError: the URL is not a database URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SettingsError(f"DHR_DATABASE_URL is not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event open the transaction, so it can be IMMEDIATE: two writers
        # then queue on the database lock instead of failing when a reader tries to write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        deferred = bool(options.get(READ_MOSTLY))
        conn.info[_DEFERRED] = False
        if options.get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
            conn.info[_DEFERRED] = deferred

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if conn.info.get(_DEFERRED) and _writes(statement, context):
            # A deferred transaction cannot safely become a writer: in WAL mode SQLite refuses the
            # upgrade at once ("database is locked", no busy wait) if another writer holds the lock
            # or has committed since this transaction's first read. So end the read (it wrote
            # nothing) and begin again as a writer, waiting for the lock like any writer. Reads made
            # before then may be older than the write, as under PostgreSQL's READ COMMITTED; rows
            # the write depends on are read with FOR UPDATE, which counts as a write here.
            conn.info[_DEFERRED] = False
            dbapi = conn.connection.dbapi_connection
            dbapi.execute("COMMIT")
            dbapi.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        conn.info[_DEFERRED] = False

    return engine


def _writes(statement: str, context: Any) -> bool:
    """Whether a statement writes, or reads to write (SELECT ... FOR UPDATE, which SQLite drops)."""
    if statement.lstrip()[:9].upper().startswith(_WRITES):
        return True
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


def read_mostly(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions like `sessions` that, on SQLite, take the write lock only when they first write.

    For work that mostly reads (a web page): it is then never held up by a writer, however long that
    writer takes, unless it writes itself. PostgreSQL needs nothing of the kind.
    """
    bind = sessions.kw["bind"]
    return sessionmaker(**{**sessions.kw, "bind": bind.execution_options(**{READ_MOSTLY: True})})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """Run a block in one transaction: commit when it ends, roll back if it raises."""
    with sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config  # imported when needed: every `dhr` command would pay for it

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema up to the newest migration."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
