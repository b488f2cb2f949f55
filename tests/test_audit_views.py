"""Reads of a case by someone not on it go to a view log of their own, written without the audit
chain's lock, and are sealed into the chain in batches: from then on an edited or deleted view shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, func, select, text

from engine.cli import cli
from engine.platform import access, audit
from engine.platform.models import AuditEvent, Case, CaseView

from .conftest import World


def view(world: World, username: str = "carol", page: str = "cases.show") -> None:
    with world.uow() as s:
        case = s.scalars(select(Case).order_by(Case.id)).first()
        assert case is not None
        access.record_view(s, case, world.users[username], page, at=world.clock.now())


def problems(world: World) -> list[str]:
    with world.db.sessions() as s:
        return [str(p) for p in audit.verify(s)[1]]


def seal(world: World) -> int:
    with world.uow() as s:
        return audit.seal_views(s, at=world.clock.now(), actor="test")


def views(world: World) -> list[CaseView]:
    with world.db.sessions() as s:
        return list(s.scalars(select(CaseView).order_by(CaseView.id)))


def test_a_view_is_logged_without_touching_the_audit_chain_and_shows_in_the_history(world: World) -> None:
    world.start()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with world.db.sessions() as s:
        events_before = s.scalar(select(func.count()).select_from(AuditEvent))
    event.listen(world.db.engine, "before_cursor_execute", count)
    try:
        view(world)
    finally:
        event.remove(world.db.engine, "before_cursor_execute", count)
    assert not [s for s in statements if "audit_head" in s or "audit_event" in s]
    case_id = world.case().id
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == events_before
        history = audit.events_for_case(s, case_id)
    assert [(e.event_type, e.actor, e.details) for e in history if e.event_type == "CASE_VIEWED"] == [
        ("CASE_VIEWED", "carol", {"page": "cases.show", "role": "Community Safety Team"})]
    assert history[0].event_type == "CASE_STARTED" and history[-1].event_type == "CASE_VIEWED"


def test_a_member_reading_their_case_is_not_logged(world: World) -> None:
    world.start()
    world.join("pat", "Rosemary/2026")
    view(world, "pat")
    assert views(world) == []


def test_sealed_views_verify_and_an_edited_one_shows(world: World) -> None:
    world.start()
    view(world)
    view(world, page="cases.history_page")
    assert seal(world) == 2
    assert seal(world) == 0  # nothing is sealed twice
    assert problems(world) == []
    sealed_by = {v.sealed_in for v in views(world)}
    with world.db.sessions() as s:
        seal_event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "VIEWS_SEALED")).one()
    assert sealed_by == {seal_event.id} and seal_event.details["views"] == 2
    first = views(world)[0].id
    with world.db.engine.begin() as conn:
        conn.execute(text(f"UPDATE case_view SET actor = 'mallory' WHERE id = {first}"))
    assert problems(world) == [f"case view {first}: was changed after it was written"]


def test_a_sealed_view_deleted_shows(world: World) -> None:
    world.start()
    view(world)
    view(world)
    seal(world)
    with world.db.sessions() as s:
        seal_id = s.scalars(select(AuditEvent.id).where(AuditEvent.event_type == "VIEWS_SEALED")).one()
    first = views(world)[0].id
    with world.db.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM case_view WHERE id = {first}"))
    assert problems(world) == [
        f"event {seal_id}: the case views it sealed were changed or deleted since (2 sealed, 1 there now)"]


def test_a_view_unsealed_to_be_deleted_later_shows(world: World) -> None:
    world.start()
    view(world)
    seal(world)
    with world.db.engine.begin() as conn:
        conn.execute(text("UPDATE case_view SET sealed_in = NULL"))
    assert len(problems(world)) == 1 and "sealed were changed or deleted since (1 sealed, 0 there now)" in problems(
        world)[0]


def test_an_unsealed_view_edited_shows(world: World) -> None:
    world.start()
    view(world)
    with world.db.engine.begin() as conn:
        conn.execute(text("UPDATE case_view SET page = 'cases.elsewhere'"))
    assert problems(world) == [f"case view {views(world)[0].id}: was changed after it was written"]


def test_a_write_to_the_trail_seals_the_views_once_one_waited_over_a_minute(world: World) -> None:
    world.start()
    view(world)
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    assert views(world)[0].sealed_in is None  # too recent: a busy trail is not sealed at every write
    world.clock.advance(audit.SEAL_AFTER + timedelta(seconds=1))
    view(world)
    world.start("Hazel")  # any write to the trail
    sealed = {v.sealed_in for v in views(world)}
    assert len(sealed) == 1 and None not in sealed  # one seal: the view that waited, and the one since
    assert problems(world) == []


def test_dhr_audit_seal_seals_what_is_waiting(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.start()
    view(world)
    monkeypatch.setenv("DHR_DATABASE_URL", world.db.url)
    result = CliRunner().invoke(cli, ["audit", "seal"])
    assert result.exit_code == 0, result.output
    assert "sealed 1 case view(s)" in result.output
    assert views(world)[0].sealed_in is not None
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_a_view_does_not_wait_for_a_writer_holding_the_chain(world: World) -> None:
    if world.db.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: a view's row waits for the database's write lock there")
    world.start()
    with world.db.engine.connect() as writer:  # a unit of work in the middle of appending to the chain
        writer.execute(text("SELECT last_id FROM audit_head WHERE id = 1 FOR UPDATE"))
        with world.uow() as s:
            s.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting for the chain would fail, not hang
            case = s.scalars(select(Case)).one()
            access.record_view(s, case, world.users["carol"], "cases.show", at=world.clock.now())
        writer.rollback()
    assert len(views(world)) == 1
