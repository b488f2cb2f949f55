"""Every rule in the engine, refused alike at every door: roles (one definition, one way to compare
them), the password rule, days in the future (London's day), report periods, disabling yourself,
and an action holder giving the update on another agency's recommendation. The engine raises;
the command line shows one line per problem and exits with the error's own code (the web's half is
tests/web/test_rules.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from engine.bpmn import claims, runtime
from engine.cli import cli
from engine.platform import access
from engine.platform.errors import EXIT_SETTINGS, EXIT_TRY_AGAIN, FormDataInvalid, NotAllowed
from engine.platform.models import User
from engine.platform.roles import POWERS, Power, Role, in_lane, may
from engine.platform.users import add_user
from engine.review import costs, meetings, register, reporting

from . import seed_001
from .conftest import POSTGRES_IN_SECOND_STEP, World

# rules checked in Python before anything is written
pytestmark = POSTGRES_IN_SECOND_STEP

PLAN_AGREED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
APPROVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the update requests go out with the approval
ROLE_LIST = ", ".join(r.value for r in Role)


@pytest.fixture
def dhr_cli(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`dhr` on the world's database and clock (the simulated clock, set to the world's)."""
    monkeypatch.setenv("DHR_DATABASE_URL", world.db.url)
    monkeypatch.setenv("DHR_CLOCK", "simulated")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        runner.invoke(cli, ["clock", "set", world.clock.now().isoformat()])
        return runner.invoke(cli, list(args), input=input)

    return run


# -- roles ------------------------------------------------------------------------------------

def test_a_role_is_named_one_way_however_it_is_typed() -> None:
    assert Role.named("csp  CHAIR ") is Role.CSP_CHAIR and Role.named("Process owner") is Role.PROCESS_OWNER
    assert Role.named("Not A Role") is None and Role.named("") is None
    assert Role.problem("Not A Role") == f"'Not A Role' is not a role; choose one of: {ROLE_LIST}"
    with pytest.raises(FormDataInvalid) as raised:
        Role.parse("Chair")
    assert list(raised.value.errors) == ["role"]


def test_what_each_role_may_do_is_said_once() -> None:
    assert set(POWERS) == set(Role)
    sees_all = {r for r in Role if Power.SEE_ALL_CASES in r.powers}
    assert sees_all == {Role.COMMUNITY_SAFETY_TEAM, Role.CSP_CHAIR, Role.STEERING_GROUP, Role.PROCESS_OWNER,
                        Role.AUDITOR}
    assert {r for r in Role if Power.MANAGE_USERS in r.powers} == {Role.ADMINISTRATOR}
    assert {r for r in Role if Power.DEPLOY_DIAGRAMS in r.powers} == {Role.PROCESS_OWNER}
    stored_oddly = User(username="x", role="community safety TEAM", active=True)
    assert may(stored_oddly, Power.RECORD_COSTS) and in_lane(stored_oddly, "Community Safety Team")
    assert not may(User(username="y", role="Community Safety Team", active=False), Power.RECORD_COSTS)
    assert not may(User(username="z", role="Wizard", active=True), Power.SEE_ALL_CASES)
    assert not in_lane(User(username="z", role="Wizard", active=True), "Wizard")  # a lane must be a role


def test_an_unknown_role_is_refused_by_the_engine_with_the_roles_there_are(world: World) -> None:
    with world.uow() as s, pytest.raises(FormDataInvalid) as raised:
        add_user(s, "newcomer", role="Not A Role", agency=None, password=None, actor="test", clock=world.clock)
    assert raised.value.errors == {"role": f"'Not A Role' is not a role; choose one of: {ROLE_LIST}"}
    with world.uow() as s:
        kept = add_user(s, "newcomer", role="csp chair", agency=None, password=None, actor="test", clock=world.clock)
        assert kept.role == "CSP Chair"  # stored as the role's own name


