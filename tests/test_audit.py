"""The audit trail is a hash chain: an edited or deleted event shows."""

from __future__ import annotations

from sqlalchemy import text

from engine.platform import audit

from .conftest import World


def walk_a_little(world: World) -> None:
    world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")


def verify(world: World) -> list[str]:
    with world.db.sessions() as s:
        count, problems = audit.verify(s)
    assert count > 0
    return [str(p) for p in problems]


def test_an_untouched_trail_verifies(world: World) -> None:
    walk_a_little(world)
    assert verify(world) == []


def test_an_edited_event_is_found(world: World) -> None:
    walk_a_little(world)
    with world.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 5"))
    assert verify(world) == ["event 5: was changed after it was written"]


def test_a_deleted_event_is_found(world: World) -> None:
    walk_a_little(world)
    with world.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = 4"))
    assert verify(world) == ["event 4: missing (the next event is 5)", "event 5: does not follow the event before it"]


def test_deleting_the_newest_events_is_found(world: World) -> None:
    walk_a_little(world)
    with world.db.engine.begin() as conn:
        last = conn.execute(text("SELECT max(id) FROM audit_event")).scalar()
        conn.execute(text(f"DELETE FROM audit_event WHERE id = {last}"))
    assert verify(world) == [f"event {last}: the newest event(s) are missing"]


def test_events_record_who_did_what_to_which_task(world: World) -> None:
    walk_a_little(world)
    with world.db.sessions() as s:
        events = audit.events_for_case(s, world.case().id)
    completed = next(e for e in events if e.event_type == "TASK_COMPLETED")
    assert completed.actor == "carol" and completed.task_name == "Record the notification"
    assert completed.details["changed"] == {"notified_on": [None, "2026-08-31"]}
    assert [e.event_type for e in events] == [
        "CASE_STARTED", "TASK_CREATED", "TASK_COMPLETED", "TASK_CREATED", "TIMER_SET", "TIMER_SET"]
