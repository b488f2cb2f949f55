"""`dhr audit`."""

from __future__ import annotations

import json
from typing import Any

import click

from ..bpmn import runtime
from ..platform import audit
from ..platform.errors import DhrError
from .app import App, _json_out, _when, cli, pass_app


@cli.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def audit_show(app: App, reference: str, as_json: bool) -> None:
    """Print every event of a case in order."""
    with app.sessions() as session:
        case = runtime.get_case(session, reference)
        rows: list[dict[str, Any]] = [
            {"id": e.id, "at": e.at, "actor": e.actor, "event": e.event_type, "task": e.task_name,
             "details": e.details}
            for e in audit.events_for_case(session, case.id)
        ]
    if as_json:
        _json_out(rows)
        return
    for row in rows:
        details = json.dumps(row["details"], default=str, ensure_ascii=False) if row["details"] else ""
        task = f" '{row['task']}'" if row["task"] else ""
        click.echo(f"{row['id']:>6}  {_when(row['at'])}  {row['actor']:<14} {row['event']}{task} {details}".rstrip())


@audit_group.command("verify")
@pass_app
def audit_verify(app: App) -> None:
    """Check that no audit event was changed or deleted."""
    with app.sessions() as session:
        count, problems = audit.verify(session)
    for problem in problems:
        click.echo(f"audit: {problem}", err=True)
    if problems:
        raise DhrError(f"the audit trail has been tampered with: {len(problems)} problem(s) in {count} events")
    click.echo(f"audit trail intact: {count} events")
