"""The audit chain is keyed (DHR_AUDIT_KEY) and anchored: someone who can write the database cannot
re-chain it undetected, and an anchor kept elsewhere catches even a re-chaining with the key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from engine.cli import audit_commands, cli
from engine.platform import audit
from engine.platform.errors import DhrError, SettingsError
from engine.platform.models import AuditEvent, AuditHead
from engine.platform.settings import Settings, audit_key

from .conftest import Db, World

KEY = "k" * 40
OTHER_KEY = "another-key-that-is-long-enough-0123456789"


def walk_a_little(world: World) -> None:
    world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")


def problems(world: World, anchor: audit.Anchor | None = None) -> list[str]:
    with world.db.sessions() as s:
        count, found = audit.verify(s, anchor=anchor)
    assert count > 0
    return [str(p) for p in found]


def reforge(world: World, digest: Callable[[str, dict[str, Any]], str]) -> None:
    """What someone with write access to the database would do: change an event, then recompute every
    hash after it with `digest` and move the head, so that each link looks right."""
    with world.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 3"))
    with world.db.sessions() as s:
        prev = audit.GENESIS
        for event in s.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            event.prev_hash, event.hash = prev, digest(prev, audit.content(event))
            prev = event.hash
        head = s.get(AuditHead, 1)
        assert head is not None
        head.last_hash = prev
        s.commit()


def test_a_chain_re_forged_with_plain_sha256_is_found(world: World) -> None:
    walk_a_little(world)
    reforge(world, audit.unkeyed_hash)
    assert problems(world)[0] == "event 1: was changed after it was written"


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trail sealed under a key of the test's own (set before anything is recorded)."""
    monkeypatch.setenv("DHR_AUDIT_KEY", KEY)


