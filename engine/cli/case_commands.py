"""`dhr cases`."""

from __future__ import annotations

from datetime import datetime

import click

from ..bpmn import migration, runtime
from ..platform import access, users
from ..platform.clock import as_utc
from ..platform.db import unit_of_work
from ..platform.errors import DhrError
from ..review import pages
from .app import CLI_ACTOR, App, _json_out, _parse_json, _table, _when, cli, pass_app


@cli.group()
def cases() -> None:
    """Reviews."""


@cases.command("start")
@click.option("--process", "process_id", required=True, help="Id of the top-level BPMN process.")
@click.option("--pseudonym", required=True, help="The pseudonym agreed with the family.")
@click.option("--year", required=True, type=int)
@click.option("--data", help="Initial case data as a JSON object.")
@click.option("--as", "username", help="The person starting it (who must be allowed to, as on the web page).")
@pass_app
def cases_start(app: App, process_id: str, pseudonym: str, year: int, data: str | None, username: str | None) -> None:
    """Start a case on the newest version of a process."""
    initial = _parse_json(data, "--data")
    if not isinstance(initial, dict):
        raise DhrError("--data must be a JSON object")
    with unit_of_work(app.sessions) as session:
        actor = users.find_user(session, username) if username else CLI_ACTOR
        case = runtime.start_case(session, process_id=process_id, pseudonym=pseudonym, year=year, data=initial,
                                  actor=actor, clock=app.clock)
        click.echo(f"started {case.reference} on version {case.version_id}")


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def cases_list(app: App, as_json: bool) -> None:
    """List cases with their stage, open tasks and next timer."""
    with app.sessions() as session:
        rows = [
            {"reference": c.reference, "status": "STALLED" if c.stalled else c.status,
             "stage": c.stage, "version": c.version_id,
             "open_tasks": len(c.tasks), "next_timer": c.next_timer,
             "stuck_timers": c.stuck_timers, "started_at": c.started_at,
             "stalled_since": _aware(c.stalled_at)}
            for c in pages.case_list(session, None, app.clock.now(), oldest_first=True)
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["reference", "status", "stage", "version", "open_tasks", "next_timer", "stuck_timers",
                      "started_at"])


@cases.command("add-member")
@click.argument("reference")
@click.argument("username")
@pass_app
def cases_add_member(app: App, reference: str, username: str) -> None:
    """Let a user who sees only their own cases (panel, family liaison, action holder...) work on this one."""
    with unit_of_work(app.sessions) as session:
        case = runtime.get_case(session, reference)
        user = users.find_user(session, username)
        access.add_member(session, case, user, actor=CLI_ACTOR, at=app.clock.now())
        click.echo(f"{user.username} ({user.role}) is now a member of {case.reference}")


@cases.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def cases_check(app: App, as_json: bool) -> None:
    """List stalled cases (open, with nothing a person, a timer or a message can do); exit 1 if any."""
    with app.sessions() as session:
        rows = [{"reference": c.reference, "stage": c.stage, "version": c.version_id,
                 "stalled_since": _aware(c.stalled_at), "reason": c.stalled_reason}
                for c in runtime.stalled_cases(session)]
    if as_json:
        _json_out(rows)
    elif not rows:
        click.echo("no case is stalled")
    for case in [] if as_json else rows:
        since = case["stalled_since"]
        click.echo(f"STALLED {case['reference']} (stage {case['stage'] or '-'}, version {case['version']}, "
                   f"since {_when(since if isinstance(since, datetime) else None)}): {case['reason']}")
    if rows:
        raise SystemExit(1)


@cases.command("retry")
@click.argument("reference")
@click.option("--as", "username", required=True, help="A process owner.")
@click.option("--newest", is_flag=True, help="Move the case onto the newest deployed version of its process first.")
@pass_app
def cases_retry(app: App, reference: str, username: str, newest: bool) -> None:
    """Run a case's engine steps again (after fixing and deploying its diagram, with --newest)."""
    with unit_of_work(app.sessions) as session:
        case = runtime.retry_case(session, reference, user=users.find_user(session, username), clock=app.clock,
                                  newest=newest)
        verdict = f"still stalled: {case.stalled_reason}" if case.stalled_at else "it can move on"
        click.echo(f"retried {case.reference} on version {case.version_id}; {verdict}")


@cases.command("migrate")
@click.argument("reference")
@click.option("--to", "to_version", required=True, type=int, help="The deployed version to move the case onto.")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option("--as", "username", help="The process owner moving it (who must be allowed to, as on the web page).")
@pass_app
def cases_migrate(app: App, reference: str, to_version: int, dry_run: bool, username: str | None) -> None:
    """Move a running case onto another version of its process; its waiting timers keep their due times."""
    with unit_of_work(app.sessions) as session:
        actor = users.find_user(session, username) if username else CLI_ACTOR
        plan = migration.migrate(session, reference, to_version, actor=actor, clock=app.clock, dry_run=dry_run)
        for line in plan_lines(plan):
            click.echo(line)
    if plan.refusal:
        click.echo(f"refused: {plan.refusal}", err=True)
        raise SystemExit(1)
    click.echo("dry run: nothing was changed" if dry_run else
               f"moved {plan.reference} from version {plan.from_version} to version {plan.to_version}")


def plan_lines(plan: migration.Plan) -> list[str]:
    """A migration's preview, one line per change."""
    lines = [f"{plan.reference}: version {plan.from_version} -> version {plan.to_version}"]
    for title in plan.tasks_opened:
        lines.append(f"  task opens: {title}")
    for title in plan.tasks_withdrawn:
        lines.append(f"  task withdrawn: {title}")
    for t in plan.timers_kept:
        lines.append(f"  timer kept: {t.title}, due {_when(t.due_at)}")
    for t in plan.timers_moved:
        lines.append(f"  timer moved: {t.title}, due {_when(t.was_due_at)} -> {_when(t.due_at)}")
    for t in plan.timers_set:
        lines.append(f"  timer set: {t.title}, due {_when(t.due_at)}")
    for t in plan.timers_cancelled:
        lines.append(f"  timer cancelled: {t.title} (was due {_when(t.due_at)})")
    if plan.deadline[0] != plan.deadline[1]:
        lines.append(f"  case deadline: {plan.deadline[0] or '-'} -> {plan.deadline[1] or '-'}")
    for step in plan.removed_steps:
        lines.append(f"  step no longer in the diagram: {step}")
    for step in plan.added_steps:
        lines.append(f"  new step in the diagram: {step}")
    for step in plan.changed_steps:
        lines.append(f"  step changed: {step}")
    return lines


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None
