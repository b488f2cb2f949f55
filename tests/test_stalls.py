"""No silent stall: an open case that nothing can move on is marked, reported and can be retried;
cases stored by the first release, stalled by what its state format lost, move on after an upgrade."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.bpmn import runtime
from engine.cli import cli
from engine.platform.audit import AuditType
from engine.platform.errors import NotAllowed
from engine.platform.models import AuditEvent
from engine.platform.notifications import OutboxMessage

from .conftest import Db, World

STALLS = Path(__file__).parent / "stalls"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def mismatch(db: Db, clock) -> World:
    w = World(db, clock)
    w.deploy(STALLS / "broken")
    w.user("carol", "Community Safety Team")
    w.user("olive", "Process Owner")
    with w.uow() as s:
        w.users["olive"].email = "olive@example.org"
        s.merge(w.users["olive"])
    return w


def events(w: World, kind: AuditType) -> list[AuditEvent]:
    with w.db.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == kind.value)))


def check(db: Db, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("DHR_DATABASE_URL", db.url)
    result = CliRunner().invoke(cli, ["cases", "check"])
    return result.exit_code, result.output


def test_a_case_left_waiting_on_nothing_is_marked_stalled_and_reported(
        mismatch: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = mismatch
    ref = w.start("Hazel", 2026, process="mismatch")
    assert check(w.db, monkeypatch) == (0, "no case is stalled\n")
    w.complete("choose", {"route_a": True}, "carol", reference=ref)

    case = w.case(ref)
    assert case.status == "open" and case.stalled_at == w.clock.now()
    assert w.tasks(ref) == [] and w.timers(ref) == []
    assert "'Both routes done' (join, waiting)" in (case.stalled_reason or "")
    assert "retry" in (case.stalled_reason or "")
    [stalled] = events(w, AuditType.CASE_STALLED)
    assert stalled.case_id == case.id and stalled.details["reason"] == case.stalled_reason

    code, output = check(w.db, monkeypatch)
    assert code == 1 and output.startswith("STALLED Hazel/2026 (stage Mismatched gateways, version 1")
    with w.db.sessions() as s:
        [mail] = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "olive@example.org"))
    assert mail.subject == "Case Hazel/2026 has stalled" and "Both routes done" in mail.body


def test_a_process_owner_retries_a_stalled_case_on_the_fixed_diagram(
        mismatch: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = mismatch
    ref = w.start("Hazel", 2026, process="mismatch")
    w.complete("choose", {"route_a": True}, "carol", reference=ref)
    with w.uow() as s, pytest.raises(NotAllowed, match="only a process owner"):
        runtime.retry_case(s, ref, user=w.users["carol"], clock=w.clock)
    with w.uow() as s:  # the same diagram: still stalled, and said so
        assert runtime.retry_case(s, ref, user=w.users["olive"], clock=w.clock).stalled_at is not None

    fixed = w.deploy(STALLS / "fixed")
    with w.uow() as s:
        case = runtime.retry_case(s, ref, user=w.users["olive"], clock=w.clock, newest=True)
        assert case.version_id == fixed and case.stalled_at is None
    assert w.open_names(ref) == ["after"]
    assert len(events(w, AuditType.CASE_RESUMED)) == 1
    [_, retried] = events(w, AuditType.CASE_RETRIED)
    assert retried.details["version"] == [1, fixed]
    assert check(w.db, monkeypatch)[0] == 0
    w.complete("after", {}, "carol", reference=ref)
    assert w.case(ref).status == "completed"


def test_moving_a_case_onto_a_version_that_lacks_its_step_is_refused(mismatch: World, tmp_path: Path) -> None:
    w = mismatch
    ref = w.start("Hazel", 2026, process="mismatch")
    w.complete("choose", {"route_a": True}, "carol", reference=ref)
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    text = (STALLS / "fixed" / "mismatch.bpmn").read_text().replace('"join"', '"either"')
    (renamed / "mismatch.bpmn").write_text(text)
    shutil.copy(STALLS / "fixed" / "choose.schema.json", renamed)
    w.deploy(renamed)
    with w.uow() as s, pytest.raises(Exception, match="no step 'join' that the case has reached"):
        runtime.retry_case(s, ref, user=w.users["olive"], clock=w.clock, newest=True)
    assert w.case(ref).version_id == 1


def test_a_case_stalled_in_the_first_release_moves_on_after_the_upgrade(tmp_path: Path) -> None:
    """The fixture is a database written by the first release (schema 0009): a DHR case whose two
    agencies answered, each in a process of its own, and which then stalled in Commissioning."""
    database = tmp_path / "dhr.sqlite3"
    with gzip.open(FIXTURES / "stalled_case_0009.sqlite3.gz") as packed, database.open("wb") as out:
        shutil.copyfileobj(packed, out)
    env = {**os.environ, "DHR_DATABASE_URL": f"sqlite:///{database}", "DHR_CLOCK": "system"}

    def dhr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    upgraded = dhr("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "upgraded the stored state of Rosemary/2025" in upgraded.stdout
    tasks = {t["task"] for t in json.loads(dhr("tasks", "list", "--json").stdout)}
    assert "Agree the terms of reference" in tasks
    [case] = json.loads(dhr("cases", "list", "--json").stdout)
    assert case["stage"] == "Conducting the review" and case["stalled_since"] is None
    assert dhr("cases", "check").returncode == 0
    again = dhr("db", "upgrade")
    assert again.returncode == 0 and "upgraded" not in again.stdout
    assert dhr("audit", "verify").returncode == 0
