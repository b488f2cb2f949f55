"""Web fixtures: the app on the test database (SQLite and PostgreSQL), users of every role, a client."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import select

from engine.bpmn import runtime
from engine.bpmn.library import read_folder
from engine.platform import access
from engine.platform.clock import SettableClock
from engine.platform.db import unit_of_work
from engine.platform.models import Case, OpenTask, ProcessVersion
from engine.platform.settings import Settings, WebSettings
from engine.platform.users import add_user
from tests.conftest import DIAGRAMS, Db, World, build_once
from webforms import create_app

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct-horse-battery"
# Cheap argon2 parameters, carried in the hash itself: the product verifies it as it would any stored
# hash, in milliseconds instead of a fifth of a second per sign-in.
_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
AGENCIES = {"Panel": "Police", "Action Holder": "Kent Police"}  # role -> the agency of its user
# username -> role; panel and action holder see only the cases they are members of.
ROLE_USERS = {
    "cst": "Community Safety Team",
    "chair": "CSP Chair",
    "steering": "Steering Group",
    "panel": "Panel",
    "holder": "Action Holder",
    "owner": "Process Owner",
    "auditor": "Auditor",
    "admin": "Administrator",
}


class Session:
    """Time for the server-side session expiry, moved by tests instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once per test session instead of once per app (each test has an app of
    its own); Jinja checks each template's source against the checksum kept with its code."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (code := self.compiled.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _CompiledTemplates()


@pytest.fixture
def session_clock() -> Session:
    return Session()


def make_app(db: Db, clock: SettableClock, session_clock: Session, **web: Any) -> Flask:
    """The app on the test database; `web` overrides WebSettings (e.g. require_2fa=True)."""
    settings: dict[str, Any] = {
        "session_minutes": 30, "session_max_hours": 12, "login_attempts": 3, "lockout_minutes": 15,
        "upload_max_mb": 10, "secure_cookies": False, "council_name": "Testshire Council", "require_2fa": False,
        "sign_in_limit": "50 per 10 minutes", "rate_limit_storage_uri": "memory://", **web,
    }
    app = create_app({
        "TESTING": True,
        "SETTINGS": Settings(database_url=db.url, env="test", secret_key="x" * 32),
        "WEB_SETTINGS": WebSettings(**settings),
        "SESSIONS": db.sessions,
        "CLOCK": clock,
        "SESSION_CLOCK": session_clock,
    })
    app.jinja_env.bytecode_cache = _TEMPLATES
    return app


@pytest.fixture
def app(request: pytest.FixtureRequest, db: Db, clock: SettableClock, session_clock: Session) -> Flask:
    def build() -> None:
        with unit_of_work(db.sessions) as s:
            for name, role in ROLE_USERS.items():
                user = add_user(s, name, role=role, agency=AGENCIES.get(role), password=None,
                                actor="test", clock=clock)
                user.password_hash = _HASH  # hashing once keeps the suite fast

    build_once(request, db, clock, "a user of each role", build)
    return make_app(db, clock, session_clock)


class Web:
    """A test client that signs in and sends forms with their CSRF token, as a browser would."""

    def __init__(self, app: Flask, db: Db, clock: SettableClock) -> None:
        self.app, self.db, self.clock = app, db, clock
        self.client: FlaskClient = app.test_client()

    def token(self) -> str:
        page = self.client.get("/sign-in" if not self.signed_in() else "/inbox").get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def signed_in(self) -> bool:
        with self.client.session_transaction() as sess:
            return "_user_id" in sess

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        return self.post("/sign-in", {"username": username, "password": password})

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.token(), **(data or {})}, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def as_user(self, username: str) -> Web:
        other = Web(self.app, self.db, self.clock)
        assert other.sign_in(username).status_code == 302
        return other

    # the engine, for setting up cases

    def deploy(self, folder: Path = DIAGRAMS) -> int:
        with unit_of_work(self.db.sessions) as s:
            version, _ = runtime.deploy(s, read_folder(folder), actor="test", clock=self.clock)
            return version.id

    def start(self, pseudonym: str = "Rosemary", process: str = "review_demo", year: int = 2026) -> int:
        with unit_of_work(self.db.sessions) as s:
            return runtime.start_case(s, process_id=process, pseudonym=pseudonym, year=year, data={},
                                      actor="test", clock=self.clock).id

    def tasks(self, case_id: int) -> list[OpenTask]:
        with self.db.sessions() as s:
            return list(s.scalars(select(OpenTask).where(OpenTask.case_id == case_id).order_by(OpenTask.created_at)))

    def task(self, case_id: int, bpmn_id: str) -> OpenTask:
        return next(t for t in self.tasks(case_id) if t.bpmn_id == bpmn_id)

    def add_member(self, case_id: int, username: str) -> None:
        from engine.platform.users import find_user

        with unit_of_work(self.db.sessions) as s:
            access.add_member(s, s.get(Case, case_id), find_user(s, username), actor="test", at=self.clock.now())


@pytest.fixture
def web(app: Flask, db: Db, clock: SettableClock) -> Iterator[Web]:
    yield Web(app, db, clock)


def dhr_case(request: pytest.FixtureRequest, web: Web) -> tuple[int, int]:
    """The DHR process (processes/) deployed and a case of it started: the version's and the case's ids.
    Built once per session and starting state, then put back from a snapshot (deploying parses every
    diagram)."""
    def build() -> None:
        web.deploy(PROCESSES)
        web.start(process="dhr_review")

    build_once(request, web.db, web.clock, "the DHR process and a case", build)
    with web.db.sessions() as s:
        return s.scalars(select(ProcessVersion.id)).one(), s.scalars(select(Case.id)).one()


def seed_001_world(request: pytest.FixtureRequest, web: Web) -> World:
    """Seed 001 (tests/seed_001.py) run by the web's `cst` and `holder`; built once per session and
    starting state, then put back from a snapshot (it takes seconds to build)."""
    from engine.platform.users import find_user
    from tests import seed_001

    world = World(web.db, web.clock)

    def build() -> None:
        with web.db.sessions() as s:
            world.users = {name: find_user(s, name) for name in ("cst", "holder")}
        seed_001.build(world, cst="cst", holder="holder")

    build_once(request, web.db, web.clock, "seed 001 on the web users", build)
    world.reload_users()  # the agencies' action holders seed 001 added too
    return world


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium, started once per test process (each xdist worker): a test opens a context of
    its own (`new_page`), so no cookie, storage or cache passes from one test to the next."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@contextlib.contextmanager
def new_page(chromium: Any, width: int = 1280) -> Iterator[Any]:
    """A page in a new browser context `width` pixels wide, closed with its context."""
    context = chromium.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
    finally:
        context.close()


def screenshot(target: Any, name: str, **options: Any) -> None:
    """Save a screenshot of a page or an element as $DHR_SCREENSHOTS/`name`.png, to look at the pages
    (`DHR_SCREENSHOTS=/tmp/shots make test`); without that setting none is taken (each costs a
    fraction of a second of the suite)."""
    folder = os.environ.get("DHR_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(Path(folder) / f"{name}.png"), **options)