def test_a_chain_re_forged_with_another_key_is_found(keyed: None, world: World,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    walk_a_little(world)
    assert problems(world) == []
    monkeypatch.setenv("DHR_AUDIT_KEY", OTHER_KEY)
    reforge(world, audit.chain_hash)
    assert problems(world) == []  # under the forger's key it all adds up...
    monkeypatch.setenv("DHR_AUDIT_KEY", KEY)
    found = problems(world)  # ...under the real one, nothing does
    assert "event 1: was changed after it was written" in found and len(found) >= 5


def test_an_anchor_catches_a_re_chaining_by_someone_holding_the_key(world: World) -> None:
    walk_a_little(world)
    with world.db.sessions() as s:
        anchor = audit.head(s)
    assert anchor is not None and problems(world, anchor) == []
    reforge(world, audit.chain_hash)  # the key itself was stolen
    assert problems(world) == []  # the key alone cannot tell...
    assert problems(world, anchor) == [  # ...the anchor kept elsewhere can
        f"event {anchor.event_id}: does not have the anchored hash: the trail up to it was re-written"]


def test_an_anchored_event_that_was_removed_is_found(world: World) -> None:
    walk_a_little(world)
    with world.db.sessions() as s:
        anchor = audit.head(s)
    assert anchor is not None
    with world.db.engine.begin() as conn:  # truncate the trail back past the anchor and move the head
        conn.execute(text(f"DELETE FROM audit_event WHERE id >= {anchor.event_id}"))
        prev = conn.execute(text(f"SELECT hash FROM audit_event WHERE id = {anchor.event_id - 1}")).scalar()
        conn.execute(text(f"UPDATE audit_head SET last_id = {anchor.event_id - 1}, last_hash = '{prev}'"))
    assert problems(world) == []
    assert problems(world, anchor) == [f"event {anchor.event_id}: the anchored event is missing"]


@pytest.mark.parametrize("bad", ["12", "x:" + "a" * 64, "0:" + "a" * 64, "3:" + "a" * 63, "3:" + "g" * 64])
def test_a_mistyped_anchor_is_refused_plainly(bad: str) -> None:
    with pytest.raises(DhrError, match="is not an anchor: write it as 'ID:HASH'"):
        audit.Anchor.parse(bad)


def test_production_refuses_to_start_without_an_audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DHR_AUDIT_KEY", raising=False)
    with pytest.raises(SettingsError, match="DHR_AUDIT_KEY must be set"):
        Settings(env="production", secret_key="s" * 32)
    with pytest.raises(SettingsError, match="at least 32"):
        Settings(env="production", secret_key="s" * 32, audit_key="short")
    Settings(env="production", secret_key="s" * 32, audit_key=KEY)
    monkeypatch.setenv("DHR_ENV", "production")
    with pytest.raises(SettingsError, match="DHR_AUDIT_KEY must be set"):
        audit_key()


def test_development_falls_back_to_a_public_key_with_a_warning(db: Db, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from engine.platform import settings

    caplog.set_level("INFO")
    monkeypatch.delenv("DHR_AUDIT_KEY", raising=False)
    monkeypatch.setenv("DHR_ENV", "development")
    monkeypatch.setattr(settings, "_warned", type(settings._warned)())
    assert audit_key() == settings.DEV_AUDIT_KEY.encode()
    assert "DHR_AUDIT_KEY is not set" in caplog.text
    monkeypatch.setenv("DHR_DATABASE_URL", db.url)
    verified = CliRunner().invoke(cli, ["audit", "verify"])
    assert "warning: DHR_AUDIT_KEY is not set: the audit trail is sealed with the public development key" \
        in verified.output
    monkeypatch.setenv("DHR_AUDIT_KEY", KEY)
    assert "warning" not in CliRunner().invoke(cli, ["audit", "verify"]).output


def test_confidential_roles_must_be_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_CONFIDENTIAL_ROLES", "Community Safety Team, Comunity Safety")
    with pytest.raises(SettingsError, match="names no role called 'Comunity Safety'"):
        Settings()
    monkeypatch.setenv("DHR_CONFIDENTIAL_ROLES", "CSP Chair")
    assert Settings().confidential_roles == ("CSP Chair",)
    assert Settings(env="test").confidential_roles == ("CSP Chair",)


# ---------------------------------------------------------------------------------------------
# The command line


@pytest.fixture
def run(db: Db, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.setenv("DHR_DATABASE_URL", db.url)
    monkeypatch.setenv("DHR_AUDIT_KEY", KEY)

    def invoke(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(cli, list(args))
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return invoke


def test_an_empty_trail_has_nothing_to_anchor(run: Callable[..., Result]) -> None:
    refused = run("audit", "anchor", ok=False)
    assert refused.exit_code == 1 and "error: the audit trail is empty" in refused.output


def test_anchor_then_verify_from_the_command_line(run: Callable[..., Result], world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    walk_a_little(world)
    printed = run("audit", "anchor")
    anchor = printed.stdout.strip()
    with world.db.sessions() as s:
        assert anchor == str(audit.head(s))
    assert f"audit trail intact: {anchor.split(':')[0]} events, unchanged up to anchored event " \
           f"{anchor.split(':')[0]}" in run("audit", "verify", "--anchor", anchor).output

    reforge(world, audit.chain_hash)  # by someone holding the key
    assert "audit trail intact" in run("audit", "verify").output
    caught = run("audit", "verify", "--anchor", anchor, ok=False)
    assert caught.exit_code == 1 and "does not have the anchored hash" in caught.output
    assert "tampered with" in caught.output and "Traceback" not in caught.output

    monkeypatch.setenv("DHR_AUDIT_KEY", OTHER_KEY)
    monkeypatch.setattr(audit_commands, "SHOWN", 3)  # a wrong key fails every event: not all are listed
    wrong = run("audit", "verify", ok=False)
    assert wrong.exit_code == 1
    assert "no event matches under this DHR_AUDIT_KEY" in wrong.output and "... and" in wrong.output
    assert "an anchor of it would prove nothing" in run("audit", "anchor", ok=False).output
    assert "is not an anchor" in run("audit", "verify", "--anchor", "nonsense", ok=False).output


def test_the_dhr_command_refuses_to_start_in_production_without_the_key(db: Db) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DHR_")}
    env.update(DHR_DATABASE_URL=db.url, DHR_ENV="production", DHR_SECRET_KEY="s" * 32)
    done = subprocess.run([sys.executable, "-m", "engine", "audit", "verify"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 78  # a setting that cannot be used (README)
    assert "error: DHR_AUDIT_KEY must be set to at least 32 random characters in production" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
