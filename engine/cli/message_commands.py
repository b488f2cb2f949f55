"""`dhr messages`."""

from __future__ import annotations

import click

from ..bpmn import runtime
from ..platform.db import unit_of_work
from .app import CLI_ACTOR, App, _parse_json, cli, pass_app


@cli.group()
def messages() -> None:
    """Messages from outside (an agency's answer, a report arriving)."""


@messages.command("send")
@click.argument("reference")
@click.argument("name")
@click.option("--data", help="The message's payload as JSON.")
@pass_app
def messages_send(app: App, reference: str, name: str, data: str | None) -> None:
    """Deliver a message to a case."""
    payload = _parse_json(data, "--data")
    with unit_of_work(app.sessions) as session:
        case = runtime.send_message(session, reference, name, payload, actor=CLI_ACTOR, clock=app.clock)
        click.echo(f"delivered '{name}' to {case.reference}")
