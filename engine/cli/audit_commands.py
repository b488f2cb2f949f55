"""`dhr audit`."""

from __future__ import annotations

import json
from typing import Any

import click

from ..bpmn import confidential, runtime
from ..platform import audit
from ..platform.errors import DhrError
from ..platform.models import AuditEvent
from ..platform.settings import dev_audit_key_warning
from .app import App, _json_out, _parse_json, _when, cli, pass_app


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
        rows: list[dict[str, Any]] = [  # a read of the case's pages has an id of the view log's own
            {"id": e.id if isinstance(e, AuditEvent) else f"view {e.id}", "at": e.at, "actor": e.actor,
             "event": e.event_type, "task": e.task_name, "details": e.details}
            for e in audit.events_for_case(session, case.id)
        ]
    if as_json:
        _json_out(rows)
        return
    for row in rows:
        details = json.dumps(audit.readable(row["details"]), default=str, ensure_ascii=False) if row["details"] else ""
        task = f" '{row['task']}'" if row["task"] else ""
        click.echo(f"{row['id']:>6}  {_when(row['at'])}  {row['actor']:<14} {row['event']}{task} {details}".rstrip())


@audit_group.command("verify")
@click.option("--anchor", "anchor_text", metavar="ID:HASH",
              help="An anchor printed earlier by 'dhr audit anchor': also prove nothing up to it changed.")
@pass_app
def audit_verify(app: App, anchor_text: str | None) -> None:
    """Check that no audit event was changed or deleted (and, with --anchor, re-written under the key)."""
    anchor = audit.Anchor.parse(anchor_text) if anchor_text else None
    _warn_of_dev_key()
    with app.sessions() as session:
        count, problems = audit.verify(session, anchor=anchor)
        resealed = audit.resealed_over(session)
    for problem in problems[:SHOWN]:
        click.echo(f"audit: {problem}", err=True)
    if len(problems) > SHOWN:
        click.echo(f"audit: ... and {len(problems) - SHOWN} more", err=True)
    if count and sum(p.message == audit.EDITED and p.what == "event" for p in problems) == count:
        click.echo("audit: no event matches under this DHR_AUDIT_KEY: either it is not the key the trail was "
                   "sealed with, or every event was re-written", err=True)
    for event in resealed:
        click.echo(f"audit: note: event {event.id} re-sealed the trail over problems found in it then: "
                   f"{'; '.join(event.details['problems_found'])}", err=True)
    if problems:
        raise DhrError(f"the audit trail has been tampered with: {len(problems)} problem(s) in {count} events")
    anchored = f", unchanged up to anchored event {anchor.event_id}" if anchor else ""
    click.echo(f"audit trail intact: {count} events{anchored}")


SHOWN = 20  # problems listed one by one; a wrong key would list every event


def _warn_of_dev_key() -> None:
    warning = dev_audit_key_warning()
    if warning:
        click.echo(warning, err=True)


@audit_group.command("seal")
@pass_app
def audit_seal(app: App) -> None:
    """Seal the case views logged since the last seal into the chain (run it from cron, say; a write
    to the trail also seals those that waited over a minute)."""
    total = audit.seal_all_views(app.sessions, at=app.clock.now(), actor="dhr audit seal")
    click.echo(f"sealed {total} case view(s) into the audit trail")


@audit_group.command("anchor")
@pass_app
def audit_anchor(app: App) -> None:
    """Verify the trail and print its newest event as ID:HASH, to keep somewhere the database's
    administrators cannot change (a ticket, a signed e-mail, another system's log)."""
    _warn_of_dev_key()
    with app.sessions() as session:
        count, problems = audit.verify(session)
        head = audit.head(session)
    if problems:
        raise DhrError(f"the audit trail has {len(problems)} problem(s) ('dhr audit verify' lists them): an anchor "
                       "of it would prove nothing")
    if head is None:
        raise DhrError("the audit trail is empty: there is nothing to anchor yet")
    click.echo(str(head))
    click.echo(f"(the newest of {count} events; prove later that nothing up to it changed with "
               f"'dhr audit verify --anchor {head}')", err=True)


@audit_group.command("confirm")
@click.argument("event_id", type=int)
@click.argument("field")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="Read VALUE as JSON (a number, a list...), not as text.")
@pass_app
def audit_confirm(app: App, event_id: int, field: str, value: str, as_json: bool) -> None:
    """Confirm that an event's confidential FIELD held VALUE (exit 1 if not), from its keyed hash.

    FIELD is the field's path in its form: 'victim_name', or 'family_key_contacts.*.name' for a field of
    the items of a list. Needs the DHR_AUDIT_KEY the event was sealed with.
    """
    given = _parse_json(value, "VALUE") if as_json else value
    with app.sessions() as session:
        event = session.get(AuditEvent, event_id)
        if event is None:
            raise DhrError(f"there is no audit event {event_id}")
        found = confidential.confirms(event, field, given)
    if found is None:
        raise DhrError(f"event {event_id} keeps no confidential value of '{field}'")
    if not found:
        raise DhrError(f"no: the value given is not what event {event_id} sealed as '{field}'")
    click.echo(f"yes: event {event_id} sealed '{field}' with the value given")
