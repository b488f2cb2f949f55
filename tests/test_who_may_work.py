"""One rule for who may work on a task, applied by the engine, so every door refuses alike: a user
whose role is the task's lane but who may not see its case (not a member) is refused by the engine,
by the command line and by the web."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine.bpmn import claims, runtime
from engine.cli import cli
from engine.platform import access
from engine.platform.errors import NotAllowed
from engine.platform.users import add_user

from .conftest import POSTGRES_IN_SECOND_STEP, World

# the access rule's decisions; its queries run on PostgreSQL in test_read_models
pytestmark = POSTGRES_IN_SECOND_STEP


def at_the_imr(world: World) -> str:
    """Rosemary/2026 on the test diagrams, waiting for the panel's IMR; `pat` (Panel) is no member."""
    ref = world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    world.complete("decide", {"outcome": "DHR", "reason": "meets the criteria"}, "chair")
    return ref


def test_a_panel_member_of_another_case_may_not_write_this_ones_imr(world: World) -> None:
    ref = at_the_imr(world)
    imr = world.task("write_imr")
    with world.uow() as s, pytest.raises(NotAllowed) as caught:
        runtime.complete_task(s, imr.id, {"summary": "x"}, user=world.users["pat"], clock=world.clock)
    assert str(caught.value) == ("pat is not a member of case Rosemary/2026, so may not work on its tasks; "
                                 "a Community Safety Team officer can add them to the case")
    for attempt in (lambda s: claims.claim(s, imr.id, user=world.users["pat"], clock=world.clock),
                    lambda s: claims.save_draft(s, imr.id, {"summary": "x"}, user=world.users["pat"],
                                                clock=world.clock)):
        with world.uow() as s, pytest.raises(NotAllowed, match="pat is not a member of case"):
            attempt(s)
    assert world.open_names(ref) == ["write_imr"]

    world.join("pat", ref)
    world.complete("write_imr", {"summary": "received"}, "pat")
    assert "write_imr" not in world.open_names(ref)


def test_the_command_line_refuses_a_non_member_as_the_engine_does(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = at_the_imr(world)
    imr = world.task("write_imr")
    monkeypatch.setenv("DHR_DATABASE_URL", world.db.url)
    runner = CliRunner()
    refused = runner.invoke(cli, ["tasks", "complete", imr.id, "--as", "pat", "--data", '{"summary": "x"}'])
    assert refused.exit_code == 1
    assert "error: pat is not a member of case Rosemary/2026, so may not work on its tasks" in refused.output
    added = runner.invoke(cli, ["cases", "add-member", ref, "pat"])
    assert added.output == "pat (Panel) is now a member of Rosemary/2026\n"
    done = runner.invoke(cli, ["tasks", "complete", imr.id, "--as", "pat", "--data", '{"summary": "x"}'])
    assert done.exit_code == 0, done.output


def test_the_web_refuses_a_non_member_as_the_engine_does(world: World) -> None:
    from engine.platform.settings import Settings, WebSettings
    from tests.web.conftest import Web
    from webforms import create_app

    ref = at_the_imr(world)
    imr = world.task("write_imr")
    with world.uow() as s:
        user = add_user(s, "petra", role="Panel", agency="Police", password="correct-horse-battery", actor="test",
                        clock=world.clock)
        other = runtime.start_case(s, process_id="review_demo", pseudonym="Other", year=2026, data={},
                                   actor="test", clock=world.clock)
        access.add_member(s, other, user, actor="test", at=world.clock.now())
    app = create_app({"TESTING": True, "SETTINGS": Settings(database_url=world.db.url, env="test", secret_key="x" * 32),
                      "SESSIONS": world.db.sessions, "CLOCK": world.clock,
                      "WEB_SETTINGS": WebSettings(session_minutes=30, login_attempts=3, lockout_minutes=15,
                                                  upload_max_mb=10, secure_cookies=False, council_name="Test")})
    petra = Web(app, world.db, world.clock).as_user("petra")
    assert petra.get(f"/tasks/{imr.id}").status_code == 404  # a case they may not see does not exist for them
    assert petra.post(f"/tasks/{imr.id}", {"summary": "x"}).status_code == 404
    assert world.open_names(ref) == ["write_imr"]