def test_every_problem_of_a_new_user_at_once(world: World) -> None:
    with world.uow() as s, pytest.raises(FormDataInvalid) as raised:
        add_user(s, " ", role="", agency=None, password="short", email="nobody", actor="test", clock=world.clock)
    assert raised.value.errors == {
        "username": "Enter a user name", "role": f"Select a role (one of: {ROLE_LIST})",
        "password": "Enter a password of at least 10 characters", "email": "'nobody' is not an e-mail address"}
    with world.db.sessions() as s:
        assert s.scalars(select(User).where(User.username == "")).first() is None


def test_the_command_line_refuses_what_the_web_refuses_about_users(world: World, dhr_cli: Any) -> None:
    unknown = dhr_cli("users", "add", "newcomer", "--role", "Not A Role")
    assert unknown.exit_code == 1
    assert unknown.output == f"error: --role: 'Not A Role' is not a role; choose one of: {ROLE_LIST}\n"
    short = dhr_cli("users", "add", "newcomer", "--role", "Panel", "--password-stdin", input="short\n")
    assert (short.exit_code, short.output) == (1, "error: password: Enter a password of at least 10 characters\n")
    both = dhr_cli("users", "add", "carol", "--role", "Wizard", "--password-stdin", input="\n")
    assert both.exit_code == 1 and both.output.splitlines() == [
        "error: USERNAME: There is already a user called 'carol'",
        f"error: --role: 'Wizard' is not a role; choose one of: {ROLE_LIST}",
        "error: password: Enter a password of at least 10 characters"]
    added = dhr_cli("users", "add", "newcomer", "--role", "csp chair")
    assert (added.exit_code, added.output) == (0, "added newcomer (CSP Chair)\n")
    listing = dhr_cli("tasks", "list", "--role", "Chair")
    assert listing.exit_code == 1 and "error: --role: 'Chair' is not a role" in listing.output


def test_nobody_disables_themselves_or_changes_their_own_role(world: World) -> None:
    world.user("root", "Administrator")
    world.user("other", "Administrator")
    for change, field, message in (({"active": False}, "active", "You cannot disable yourself"),
                                   ({"role": "Auditor"}, "role", "You cannot change your own role")):
        with world.uow() as s, pytest.raises(FormDataInvalid) as raised:
            root = s.get(User, world.users["root"].id)
            assert root is not None
            access.change_user(s, root, **{"role": "Administrator", "agency": None, "active": True, **change},
                               actor="root", at=world.clock.now())
        assert raised.value.errors == {field: message}
    with world.uow() as s:  # another administrator may; a role typed in another case is the same role
        root = s.get(User, world.users["root"].id)
        assert root is not None
        access.change_user(s, root, role="administrator", agency="Council", active=True, actor="root",
                           at=world.clock.now())
        access.change_user(s, root, role="Auditor", agency=None, active=False, actor="other", at=world.clock.now())
    with world.db.sessions() as s:
        root = s.get(User, world.users["root"].id)
        assert root is not None and (root.role, root.active) == ("Auditor", False)
    with world.uow() as s, pytest.raises(FormDataInvalid, match="'Boss' is not a role"):
        access.change_user(s, s.get(User, world.users["other"].id), role="Boss", agency=None,  # type: ignore
                           active=True, actor="root", at=world.clock.now())


# -- days and periods -------------------------------------------------------------------------

# 23:30 UTC on 31 March 2026 is 00:30 on 1 April in London (BST): London's day is 1 April.
LATE = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)


