"""/healthz and /readyz, the schedulers' heartbeats, and the one JSON log line per request."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import request
from sqlalchemy import select, text

from engine.platform import heartbeat, logs, readiness
from engine.platform.clock import SettableClock
from engine.platform.db import make_engine, session_factory
from engine.platform.heartbeat import Heartbeat, ProcessHeartbeat
from tests.conftest import Db
from tests.web.conftest import Session as SessionClock
from tests.web.conftest import Web, make_app


def test_healthz_says_the_process_answers(web: Web) -> None:
    response = web.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_not_ready_until_a_scheduler_beats(web: Web) -> None:
    response = web.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not ready", "database": "ok", "migrations": "current",
                                   "scheduler": "none", "scheduler_seconds_ago": None}
    beat = Heartbeat(web.db.sessions, readiness.SCHEDULER)
    beat.start()
    try:
        response = web.get("/readyz")
        assert response.status_code == 200
        assert response.get_json()["status"] == "ready" and response.get_json()["scheduler"] == "running"
    finally:
        beat.stop()
    assert web.get("/readyz").get_json()["scheduler"] == "none"  # a scheduler that stops says so


def test_readyz_fails_when_the_scheduler_falls_silent(web: Web) -> None:
    heartbeat.beat(web.db.sessions, "elsewhere:41", readiness.SCHEDULER, datetime.now(UTC) - timedelta(seconds=45))
    response = web.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["scheduler"] == "silent" and 44 <= body["scheduler_seconds_ago"] < 120


def test_a_beat_forgets_processes_silent_for_a_day(web: Web) -> None:
    now = datetime.now(UTC)
    heartbeat.beat(web.db.sessions, "gone:1", readiness.SCHEDULER, now - timedelta(days=2))
    heartbeat.beat(web.db.sessions, "here:2", readiness.SCHEDULER, now - timedelta(seconds=10))
    heartbeat.beat(web.db.sessions, "here:2", readiness.SCHEDULER, now)
    with web.db.sessions() as s:
        rows = {(r.process, r.beat_at) for r in s.scalars(select(ProcessHeartbeat))}
        assert rows == {("here:2", now)}
        assert heartbeat.last_beat(s, readiness.SCHEDULER) == now


@pytest.mark.parametrize(("stored", "expected"), [("0013", "behind"), ("9999_from_newer_code", "ahead")])
def test_readyz_fails_when_the_schema_is_not_the_codes(web: Web, stored: str, expected: str) -> None:
    heartbeat.beat(web.db.sessions, "here:2", readiness.SCHEDULER, datetime.now(UTC))
    [head] = readiness.code_revisions()[0]
    with web.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": stored})
    try:
        response = web.get("/readyz")
        assert response.status_code == 503 and response.get_json()["migrations"] == expected
    finally:
        with web.db.engine.begin() as conn:  # the session's PostgreSQL schema keeps its migrations
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert web.get("/readyz").status_code == 200


def test_readyz_says_so_when_the_database_cannot_be_reached(web: Web, clock: SettableClock) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:9/nothing"  # nothing listens on port 9
    engine = make_engine(url, connect_args={"connect_timeout": 3})
    down = make_app(Db("postgresql", url, engine, session_factory(engine)), clock, SessionClock())
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "not ready", "database": "unreachable", "migrations": "unknown",
                                   "scheduler": "unknown", "scheduler_seconds_ago": None}
    assert down.test_client().get("/healthz").status_code == 200  # alive all the same: restarting would not help
    engine.dispose()


@contextlib.contextmanager
def json_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the root logger writes (as `dhr serve` writes them) while the block runs."""
    stream, handler, root = io.StringIO(), logging.StreamHandler(), logging.getLogger()
    handler.setStream(stream)
    handler.setFormatter(logs.JsonFormatter())
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))


def test_each_request_is_one_json_line_with_its_id_user_case_and_duration(web: Web) -> None:
    web.deploy()
    case_id = web.start("Rosemary")
    cst = web.as_user("cst")
    with json_lines() as lines:
        response = cst.get(f"/cases/{case_id}?q=Someone+Typed+This", headers={"X-Request-ID": "edge-1234"})
        assert response.status_code == 200 and response.headers["X-Request-ID"] == "edge-1234"
        made_up = cst.get("/inbox", headers={"X-Request-ID": "not a plain id {}"})
    case_line, inbox_line = [line for line in lines if line["logger"] == "dhr.request"]
    assert case_line["request_id"] == "edge-1234" and case_line["user"] == "cst"
    assert case_line["case"] == "Rosemary/2026" and case_line["status"] == 200
    assert case_line["path"] == f"/cases/{case_id}" and case_line["method"] == "GET"
    assert 0 < case_line["duration_ms"] < 60_000
    assert "Someone" not in json.dumps(lines)  # what people type into a filter stays out
    assert inbox_line["request_id"] == made_up.headers["X-Request-ID"] != "not a plain id {}"
    assert len(inbox_line["request_id"]) == 32 and "case" not in inbox_line


def test_records_logged_during_a_request_carry_its_id(web: Web) -> None:
    @web.app.route("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    with json_lines() as lines:
        web.get("/boom", headers={"X-Request-ID": "req-77"})
    bug = next(line for line in lines if line["level"] == "ERROR")
    assert bug["request_id"] == "req-77" and "RuntimeError: a bug" in bug["error"]
    assert [line["status"] for line in lines if line["logger"] == "dhr.request"] == [500]


@pytest.mark.parametrize("hops", [0, 1])
def test_behind_one_proxy_the_app_takes_address_scheme_and_host_from_it(
        db: Db, clock: SettableClock, hops: int) -> None:
    app = make_app(db, clock, SessionClock(), proxy_hops=hops)

    @app.route("/where")
    def where() -> Any:
        return {"scheme": request.scheme, "host": request.host, "address": request.remote_addr}

    forwarded = {"X-Forwarded-For": "198.51.100.6, 203.0.113.9", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "dhr.example.gov.uk", "X-Forwarded-Port": "443"}
    seen = app.test_client().get("/where", headers=forwarded).get_json()
    if hops:  # the proxy's own entry (the last) is trusted; what the client claimed before it is not
        assert seen == {"scheme": "https", "host": "dhr.example.gov.uk", "address": "203.0.113.9"}
    else:
        assert seen == {"scheme": "http", "host": "localhost", "address": "127.0.0.1"}
