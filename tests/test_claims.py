"""Claiming role tasks and drafts of task forms."""

from __future__ import annotations

import pytest

from engine.bpmn import claims
from engine.platform.audit import events_for_case
from engine.platform.errors import Conflict, NotAllowed

from .conftest import World


def test_a_claimed_task_is_only_for_its_claimer_until_released(world: World) -> None:
    world.user("colin", "Community Safety Team")
    world.start()
    task = world.task("record_notification")
    with world.uow() as s:
        claims.claim(s, task.id, user=world.users["carol"], clock=world.clock)
    assert world.task("record_notification").claimed_by == "carol"
    with pytest.raises(Conflict, match="claimed by carol"), world.uow() as s:
        claims.claim(s, task.id, user=world.users["colin"], clock=world.clock)
    with pytest.raises(NotAllowed, match="claimed by carol"):
        world.complete("record_notification", {"notified_on": "2026-08-31"}, "colin")
    with pytest.raises(NotAllowed, match="only carol can release"), world.uow() as s:
        claims.release(s, task.id, user=world.users["colin"], clock=world.clock)
    with pytest.raises(NotAllowed, match="a task for the Community Safety Team"), world.uow() as s:
        claims.claim(s, task.id, user=world.users["chair"], clock=world.clock)
    with world.uow() as s:
        claims.release(s, task.id, user=world.users["carol"], clock=world.clock)
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "colin")
    with world.db.sessions() as s:
        kinds = [e.event_type for e in events_for_case(s, world.case().id)]
    assert kinds.count("TASK_CLAIMED") == 1 and kinds.count("TASK_RELEASED") == 1


def test_a_draft_keeps_unchecked_answers_until_the_task_closes(world: World) -> None:
    world.start()
    task = world.task("record_notification")
    with world.uow() as s:
        claims.save_draft(s, task.id, {"notified_on": {"day": "31", "month": "", "year": ""}},
                          user=world.users["carol"], clock=world.clock)
    with world.db.sessions() as s:
        draft = claims.draft_for(s, task.id, world.users["carol"])
        assert draft is not None and draft.values["notified_on"]["day"] == "31"
        assert claims.draft_for(s, task.id, world.users["chair"]) is None
    with pytest.raises(NotAllowed), world.uow() as s:
        claims.save_draft(s, task.id, {}, user=world.users["chair"], clock=world.clock)
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    with world.db.sessions() as s:
        assert claims.draft_for(s, task.id, world.users["carol"]) is None