def test_a_meeting_is_recorded_on_or_before_londons_today(world: World) -> None:
    present = "A, Police\nB, Council\nC, NHS\nD, Probation"
    with world.uow() as s:
        meeting = meetings.record_meeting(s, held_on=date(2026, 4, 1), attendees=present, decisions="",
                                          report_from=None, report_to=None, actor="carol", at=LATE)
        assert meeting.quorate
    with world.uow() as s, pytest.raises(FormDataInvalid) as raised:
        meetings.record_meeting(s, held_on=date(2026, 4, 2), attendees="Just a name", decisions="",
                                report_from=date(2026, 3, 1), report_to=date(2026, 4, 2), actor="carol", at=LATE)
    assert raised.value.errors == {  # every problem at once
        "held_on": "Date of the meeting must be today or in the past",
        "report_to": "The last day of the report tabled must be today or in the past",
        "attendees": "Line 1 must be 'Name, Organisation'"}
    for period, problem in (((date(2026, 3, 1), None), {"report_to": "Give both days of the report's period, "
                                                                      "or neither"}),
                            ((date(2026, 3, 2), date(2026, 3, 1)), {"report_to": "The report's period must end on "
                                                                                 "or after the day it starts"})):
        with world.uow() as s, pytest.raises(FormDataInvalid) as raised:
            meetings.record_meeting(s, held_on=date(2026, 4, 1), attendees=present, decisions="",
                                    report_from=period[0], report_to=period[1], actor="carol", at=LATE)
        assert raised.value.errors == problem


def test_a_cost_is_paid_on_or_before_londons_today(world: World) -> None:
    reference = world.start(year=2026)
    with world.uow() as s:
        case = runtime.get_case(s, reference)
        costs.add_cost(s, case, category="Other", description="", amount="10", incurred_on=date(2026, 4, 1),
                       actor="carol", at=LATE)
        with pytest.raises(FormDataInvalid) as raised:
            costs.add_cost(s, case, category="Lunch", description="", amount="ten", incurred_on=date(2026, 4, 2),
                           actor="carol", at=LATE)
    assert raised.value.errors == {"incurred_on": "Date of the invoice or payment must be today or in the past",
                                   "category": "Choose what the cost is for",
                                   "amount": "The amount must be in pounds, like 1250 or 1,250.50"}


def test_a_report_period_ends_today_or_earlier_at_every_door(world: World, dhr_cli: Any) -> None:
    today = date(2026, 8, 31)  # the world's clock, in London
    with world.db.sessions() as s:
        assert reporting.steering_report(s, date(2026, 4, 1), today, today=today).end == today
        for end, message in ((today + timedelta(days=1), "The period must end today or earlier"),
                             (date(2026, 3, 31), "The period must end on or after the day it starts")):
            with pytest.raises(FormDataInvalid) as raised:
                reporting.steering_report(s, date(2026, 4, 1), end, today=today)
            assert raised.value.errors == {"end": message}
    ahead = dhr_cli("report", "steering-group", "--from", "2026-04-01", "--to", "2026-09-01")
    assert (ahead.exit_code, ahead.output) == (1, "error: --to: The period must end today or earlier\n")
    assert dhr_cli("report", "steering-group", "--from", "2026-04-01", "--to", "2026-08-31").exit_code == 0


def test_a_case_is_of_this_year_or_an_earlier_one(world: World, dhr_cli: Any) -> None:
    with world.uow() as s, pytest.raises(FormDataInvalid) as raised:
        runtime.start_case(s, process_id="review_demo", pseudonym="Later", year=2027, data={}, actor="test",
                           clock=world.clock)
    assert raised.value.errors == {"year": "The year must be 2026 or earlier"}
    refused = dhr_cli("cases", "start", "--process", "review_demo", "--pseudonym", "a/b", "--year", "1900")
    assert refused.exit_code == 1 and refused.output.splitlines() == [
        "error: --pseudonym: The pseudonym must be 1 to 100 characters without '/'",
        "error: --year: The year 1900 is not a plausible year"]


# -- the update on another agency's recommendation --------------------------------------------

