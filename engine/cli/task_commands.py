"""`dhr tasks`."""

from __future__ import annotations

from pathlib import Path

import click

from ..bpmn import runtime, worklist
from ..platform import users
from ..platform.db import unit_of_work
from ..platform.errors import DhrError
from ..platform.roles import Role
from .app import App, _json_out, _parse_json, _table, cli, pass_app


@cli.group()
def tasks() -> None:
    """Open user tasks."""


@tasks.command("list")
@click.option("--case", "reference", help="Only this case (Pseudonym/Year).")
@click.option("--role", help="Only tasks in this lane.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def tasks_list(app: App, reference: str | None, role: str | None, as_json: bool) -> None:
    """List open tasks, the soonest due first."""
    with app.sessions() as session:
        case_id = runtime.get_case(session, reference).id if reference else None
        lane = Role.parse(role).value if role else None  # a lane is named as its role is, case aside
        rows = [
            {"id": t.id, "case": t.case_reference, "task": t.title, "step": t.bpmn_id, "lane": t.lane, "stage": t.stage,
             "due_at": t.due_at, "overdue": t.overdue, "form": t.form, "created_at": t.created_at}
            for t in worklist.open_tasks(session, None, app.clock.now(), case_id=case_id, lane=lane)
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["id", "case", "task", "lane", "due_at"])


@tasks.command("complete")
@click.argument("task_id")
@click.option("--as", "username", required=True, help="The user completing the task.")
@click.option("--data", help="The form's answers as a JSON object, or @FILE to read them from a file. "
                             "A file field takes a data URL (data:<type>;name=<file>;base64,...) or "
                             "document:<id> of a document already on the case.")
@pass_app
def tasks_complete(app: App, task_id: str, username: str, data: str | None) -> None:
    """Complete a task with the form's answers."""
    answers = _parse_json(_read_data(data), "--data")
    with unit_of_work(app.sessions) as session:
        user = users.find_user(session, username)
        case = runtime.complete_task(session, task_id, answers, user=user, clock=app.clock)
        click.echo(f"completed; {case.reference} is {case.status}" + (f" ({case.stage})" if case.stage else ""))
        if case.stalled_at is not None:
            click.echo(f"warning: {case.reference} has STALLED: {case.stalled_reason}", err=True)


def _read_data(data: str | None) -> str | None:
    """`--data` as given, or the file `@FILE` names (an uploaded document's data URL is too long for
    a command line: one argument is at most 128 KB on Linux)."""
    if data is None or not data.startswith("@"):
        return data
    try:
        return Path(data[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DhrError(f"--data {data}: the file cannot be read ({exc.__class__.__name__})") from exc
