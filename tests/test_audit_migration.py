"""Migration 0012: an existing trail (plain SHA-256, victims' names in it) is redacted and re-sealed
under DHR_AUDIT_KEY, once, with the redaction and the re-sealing on record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import select, text

from engine.cli import cli
from engine.platform import audit
from engine.platform.db import alembic_config, upgrade
from engine.platform.models import AuditEvent, AuditHead
from webforms.history import describe

from .conftest import World
from .dhr_driver import LANE_USERS, PROCESSES, START, Dhr, base_policy

VICTIM, BORN = "Alex Example", "1980-03-04"


def unmarked_processes(tmp_path: Path) -> Path:
    """The DHR process as the first releases deployed it: no field marked confidential."""
    folder = tmp_path / "processes-v1"
    shutil.copytree(PROCESSES, folder, ignore=shutil.ignore_patterns("node_modules"))
    for form in folder.glob("*.json"):
        schema = form.read_text()
        form.write_text(schema.replace('"x-confidential": true,', ""))
    assert "x-confidential" not in "".join(f.read_text() for f in folder.glob("*.json"))
    return folder


def old_chain(world: World) -> None:
    """Chain every event with plain SHA-256, as the first releases did."""
    with world.db.sessions() as s:
        prev = audit.GENESIS
        for event in s.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            event.prev_hash, event.hash = prev, audit.unkeyed_hash(prev, audit.content(event))
            prev = event.hash
        head = s.get(AuditHead, 1)
        assert head is not None
        head.last_hash = prev
        s.commit()


def unkeyed_problems(world: World) -> list[int]:
    with world.db.sessions() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    return [e.id for e in events if audit.unkeyed_hash(e.prev_hash, audit.content(e)) != e.hash]


@pytest.fixture
def before_0012(world: World, tmp_path: Path) -> tuple[World, str]:
    """A database as the release before this one left it: a DHR case notified, the victim named in
    its history, the chain in plain SHA-256."""
    world.deploy(unmarked_processes(tmp_path))
    for lane, name in LANE_USERS.items():
        if name not in world.users:
            world.user(name, lane)
    world.clock.set(START)
    case = Dhr(world, "Rosemary", 2025)
    task = case.find("record_notification")
    assert task is not None
    case.complete(task, base_policy(case, task, {}))
    # back to the schema before 0012 (the migrations after it undone too), then the chain as it was
    previous = ScriptDirectory.from_config(alembic_config(world.db.engine)).get_revision("0012").down_revision
    command.downgrade(alembic_config(world.db.engine), str(previous))
    old_chain(world)
    assert unkeyed_problems(world) == []
    with world.db.sessions() as s:
        assert VICTIM in json.dumps([e.details for e in s.scalars(select(AuditEvent))])
    return world, str(previous)


def test_the_upgrade_redacts_names_and_seals_the_trail_under_the_key(before_0012: tuple[World, str]) -> None:
    world, _ = before_0012
    with world.db.sessions() as s:
        count_before = s.scalar(text("SELECT count(*) FROM audit_event"))
    upgrade(world.db.engine)

    with world.db.sessions() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        count, problems = audit.verify(s)
    trail = json.dumps([e.details for e in events], ensure_ascii=False)
    assert VICTIM not in trail and BORN not in trail
    assert problems == [] and count == count_before + 2
    assert unkeyed_problems(world)  # the plain hashes are gone: only the key seals it now

    redacted, resealed = events[-2], events[-1]
    assert redacted.event_type == "AUDIT_REDACTED" and resealed.event_type == "AUDIT_RESEALED"
    completed = next(e for e in events if e.event_type == "TASK_COMPLETED" and "victim_name" in e.details["changed"])
    assert redacted.details["fields"]["victim_name"] == 1 and completed.id in redacted.details["events"]
    assert "name a person" in redacted.details["reason"]
    assert resealed.details["events"] == count_before and resealed.details["problem_count"] == 0
    assert resealed.details["sealed_with"] == "HMAC-SHA256 under DHR_AUDIT_KEY"
    assert completed.details["changed"]["victim_name"][1] == {
        "confidential": audit.seal_value(completed.case_id, "victim_name", VICTIM)}
    row = describe(completed)
    assert "victim_name: (empty) → (confidential)" in row.changes

    upgrade(world.db.engine)  # already at the head: nothing is sealed twice
    with world.db.sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM audit_event")) == count_before + 2


def test_an_old_trail_already_tampered_with_is_resealed_with_the_problem_on_record(
        before_0012: tuple[World, str], monkeypatch: pytest.MonkeyPatch) -> None:
    world, _ = before_0012
    with world.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 4"))
    upgrade(world.db.engine)
    with world.db.sessions() as s:
        assert audit.verify(s)[1] == []
        [resealed] = audit.resealed_over(s)
    assert resealed.details["problems_found"] == ["event 4: was changed after it was written"]
    monkeypatch.setenv("DHR_DATABASE_URL", world.db.url)
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"note: event {resealed.id} re-sealed the trail over problems found in it then: event 4: was changed" \
           in result.output


def test_a_downgrade_chains_in_plain_sha256_again_and_keeps_the_redaction(before_0012: tuple[World, str]) -> None:
    world, previous = before_0012
    upgrade(world.db.engine)
    command.downgrade(alembic_config(world.db.engine), previous)
    assert unkeyed_problems(world) == []
    with world.db.sessions() as s:
        trail = json.dumps([e.details for e in s.scalars(select(AuditEvent))], ensure_ascii=False)
    assert VICTIM not in trail
    upgrade(world.db.engine)
    with world.db.sessions() as s:
        assert audit.verify(s)[1] == []