def asked(world: World) -> tuple[str, dict[str, str]]:
    """A review (the register fixture) whose two recommendations, one for Kent Police and one for
    Medway Council, are asked for an update; return it and each agency's update task id."""
    seed_001.deploy(world)
    world.clock.set(PLAN_AGREED - timedelta(days=1))
    reference = world.start("Ash", 2025, process="review_fixture")
    world.complete("decide", {"review_type": "DHR", "decision_date": "2025-05-01"}, "carol", reference)
    world.clock.set(PLAN_AGREED)
    items = [seed_001.item(seed_001.Planned(agency, "Risk Assessment", register.AWAITING), n)
             for n, agency in enumerate(("Kent Police", "Medway Council"), start=1)]
    world.complete("agree_action_plan", {"recommendations": items, "action_plan_agreed_on": "2026-01-05"}, "carol",
                   reference)
    world.clock.set(APPROVED)
    world.complete("approve", {"report_approved_on": "2026-03-02"}, "carol", reference)
    tasks: dict[str, str] = {}
    with world.db.sessions() as s:
        for task in world.tasks(reference):
            rec = register.asked_by(s, task)
            if rec is not None:
                tasks[rec.lead_agency] = task.id
    assert sorted(tasks) == ["Kent Police", "Medway Council"]
    world.user("kent", "Action Holder", agency="kent  police")  # typed another way: the same agency
    world.user("medway", "Action Holder", agency="Medway Council")
    world.user("nobody", "Action Holder")
    for name in ("kent", "medway", "nobody"):
        world.join(name, reference)
    return reference, tasks


UPDATE = {"action_status": "Completed", "progress_update": "Done", "update_date": "2026-03-02"}
REFUSAL = ("Ash/2025 R2 is Medway Council's recommendation: only an action holder of Medway Council may give its "
           "update, and kent works for kent  police")


def test_an_action_holder_may_not_update_another_agencys_recommendation(world: World) -> None:
    reference, tasks = asked(world)
    medway_task = tasks["Medway Council"]
    with world.uow() as s, pytest.raises(NotAllowed) as refused:
        runtime.complete_task(s, medway_task, UPDATE, user=world.users["kent"], clock=world.clock)
    assert str(refused.value) == REFUSAL
    for attempt in (lambda s: claims.claim(s, medway_task, user=world.users["kent"], clock=world.clock),
                    lambda s: claims.save_draft(s, medway_task, {}, user=world.users["kent"], clock=world.clock)):
        with world.uow() as s, pytest.raises(NotAllowed, match="only an action holder of Medway Council"):
            attempt(s)
    with world.uow() as s, pytest.raises(NotAllowed, match="and nobody has no agency"):
        runtime.complete_task(s, medway_task, UPDATE, user=world.users["nobody"], clock=world.clock)
    with world.uow() as s:
        runtime.complete_task(s, tasks["Kent Police"], UPDATE, user=world.users["kent"], clock=world.clock)
        runtime.complete_task(s, medway_task, UPDATE, user=world.users["medway"], clock=world.clock)
    with world.db.sessions() as s:
        recs = register.find(s, register.Filters(case=reference), today=date(2026, 3, 2))
        assert [(r.lead_agency, r.status, r.events[-1].actor) for r in recs] == [
            ("Kent Police", register.COMPLETED, "kent"), ("Medway Council", register.COMPLETED, "medway")]


def test_the_command_line_refuses_another_agencys_update_as_the_engine_does(world: World, dhr_cli: Any) -> None:
    _, tasks = asked(world)
    refused = dhr_cli("tasks", "complete", tasks["Medway Council"], "--as", "kent", "--data", '{"x": 1}')
    assert (refused.exit_code, refused.output) == (1, f"error: {REFUSAL}\n")  # refused before the form is read
    done = dhr_cli("tasks", "complete", tasks["Medway Council"], "--as", "medway", "--data", json.dumps(UPDATE))
    assert done.exit_code == 0, done.output
    again = dhr_cli("tasks", "complete", tasks["Medway Council"], "--as", "medway", "--data", json.dumps(UPDATE))
    assert again.exit_code == EXIT_TRY_AGAIN and "was already completed by medway" in again.output


def test_a_missing_object_is_said_plainly_at_the_command_line(world: World, dhr_cli: Any) -> None:
    missing = dhr_cli("cases", "add-member", "Nope/2026", "carol")
    assert (missing.exit_code, missing.output) == (1, "error: there is no case 'Nope/2026'\n")


def test_each_error_says_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_DATABASE_URL", "nope")
    result = CliRunner().invoke(cli, ["cases", "list"])
    assert (result.exit_code, result.output) == (EXIT_SETTINGS, "error: DHR_DATABASE_URL is not a database URL: "
                                                                "'nope'\n")
