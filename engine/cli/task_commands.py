"""`dhr tasks`."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from ..bpmn import runtime
from ..platform import users
from ..platform.db import unit_of_work
from ..platform.models import Case, OpenTask
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
        query = select(OpenTask, Case.reference).join(Case, Case.id == OpenTask.case_id)
        if reference:
            query = query.where(OpenTask.case_id == runtime.get_case(session, reference).id)
        if role:  # a lane is named as its role is, case aside
            query = query.where(func.lower(OpenTask.lane) == Role.parse(role).value.lower())
        rows = [
            {"id": t.id, "case": ref, "task": t.title, "lane": t.lane, "stage": t.process_name,
             "due_at": t.due_at, "form": t.form, "created_at": t.created_at}
            for t, ref in session.execute(query)
        ]
    rows.sort(key=lambda r: (r["due_at"] is None, r["due_at"] or r["created_at"], r["case"]))
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["id", "case", "task", "lane", "due_at"])


@tasks.command("complete")
@click.argument("task_id")
@click.option("--as", "username", required=True, help="The user completing the task.")
@click.option("--data", help="The form's answers as a JSON object.")
@pass_app
def tasks_complete(app: App, task_id: str, username: str, data: str | None) -> None:
    """Complete a task with the form's answers."""
    answers = _parse_json(data, "--data")
    with unit_of_work(app.sessions) as session:
        user = users.find_user(session, username)
        case = runtime.complete_task(session, task_id, answers, user=user, clock=app.clock)
        click.echo(f"completed; {case.reference} is {case.status}" + (f" ({case.stage})" if case.stage else ""))
        if case.stalled_at is not None:
            click.echo(f"warning: {case.reference} has STALLED: {case.stalled_reason}", err=True)
